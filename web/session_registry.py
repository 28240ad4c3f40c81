"""Signed-in sessions held in Redis, so that ending one ends it everywhere.

The browser's cookie is signed, not secret, and anyone holding a copy could use it until it
expires. Each sign-in therefore opens a session here (``amparo:session:<id>`` -> the account,
kept until ``SESSION_LIFETIME`` after its last use, as the cookie is), the cookie carries the
session's random id, and the guard asks Redis on every request whether that session is still
open. Signing out closes it, so a copy of the cookie taken before is worth nothing. An
account's open sessions are listed under ``amparo:sessions_of:<account>``, so she can sign out
all of hers and an admin can end all of someone's.

When Redis does not answer, nothing is known: the guard answers 503 and keeps the cookie.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import redis

from store.live_state import key

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)


class RegistryUnavailable(Exception):
    """Redis did not answer."""


class SessionRegistry:
    def __init__(self, live: redis.Redis, lifetime: timedelta = SESSION_LIFETIME) -> None:
        self._live = live
        self._ttl = int(lifetime.total_seconds())

    def open(self, agent_id: str) -> str:
        """A new session for ``agent_id``; its id goes into the cookie.

        Raises:
            RegistryUnavailable: Redis did not answer (no session is opened).
        """
        session_id = secrets.token_urlsafe(32)
        try:
            pipe = self._live.pipeline(transaction=True)
            pipe.set(self._session(session_id), agent_id, ex=self._ttl)
            pipe.sadd(self._of(agent_id), session_id)
            pipe.expire(self._of(agent_id), self._ttl)
            pipe.execute()
        except redis.RedisError as exc:
            raise RegistryUnavailable from exc
        return session_id

    def is_open(self, session_id: str, agent_id: str) -> bool:
        """Whether ``session_id`` is an open session of ``agent_id``.

        Raises:
            RegistryUnavailable: Redis did not answer.
        """
        if not session_id:
            return False
        try:
            pipe = self._live.pipeline(transaction=False)
            pipe.get(self._session(session_id))
            pipe.expire(self._session(session_id), self._ttl)  # in use: it lasts, like the cookie
            pipe.expire(self._of(agent_id), self._ttl)
            holder = pipe.execute()[0]
        except redis.RedisError as exc:
            raise RegistryUnavailable from exc
        return holder is not None and str(holder) == agent_id

    def close(self, session_id: str, agent_id: str) -> None:
        """Sign-out: this session ends for every copy of its cookie."""
        try:
            pipe = self._live.pipeline(transaction=True)
            pipe.delete(self._session(session_id))
            pipe.srem(self._of(agent_id), session_id)
            pipe.execute()
        except redis.RedisError:
            log.warning("sign-out: the session could not be closed in Redis (it expires)")

    def close_all(self, agent_id: str) -> int:
        """End every open session of ``agent_id``; how many were open.

        Raises:
            RegistryUnavailable: Redis did not answer.
        """
        try:
            session_ids = [str(s) for s in self._live.smembers(self._of(agent_id))]
            pipe = self._live.pipeline(transaction=True)
            for session_id in session_ids:
                pipe.delete(self._session(session_id))
            pipe.delete(self._of(agent_id))
            closed = pipe.execute()[: len(session_ids)]
        except redis.RedisError as exc:
            raise RegistryUnavailable from exc
        return sum(int(n) for n in closed)

    @staticmethod
    def _session(session_id: str) -> str:
        return key("session", session_id)

    @staticmethod
    def _of(agent_id: str) -> str:
        return key("sessions_of", agent_id)
