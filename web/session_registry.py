"""Signed-in sessions held in Redis, so that ending one ends it everywhere.

The browser's cookie is signed, not secret, and anyone holding a copy could use it until it
expires. Each sign-in therefore opens a session here (``amparo:session:<id>`` -> the account,
kept until ``SESSION_LIFETIME`` after its last use, as the cookie is), the cookie carries the
session's random id, and the guard asks Redis on every request whether that session is still
open. Signing out closes it, so a copy of the cookie taken before is worth nothing. An
account's open sessions are listed under ``amparo:sessions_of:<account>``, so she can sign out
all of hers and an admin can end all of someone's.

When Redis does not answer, nothing is known: the guard answers 503 and keeps the cookie.

When Redis lost its data (a FLUSHALL, a restart without persistence), every session is gone
with it, and every console would be signed out at once, taking its presence heartbeat (and so
its agent) out of routing while callers wait. ``amparo:session_registry:kept`` is set, with no
expiry, by every sign-in; the first session presented while it is missing starts an adoption
window of ``ADOPTION_WINDOW`` in which a session the registry does not know, presented with its
signed cookie, is opened again for the account the cookie names. The account checks of
:mod:`web.revocation` (active, same role, same credentials) still apply to it. What is
forgotten is a sign-out made before the loss: a copy of such a cookie presented in the window
works again. A sign-out during the window is remembered for the window's length.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

import redis

from store.live_state import key

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)
ADOPTION_WINDOW = timedelta(minutes=5)

_KEPT = key("session_registry", "kept")
_ADOPTING = key("session_registry", "adopting")

_ADOPT = """
if redis.call('exists', KEYS[1]) == 0 then
  redis.call('set', KEYS[1], '1')
  redis.call('set', KEYS[2], '1', 'EX', ARGV[3])
end
if redis.call('exists', KEYS[2]) == 0 or redis.call('exists', KEYS[3]) == 1 then
  return 0
end
redis.call('set', KEYS[4], ARGV[1], 'EX', ARGV[2])
redis.call('sadd', KEYS[5], ARGV[4])
redis.call('expire', KEYS[5], ARGV[2])
return 1
"""


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
            pipe.set(_KEPT, "1")
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
            if holder is None:
                return self._adopted(session_id, agent_id)
        except redis.RedisError as exc:
            raise RegistryUnavailable from exc
        return str(holder) == agent_id

    def _adopted(self, session_id: str, agent_id: str) -> bool:
        """Open ``session_id`` again when Redis lost the registry (see the module)."""
        keys = [_KEPT, _ADOPTING, self._closed(session_id), self._session(session_id)]
        keys.append(self._of(agent_id))
        window = int(ADOPTION_WINDOW.total_seconds())
        adopted = self._live.eval(_ADOPT, 5, *keys, agent_id, self._ttl, window, session_id)
        if adopted:
            log.warning("session registry lost; a signed-in session was opened again")
        return bool(adopted)

    def close(self, session_id: str, agent_id: str) -> None:
        """Sign-out: this session ends for every copy of its cookie."""
        try:
            pipe = self._live.pipeline(transaction=True)
            pipe.delete(self._session(session_id))
            pipe.srem(self._of(agent_id), session_id)
            pipe.set(self._closed(session_id), "1", ex=int(ADOPTION_WINDOW.total_seconds()))
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
                pipe.set(self._closed(session_id), "1", ex=int(ADOPTION_WINDOW.total_seconds()))
            pipe.delete(self._of(agent_id))
            closed = pipe.execute()[: 2 * len(session_ids) : 2]
        except redis.RedisError as exc:
            raise RegistryUnavailable from exc
        return sum(int(n) for n in closed)

    @staticmethod
    def _session(session_id: str) -> str:
        return key("session", session_id)

    @staticmethod
    def _closed(session_id: str) -> str:
        return key("session_closed", session_id)

    @staticmethod
    def _of(agent_id: str) -> str:
        return key("sessions_of", agent_id)
