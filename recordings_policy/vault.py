"""Envelope encryption of recordings.

Each recording has its own random 256-bit key. The audio is sealed with AES-256-GCM in 64 KiB
chunks (the STREAM construction): a chunk's nonce is a random 7-byte prefix, the chunk's index
and a final flag, and the file header plus the recording id are bound as associated data. An hour
of call audio (~60 MB) is therefore sealed and played back in constant memory, and a file that
was reordered, truncated at a chunk boundary or moved to another recording's row fails to open.

The recording key is stored only wrapped (AES-GCM) under a key derived from the master data key,
with the recording id bound, and the row names the master key by its id. Rotating the master key
re-wraps 60 bytes per recording instead of re-encrypting the audio; erasing the wrapped key
makes every copy of the audio, backups included, unreadable.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from recordings_policy.errors import RecordingCorrupt, UnknownMasterKey
from store.crypto import derive, key_id_of

MAGIC = b"AMPREC"
FORMAT_VERSION = 1
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
PREFIX_SIZE = 7
_HEADER = struct.Struct(">6sBI7s")
HEADER_SIZE = _HEADER.size
WRAP_PURPOSE = "amparo recording key wrap"
_WRAP_PREFIX = "rk1"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class MasterKeys:
    """The master data key recordings are wrapped under now, and older ones still accepted."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if len(self.current) != 32 or any(len(key) != 32 for key in self.previous):
            raise ValueError("master keys are 32 bytes")

    @property
    def current_id(self) -> str:
        return key_id_of(self.current)

    def by_id(self, key_id: str) -> bytes:
        for key in (self.current, *self.previous):
            if key_id_of(key) == key_id:
                return key
        raise UnknownMasterKey(
            f"master key {key_id} is not configured; is AMPARO_DATA_KEY_PREVIOUS set?"
        )


def new_recording_key() -> bytes:
    return os.urandom(32)


def _wrap_aad(recording_id: str) -> bytes:
    return b"amparo recording key:" + recording_id.encode()


def wrap_key(recording_key: bytes, master: bytes, recording_id: str) -> str:
    """The recording key sealed under ``master``, as text for the ``wrapped_key`` column."""
    nonce = os.urandom(12)
    sealed = AESGCM(derive(master, WRAP_PURPOSE)).encrypt(
        nonce, recording_key, _wrap_aad(recording_id)
    )
    return f"{_WRAP_PREFIX}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unwrap_key(wrapped: str, master: bytes, recording_id: str) -> bytes:
    prefix, _, body = wrapped.partition(".")
    if prefix != _WRAP_PREFIX:
        raise RecordingCorrupt("the wrapped recording key has an unknown format")
    raw = base64.urlsafe_b64decode(body)
    try:
        return AESGCM(derive(master, WRAP_PURPOSE)).decrypt(
            raw[:12], raw[12:], _wrap_aad(recording_id)
        )
    except InvalidTag as exc:
        raise RecordingCorrupt("the recording key failed authentication") from exc


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    if index >= 2**32:
        raise ValueError("recording too long for one stream")
    return prefix + struct.pack(">IB", index, 1 if final else 0)


def _chunks(source: Readable, size: int) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(chunk, is_final)``, reading one chunk ahead to know which is the last."""
    current = source.read(size)
    while True:
        following = source.read(size)
        yield current, not following
        if not following:
            return
        current = following


def seal(recording_key: bytes, recording_id: str, source: Readable) -> Iterator[bytes]:
    """Yield the sealed file: a header, then each chunk of ``source`` encrypted.

    An empty source still yields one (empty) final chunk, so every sealed file ends in a chunk
    marked final and truncation is always detected.
    """
    prefix = os.urandom(PREFIX_SIZE)
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, CHUNK_SIZE, prefix)
    aead = AESGCM(recording_key)
    aad = header + recording_id.encode()
    yield header
    for index, (chunk, final) in enumerate(_chunks(source, CHUNK_SIZE)):
        yield aead.encrypt(_nonce(prefix, index, final), chunk, aad)


def open_sealed(recording_key: bytes, recording_id: str, sealed: BinaryIO) -> Iterator[bytes]:
    """Yield the clear chunks of a sealed file; raise RecordingCorrupt on any tampering.

    Each chunk is authenticated before it is yielded, so no altered byte is ever returned; a
    file cut short is noticed when its last chunk is not marked final.
    """
    header = sealed.read(HEADER_SIZE)
    if len(header) != HEADER_SIZE:
        raise RecordingCorrupt("the recording file is too short")
    magic, version, chunk_size, prefix = _HEADER.unpack(header)
    if magic != MAGIC or version != FORMAT_VERSION or not 0 < chunk_size <= 16 * 1024 * 1024:
        raise RecordingCorrupt("the recording file has an unknown format")
    aead = AESGCM(recording_key)
    aad = header + recording_id.encode()
    for index, (chunk, final) in enumerate(_chunks(sealed, chunk_size + TAG_SIZE)):
        try:
            clear = aead.decrypt(_nonce(prefix, index, final), chunk, aad)
        except InvalidTag as exc:
            raise RecordingCorrupt(
                "the recording failed authentication (altered, truncated or wrong key)"
            ) from exc
        if clear:
            yield clear
