"""Sign-in attempts, slowed down per (address, login) instead of locking the account.

A hard lock after five failures let anyone lock any agent out from anywhere. Here each pair of
address and login has its own failures: the first ``FREE_FAILURES`` cost nothing, then each
further attempt from that address for that login waits twice as long as the one before
(2 s, 4 s, 8 s ... up to ``MAX_DELAY_S``). Her own address is untouched by an attacker's
failures elsewhere, and a success clears her pair. An attempt reserves its failure before the
password is checked (one Lua script), so parallel guesses from one address cannot slip through
the same gap. Every address also has ``ATTEMPTS_PER_MINUTE`` attempts a minute, whatever the
logins.

Logins are kept only as a truncated SHA-256 (a password pasted into the login field must not
end up in a key name). Without Redis nothing is counted, so sign-in answers 503 (fail closed).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from store.live_state import key

log = logging.getLogger(__name__)

FREE_FAILURES = 3
MAX_DELAY_S = 900
ATTEMPTS_PER_MINUTE = 10
"""Sign-in attempts allowed per minute from one address, whatever the logins (by default;
``AMPARO_SIGN_IN_PER_MINUTE``)."""
FORGET_AFTER_S = 24 * 3600
"""A pair's failures are forgotten a day after its last attempt."""
PENDING_SECONDS = 300
"""Time between the password step and the code step (enrolment secrets live this long)."""

_RESERVE = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local failures, allowed_at = 0, 0
if raw then
  local sep = string.find(raw, ':', 1, true)
  failures = tonumber(string.sub(raw, 1, sep - 1))
  allowed_at = tonumber(string.sub(raw, sep + 1))
end
local now = tonumber(ARGV[2])
if now < allowed_at then
  return {0, tostring(allowed_at - now)}
end
failures = failures + 1
local delay = 0
if failures >= tonumber(ARGV[3]) then
  delay = math.min(2 ^ (failures - tonumber(ARGV[3]) + 1), tonumber(ARGV[4]))
end
redis.call('HSET', KEYS[1], ARGV[1], failures .. ':' .. string.format('%.3f', now + delay))
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, '0'}
"""


class ThrottleUnavailable(Exception):
    """Redis did not answer: no attempt is counted, so none is allowed."""


@dataclass(frozen=True)
class Attempt:
    allowed: bool
    retry_after_s: int = 0


def login_tag(login: str) -> str:
    return hashlib.sha256(login.strip().lower().encode()).hexdigest()[:24]


class SignInThrottle:
    """Attempts and one-use codes, shared by every web process through Redis."""

    def __init__(
        self,
        live: redis.Redis,
        clock: Callable[[], float] = time.time,
        per_minute: int = ATTEMPTS_PER_MINUTE,
    ) -> None:
        self._live = live
        self._clock = clock
        self._per_minute = per_minute
        self._reserve = live.register_script(_RESERVE)

    def attempt(self, address: str, login: str) -> Attempt:
        """Reserve one attempt (counted as a failure until :meth:`succeeded` clears it).

        Raises:
            ThrottleUnavailable: Redis did not answer.
        """
        now = self._clock()
        minute = key("auth", "attempts", "ip", address or "-")
        try:
            pipe = self._live.pipeline(transaction=True)
            pipe.set(minute, 0, ex=60, nx=True)  # the minute starts at the first attempt
            pipe.incr(minute)
            pipe.ttl(minute)
            _, count, ttl = pipe.execute()
            if int(count) > self._per_minute:
                return Attempt(False, max(1, int(ttl)))
            allowed, wait = self._reserve(
                keys=[self._pairs(login)],
                args=[address or "-", f"{now:.3f}", FREE_FAILURES, MAX_DELAY_S, FORGET_AFTER_S],
            )
        except redis.RedisError as exc:
            log.warning("sign-in throttle unavailable (%s); refusing", type(exc).__name__)
            raise ThrottleUnavailable from exc
        return Attempt(bool(int(allowed)), max(1, int(float(wait) + 0.999)))

    def succeeded(self, address: str, login: str) -> None:
        try:
            self._live.hdel(self._pairs(login), address or "-")
        except redis.RedisError:
            log.warning("sign-in throttle: a success could not clear its failures")

    def delayed(self, login: str) -> bool:
        """Whether some address must wait before trying ``login`` again (the admins' page)."""
        try:
            return bool(self._live.exists(self._pairs(login)))
        except redis.RedisError:
            return False

    def clear(self, login: str) -> None:
        """An admin's word: every address may try ``login`` again at once."""
        self._live.delete(self._pairs(login))

    def first_use_of_code(self, agent_id: str, counter: int) -> bool:
        """A TOTP code is good once: a code seen over someone's shoulder cannot be replayed.
        When Redis cannot say, the code is refused (the check must not fail open)."""
        try:
            return bool(
                self._live.set(key("auth", "totp_used", agent_id, counter), "1", nx=True, ex=120)
            )
        except redis.RedisError:
            log.warning("TOTP replay check unavailable (Redis error); code refused")
            return False

    def keep_enrolment(self, secret: str) -> str:
        token = secrets.token_urlsafe(24)
        self._live.set(key("auth", "enrol", token), secret, ex=PENDING_SECONDS)
        return token

    def enrolment(self, token: str) -> str | None:
        value = self._live.get(key("auth", "enrol", token))
        return None if value is None else str(value)

    @staticmethod
    def _pairs(login: str) -> str:
        return key("auth", "throttle", login_tag(login))
