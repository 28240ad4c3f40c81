"""Taking recordings in: sealed, verified, clear copies removed, retention from the policy."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from recordings_policy.errors import RecordingCorrupt, RecordingError
from recordings_policy.parts import RecordingParts
from recordings_policy.vault import unwrap_key
from settings import Settings
from store.base import utcnow
from store.records import Recording
from tests.integration.recordings_policy.recording_helpers import (
    CallFactory,
    audit_trail,
    clear_audio_on_disk,
    write_wav,
)


def test_a_sip_recording_is_sealed_and_no_clear_audio_is_left_in_the_data_dir(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
) -> None:
    source = settings.data_dir / "spool" / "bridge-0001.wav"
    clear = write_wav(source, seconds=8)
    assert clear_audio_on_disk(settings.data_dir) == [source]

    recording_id = parts.archive.store_local_file(make_call(), source, utcnow())

    assert not source.exists()
    assert clear_audio_on_disk(settings.data_dir) == []
    with db_sessions() as db:
        row = db.get(Recording, recording_id)
        assert row is not None and row.storage_ref is not None and row.wrapped_key is not None
        assert row.sha256 == hashlib.sha256(clear).hexdigest()
        assert row.size_bytes == len(clear)
        assert row.source == "sip"
        assert row.master_key_id == parts.keys.current_id
    sealed = list((settings.data_dir / "recordings" / "sealed").rglob("*.sealed"))
    assert len(sealed) == 1 and row.storage_ref in sealed[0].name
    assert [e.action for e in audit_trail(db_sessions, recording_id)] == ["recording_stored"]


def test_each_recording_has_its_own_key(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
) -> None:
    ids = []
    for name in ("a.wav", "b.wav"):
        write_wav(settings.data_dir / "spool" / name, seconds=1)
        ids.append(
            parts.archive.store_local_file(
                make_call(), settings.data_dir / "spool" / name, utcnow()
            )
        )
    with db_sessions() as db:
        keys = [
            unwrap_key(row.wrapped_key or "", parts.keys.current, row.id)
            for row in (db.get(Recording, i) for i in ids)
            if row is not None
        ]
    assert len(set(keys)) == 2


@pytest.mark.parametrize(
    ("jurisdiction", "direction", "line_days", "expected_days"),
    [
        ("ES", "inbound", None, 90),
        ("ES", "alarm", None, 180),
        ("ES", "inbound", 30, 30),
        ("PE", "alarm", 365, 365),
    ],
)
def test_retention_comes_from_the_line_override_or_else_the_policy(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
    jurisdiction: str,
    direction: str,
    line_days: int | None,
    expected_days: int,
) -> None:
    source = settings.data_dir / "spool" / "r.wav"
    write_wav(source, seconds=0.5)
    now = utcnow()
    call_id = make_call(jurisdiction=jurisdiction, direction=direction, retention_days=line_days)
    recording_id = parts.archive.store_local_file(call_id, source, now)
    with db_sessions() as db:
        row = db.get(Recording, recording_id)
        assert row is not None
        assert row.delete_after - row.created_at == timedelta(days=expected_days)


def test_when_sealing_fails_the_clear_file_is_kept_and_nothing_is_half_stored(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = settings.data_dir / "spool" / "r.wav"
    write_wav(source, seconds=1)

    def failing_open(ref: str) -> object:
        raise RecordingCorrupt("disk returned garbage")

    monkeypatch.setattr(parts.archive.storage, "open", failing_open)
    with pytest.raises(RecordingCorrupt):
        parts.archive.store_local_file(make_call(), source, utcnow())
    assert source.exists()
    assert list((settings.data_dir / "recordings" / "sealed").rglob("*.sealed")) == []


def test_a_recording_of_an_unknown_call_is_refused_and_its_sealed_copy_removed(
    parts: RecordingParts, settings: Settings
) -> None:
    source = settings.data_dir / "spool" / "r.wav"
    write_wav(source, seconds=1)
    with pytest.raises(RecordingError, match="unknown"):
        parts.archive.store_local_file("f" * 32, source, utcnow())
    assert source.exists()
    assert list((settings.data_dir / "recordings" / "sealed").rglob("*.sealed")) == []


def test_staging_and_sealed_directories_are_private(
    parts: RecordingParts, settings: Settings
) -> None:
    for directory in ("recordings", "recordings/sealed", "recordings/incoming"):
        assert (Path(settings.data_dir) / directory).stat().st_mode & 0o077 == 0
