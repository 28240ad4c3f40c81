"""Master-key rotation re-wraps recording keys without touching the audio."""

from __future__ import annotations

import hashlib
import os

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from recordings_policy.access import RecordingAccess
from recordings_policy.errors import UnknownMasterKey
from recordings_policy.rotation import rewrap_all
from recordings_policy.services import RecordingArchive
from recordings_policy.vault import MasterKeys
from settings import Settings
from store.base import utcnow
from store.crypto import key_id_of
from store.records import AuditEntry, Recording
from tests.integration.recordings_policy.recording_helpers import CallFactory, write_wav

REASON = "Playback check after key rotation"


def _sealed_file_digest(archive: RecordingArchive, ref: str) -> str:
    with archive.storage.open(ref) as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_rewrap_then_playback_with_only_the_new_master_key(
    make_call: CallFactory, settings: Settings, db_sessions: sessionmaker[Session]
) -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = RecordingArchive.under(settings.data_dir, db_sessions, MasterKeys(current=old))
    clears, ids = [], []
    for n in range(3):
        source = settings.data_dir / "spool" / f"{n}.wav"
        clears.append(write_wav(source, seconds=2 + n))
        ids.append(before.store_local_file(make_call(), source, utcnow()))
    with db_sessions() as db:
        refs = {i: db.get(Recording, i).storage_ref for i in ids}  # type: ignore[union-attr]
    sealed_before = {i: _sealed_file_digest(before, ref or "") for i, ref in refs.items()}

    report = rewrap_all(db_sessions, MasterKeys(current=new, previous=(old,)))

    assert report.rewrapped >= 3 and set(ids).isdisjoint(report.unreadable)
    after_only_new = RecordingAccess(db_sessions, before.storage, MasterKeys(current=new))
    for recording_id, clear in zip(ids, clears, strict=True):
        with db_sessions() as db:
            row = db.get(Recording, recording_id)
            assert row is not None and row.master_key_id == key_id_of(new)
            assert row.storage_ref == refs[recording_id]
        assert _sealed_file_digest(before, refs[recording_id] or "") == sealed_before[recording_id]
        playback = after_only_new.stream_for(
            recording_id, actor_id="adm-1", role="admin", reason=REASON
        )
        assert b"".join(playback.chunks) == clear

    only_old = RecordingAccess(db_sessions, before.storage, MasterKeys(current=old))
    with pytest.raises(UnknownMasterKey):
        only_old.stream_for(ids[0], actor_id="adm-1", role="admin", reason=REASON)

    again = rewrap_all(db_sessions, MasterKeys(current=new, previous=(old,)))
    assert again.rewrapped == 0 and again.already_current >= 3
    with db_sessions() as db:
        entries = db.scalars(
            select(AuditEntry).where(AuditEntry.action == "recording_keys_rewrapped")
        ).all()
    assert entries[-1].detail["master_key_id"] == key_id_of(new)


def test_recordings_under_an_unconfigured_master_key_are_reported_not_lost(
    make_call: CallFactory, settings: Settings, db_sessions: sessionmaker[Session]
) -> None:
    lost, new = os.urandom(32), os.urandom(32)
    archive = RecordingArchive.under(settings.data_dir, db_sessions, MasterKeys(current=lost))
    source = settings.data_dir / "spool" / "x.wav"
    write_wav(source, seconds=1)
    recording_id = archive.store_local_file(make_call(), source, utcnow())
    with db_sessions() as db:
        wrapped_before = db.get(Recording, recording_id).wrapped_key  # type: ignore[union-attr]

    report = rewrap_all(db_sessions, MasterKeys(current=new))

    assert recording_id in report.unreadable
    with db_sessions() as db:
        row = db.get(Recording, recording_id)
        assert row is not None and row.wrapped_key == wrapped_before
        assert row.master_key_id == key_id_of(lost)
