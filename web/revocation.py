"""Whether a signed-in session still stands for the account behind it.

The session's id must be open in the registry (:mod:`web.session_registry`): signing out, here
or everywhere, or an admin ending an account's sessions closes it for every copy of the cookie.
Every
request that trusts it (:func:`web.guard.login_required`) and every open event stream (every
``RECHECK_SECONDS``) load the account by primary key and refuse the session when the account is
gone or inactive, when its role is not the session's, or when its credentials changed since the
sign-in: a new password hash, or a second factor reset or enrolled anew. The session keeps a
short keyed tag of those credentials (:func:`credentials_tag`), never the hash itself: the
cookie is signed, not encrypted, and its holder can read it.

A failed login count or a lockout does not end a session: anyone may type wrong passwords for
an account, and that must not sign its owner out.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store import audit
from store.models import Agent
from web.session_registry import RegistryUnavailable, SessionRegistry

log = logging.getLogger(__name__)

RECHECK_SECONDS = 15.0
"""How often an open event stream checks its session again: a revoked account's stream ends at
most this long (plus one read of Redis, 1 s) after the change is stored."""

TAG_LENGTH = 32
"""Hex characters of the credentials tag kept in the session (128 bits)."""


class SessionStanding(StrEnum):
    VALID = "valid"
    UNAVAILABLE = "unavailable"
    """The database did not answer: nothing is known either way."""
    GONE = "gone"
    INACTIVE = "inactive"
    ROLE_CHANGED = "role_changed"
    CREDENTIALS_CHANGED = "credentials_changed"
    ENDED = "ended"
    """Signed out (here, everywhere, or by an admin): the session is no longer open in Redis."""

    @property
    def revoked(self) -> bool:
        return self not in (SessionStanding.VALID, SessionStanding.UNAVAILABLE)


def credentials_tag(secret_key: str | bytes, password_hash: str, totp_secret: str | None) -> str:
    """A keyed digest of what the account signs in with; it changes when either changes."""
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    message = "\0".join(("amparo.session.v1", password_hash, totp_secret or ""))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:TAG_LENGTH]


@dataclass(frozen=True)
class AccountCheck:
    """Decides a session's standing from the stored account (one primary-key read)."""

    sessions: sessionmaker[Session]
    secret_key: str | bytes
    registry: SessionRegistry

    def tag(self, agent: Agent) -> str:
        return credentials_tag(self.secret_key, agent.password_hash, agent.totp_secret)

    def standing(self, agent_id: str, role: str, tag: str, session_id: str) -> SessionStanding:
        """Args: the session's account id, role, credentials tag and id in the registry.

        Returns UNAVAILABLE when the database or Redis cannot be read; the caller decides what
        that means for its request.
        """
        query = select(Agent.active, Agent.role, Agent.password_hash, Agent.totp_secret).where(
            Agent.id == agent_id
        )
        try:
            with self.sessions() as db:
                row = db.execute(query).one_or_none()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("session check: database unavailable (%s)", type(exc).__name__)
            return SessionStanding.UNAVAILABLE
        if row is None:
            return SessionStanding.GONE
        active, stored_role, password_hash, totp_secret = row
        if not active:
            return SessionStanding.INACTIVE
        if str(stored_role) != role:
            return SessionStanding.ROLE_CHANGED
        expected = credentials_tag(self.secret_key, password_hash, totp_secret)
        if not hmac.compare_digest(expected, tag):
            return SessionStanding.CREDENTIALS_CHANGED
        try:
            if not self.registry.is_open(session_id, agent_id):
                return SessionStanding.ENDED
        except RegistryUnavailable:
            log.warning("session check: Redis unavailable")
            return SessionStanding.UNAVAILABLE
        return SessionStanding.VALID

    def record_revocation(self, agent_id: str, standing: SessionStanding, where: str) -> None:
        """Log (the account id only) and audit a refused session; the refusal stands even when
        the audit cannot be written."""
        log.warning("session revoked agent_id=%s reason=%s", agent_id, standing.value)
        try:
            with self.sessions() as db, db.begin():
                audit.record(
                    db,
                    actor_type="agent",
                    actor_id=agent_id,
                    action="session_revoked",
                    detail={"reason": standing.value, "where": where},
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("session revocation not audited (%s)", type(exc).__name__)
