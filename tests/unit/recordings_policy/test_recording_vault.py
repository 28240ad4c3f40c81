"""Sealing recordings: chunked AES-GCM with per-recording keys wrapped by the master key."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recordings_policy.errors import RecordingCorrupt, UnknownMasterKey
from recordings_policy.storage import FileStorage
from recordings_policy.vault import (
    CHUNK_SIZE,
    HEADER_SIZE,
    TAG_SIZE,
    MasterKeys,
    new_recording_key,
    open_sealed,
    seal,
    unwrap_key,
    wrap_key,
)
from store.crypto import key_id_of

RID = "0123456789abcdef0123456789abcdef"


def _seal(key: bytes, clear: bytes, recording_id: str = RID) -> bytes:
    return b"".join(seal(key, recording_id, io.BytesIO(clear)))


def _open(key: bytes, sealed: bytes, recording_id: str = RID) -> bytes:
    return b"".join(open_sealed(key, recording_id, io.BytesIO(sealed)))


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 200_000]
)
def test_sealed_audio_opens_to_the_same_bytes_at_every_chunk_boundary(size: int) -> None:
    key, clear = new_recording_key(), os.urandom(size)
    sealed = _seal(key, clear)
    chunks = max(1, -(-size // CHUNK_SIZE))
    assert len(sealed) == HEADER_SIZE + size + chunks * TAG_SIZE
    assert _open(key, sealed) == clear


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3 * 1024))
def test_any_audio_round_trips(clear: bytes) -> None:
    key = new_recording_key()
    assert _open(key, _seal(key, clear)) == clear


def test_sealing_the_same_audio_twice_gives_different_files() -> None:
    key, clear = new_recording_key(), b"RIFF" + os.urandom(1000)
    assert _seal(key, clear) != _seal(key, clear)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[:-1], id="cut_inside_the_last_chunk"),
        pytest.param(lambda b: b[: HEADER_SIZE + CHUNK_SIZE + TAG_SIZE], id="cut_at_a_chunk_edge"),
        pytest.param(lambda b: b[:HEADER_SIZE], id="header_only"),
        pytest.param(lambda b: b[:10], id="short_header"),
        pytest.param(lambda b: b + b[HEADER_SIZE : HEADER_SIZE + 40], id="appended"),
        pytest.param(
            lambda b: b[: HEADER_SIZE + 5] + bytes([b[HEADER_SIZE + 5] ^ 1]) + b[HEADER_SIZE + 6 :],
            id="flipped_bit",
        ),
        pytest.param(lambda b: b"XXXXXX" + b[6:], id="bad_magic"),
        pytest.param(
            lambda b: (
                b[:HEADER_SIZE]
                + b[HEADER_SIZE + CHUNK_SIZE + TAG_SIZE : HEADER_SIZE + 2 * (CHUNK_SIZE + TAG_SIZE)]
                + b[HEADER_SIZE : HEADER_SIZE + CHUNK_SIZE + TAG_SIZE]
                + b[HEADER_SIZE + 2 * (CHUNK_SIZE + TAG_SIZE) :]
            ),
            id="chunks_swapped",
        ),
    ],
)
def test_altered_or_truncated_recordings_never_open(damage: object) -> None:
    key = new_recording_key()
    sealed = _seal(key, os.urandom(2 * CHUNK_SIZE + 100))
    with pytest.raises(RecordingCorrupt):
        _open(key, damage(sealed))  # type: ignore[operator]


def test_a_sealed_file_moved_to_another_recording_does_not_open() -> None:
    key = new_recording_key()
    sealed = _seal(key, b"audio")
    with pytest.raises(RecordingCorrupt):
        _open(key, sealed, recording_id="f" * 32)


def test_wrong_key_does_not_open() -> None:
    sealed = _seal(new_recording_key(), b"audio")
    with pytest.raises(RecordingCorrupt):
        _open(new_recording_key(), sealed)


def test_wrapped_key_opens_only_with_its_master_and_its_recording() -> None:
    master, other = os.urandom(32), os.urandom(32)
    key = new_recording_key()
    wrapped = wrap_key(key, master, RID)
    assert key.hex() not in wrapped
    assert unwrap_key(wrapped, master, RID) == key
    with pytest.raises(RecordingCorrupt):
        unwrap_key(wrapped, other, RID)
    with pytest.raises(RecordingCorrupt):
        unwrap_key(wrapped, master, "f" * 32)


def test_master_keys_are_found_by_id_and_unknown_ids_are_named() -> None:
    old, new = os.urandom(32), os.urandom(32)
    keys = MasterKeys(current=new, previous=(old,))
    assert keys.current_id == key_id_of(new)
    assert keys.by_id(key_id_of(old)) == old
    with pytest.raises(UnknownMasterKey, match="AMPARO_DATA_KEY_PREVIOUS"):
        MasterKeys(current=new).by_id(key_id_of(old))


def test_file_storage_writes_private_files_under_random_names(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "sealed")
    first = storage.put([b"sealed ", b"bytes"])
    second = storage.put([b"other"])
    assert first != second and len(first) == 32
    files = [p for p in (tmp_path / "sealed").rglob("*") if p.is_file()]
    assert len(files) == 2
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with storage.open(first) as handle:
        assert handle.read() == b"sealed bytes"
    storage.delete(first)
    storage.delete(first)
    assert not storage.exists(first) and storage.exists(second)


@pytest.mark.parametrize("ref", ["../../etc/passwd", "ABCDEF", "0" * 31, "g" * 32])
def test_file_storage_refuses_references_it_did_not_make(tmp_path: Path, ref: str) -> None:
    with pytest.raises(ValueError):
        FileStorage(tmp_path).open(ref)


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "sealed")

    def chunks() -> object:
        yield b"start"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        storage.put(chunks())  # type: ignore[arg-type]
    assert [p for p in (tmp_path / "sealed").rglob("*") if p.is_file()] == []
