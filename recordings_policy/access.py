"""Listening to a recording: only supervisors and admins, always with a stated reason, always
written down.

Listening takes two steps. ``grant`` checks who and why and writes ``recording_access_granted``;
the edge then hands out a short-lived, single-use random token (``AccessTokens``). Redeeming the
token streams the audio and writes ``recording_streamed`` (with the same reason) before the first
byte leaves. No recording is ever reachable by its id alone, and a token leaked after use, or
after five minutes, opens nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import redis
from sqlalchemy.orm import Session, sessionmaker

from recordings_policy.errors import (
    RecordingNotFound,
    RecordingNotStored,
    RecordingPurged,
)
from recordings_policy.permissions import (
    LISTENER_ROLES,
    SUBJECT,
    checked_reason,
    deny,
    require_role,
)
from recordings_policy.storage import RecordingStorage
from recordings_policy.vault import MasterKeys, open_sealed, unwrap_key
from store import audit
from store.live_state import key
from store.records import AuditEntry, Recording

GRANTED = "recording_access_granted"
STREAMED = "recording_streamed"
TOKEN_TTL_SECONDS = 300
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class AccessGrant:
    """A checked, audited permission for one person to hear one recording once."""

    grant_id: int
    recording_id: str
    actor_id: str


@dataclass(frozen=True)
class Playback:
    """Clear audio on its way to the listener; ``chunks`` closes the file when exhausted."""

    recording_id: str
    size_bytes: int | None
    chunks: Iterator[bytes]


class RecordingAccess:
    def __init__(
        self, sessions: sessionmaker[Session], storage: RecordingStorage, keys: MasterKeys
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.keys = keys

    def grant(
        self, recording_id: str, *, actor_id: str, role: str, reason: str | None
    ) -> AccessGrant:
        """Check role, reason and that there is audio to hear; audit the grant.

        Raises:
            AccessDenied: an agent (the refusal is audited too).
            ReasonRequired: no reason, or one too short to judge.
            RecordingNotFound / RecordingPurged / RecordingNotStored.
        """
        require_role(
            self.sessions,
            actor_id=actor_id,
            role=role,
            allowed=LISTENER_ROLES,
            attempted=GRANTED,
            recording_id=recording_id,
        )
        stated = checked_reason(reason)
        with self.sessions() as db, db.begin():
            _listenable(db.get(Recording, recording_id))
            entry = audit.record(
                db,
                actor_type="agent",
                actor_id=actor_id,
                action=GRANTED,
                subject_type=SUBJECT,
                subject_id=recording_id,
                reason=stated,
                detail={"role": role},
            )
            db.flush()
            return AccessGrant(grant_id=entry.id, recording_id=recording_id, actor_id=actor_id)

    def stream_granted(self, grant: AccessGrant, *, actor_id: str, role: str) -> Playback:
        """Stream the recording of ``grant`` to the person it was granted to."""
        with self.sessions() as db:
            entry = db.get(AuditEntry, grant.grant_id)
            if (
                entry is None
                or entry.action != GRANTED
                or entry.actor_id != actor_id
                or entry.subject_id != grant.recording_id
                or grant.actor_id != actor_id
            ):
                deny(
                    self.sessions,
                    actor_id=actor_id,
                    role=role,
                    attempted="redeem_token_of_another",
                    recording_id=grant.recording_id,
                    message="this access was granted to someone else",
                )
            reason = entry.reason
        return self.stream_for(
            grant.recording_id, actor_id=actor_id, role=role, reason=reason, grant_id=grant.grant_id
        )

    def stream_for(
        self,
        recording_id: str,
        *,
        actor_id: str,
        role: str,
        reason: str | None,
        grant_id: int | None = None,
    ) -> Playback:
        """Audit the listening (committed before any audio is read), then stream clear chunks."""
        require_role(
            self.sessions,
            actor_id=actor_id,
            role=role,
            allowed=LISTENER_ROLES,
            attempted=STREAMED,
            recording_id=recording_id,
        )
        stated = checked_reason(reason)
        sealed: BinaryIO | None = None
        try:
            with self.sessions() as db, db.begin():
                recording = _listenable(db.get(Recording, recording_id))
                assert recording.storage_ref is not None and recording.wrapped_key is not None
                master = self.keys.by_id(recording.master_key_id or "")
                recording_key = unwrap_key(recording.wrapped_key, master, recording_id)
                sealed = self.storage.open(recording.storage_ref)
                audit.record(
                    db,
                    actor_type="agent",
                    actor_id=actor_id,
                    action=STREAMED,
                    subject_type=SUBJECT,
                    subject_id=recording_id,
                    reason=stated,
                    detail={"role": role, "grant_id": grant_id},
                )
                size = recording.size_bytes
        except BaseException:
            if sealed is not None:
                sealed.close()
            raise
        return Playback(recording_id, size, _clear_chunks(recording_key, recording_id, sealed))


def _listenable(recording: Recording | None) -> Recording:
    if recording is None:
        raise RecordingNotFound()
    if recording.deleted_at is not None:
        raise RecordingPurged()
    if recording.storage_ref is None or recording.wrapped_key is None:
        raise RecordingNotStored()
    return recording


def _clear_chunks(recording_key: bytes, recording_id: str, sealed: BinaryIO) -> Iterator[bytes]:
    with sealed:
        yield from open_sealed(recording_key, recording_id, sealed)


class AccessTokens:
    """Single-use, short-lived bearer tokens for granted listening, kept in Redis.

    Redis keeps only a hash of each token, so a copy of Redis's memory or dump file holds no
    usable token; redeeming is one atomic GETDEL, so a token plays at most once even when two
    requests race.
    """

    def __init__(self, connection: redis.Redis, ttl_seconds: int = TOKEN_TTL_SECONDS) -> None:
        self.connection = connection
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def _key(token: str) -> str:
        return key("recording_access", hashlib.sha256(token.encode()).hexdigest())

    def issue(self, grant: AccessGrant) -> str:
        token = secrets.token_urlsafe(32)
        payload = json.dumps(
            {"grant": grant.grant_id, "recording": grant.recording_id, "actor": grant.actor_id}
        )
        self.connection.set(self._key(token), payload, ex=self.ttl_seconds)
        return token

    def redeem(self, token: str) -> AccessGrant | None:
        """The grant behind ``token``, consuming it; None when unknown, used or expired."""
        if not _TOKEN.match(token):
            return None
        raw = self.connection.getdel(self._key(token))
        if raw is None:
            return None
        data = json.loads(raw)
        return AccessGrant(
            grant_id=int(data["grant"]),
            recording_id=str(data["recording"]),
            actor_id=str(data["actor"]),
        )
