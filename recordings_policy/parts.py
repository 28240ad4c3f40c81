"""The recording parts one process holds (built by the composition root, ``runtime.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from recordings_policy.access import AccessTokens, RecordingAccess
from recordings_policy.services import RecordingArchive
from recordings_policy.vault import MasterKeys


@dataclass(frozen=True)
class RecordingParts:
    archive: RecordingArchive
    access: RecordingAccess
    tokens: AccessTokens
    keys: MasterKeys
