"""The recording parts one process needs, built from its connections (called by app.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy.orm import Session, sessionmaker

from recordings_policy.access import AccessTokens, RecordingAccess
from recordings_policy.services import RecordingArchive
from recordings_policy.vault import MasterKeys


@dataclass(frozen=True)
class RecordingParts:
    archive: RecordingArchive
    access: RecordingAccess
    tokens: AccessTokens
    keys: MasterKeys


def assemble(
    data_dir: Path,
    sessions: sessionmaker[Session],
    live: redis.Redis,
    data_key: bytes,
    previous_data_keys: Iterable[bytes] = (),
) -> RecordingParts:
    """Archive under ``<data_dir>/recordings``, keys wrapped by the master data key."""
    keys = MasterKeys(current=data_key, previous=tuple(previous_data_keys))
    archive = RecordingArchive.under(data_dir, sessions, keys)
    return RecordingParts(
        archive=archive,
        access=RecordingAccess(sessions, archive.storage, keys),
        tokens=AccessTokens(live),
        keys=keys,
    )
