"""A lease in Redis: one holder at a time, for work that must run in one process of many.

``SET key holder NX PX ttl`` takes a free lease; the holder renews it (``PEXPIRE`` only while
the key still names it) well before it runs out. A holder that dies, hangs or loses Redis
stops renewing, and another process takes the lease over once the TTL has passed: no lock is
ever held for ever, and no process waits for a crashed one to say goodbye.
"""

from __future__ import annotations

import os
import secrets
import socket

import redis

from store.live_state import key

_HOLD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def holder_name() -> str:
    """This process's name on a lease: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def is_held(client: redis.Redis, name: str) -> bool:
    """Does some process hold the lease ``name`` now (it renews it while it lives)?"""
    return bool(client.exists(key("lease", name)))


class Lease:
    """A named lease under ``amparo:lease:<name>`` held for ``ttl_ms`` at a time."""

    def __init__(
        self, client: redis.Redis, name: str, ttl_ms: int, holder: str | None = None
    ) -> None:
        if ttl_ms < 100:
            raise ValueError("a lease lasts at least 100 ms")
        self._client = client
        self.key = key("lease", name)
        self.ttl_ms = ttl_ms
        self.holder = holder or holder_name()

    def hold(self) -> bool:
        """Take the lease if it is free, or renew it if it is ours.

        Returns:
            True when this process holds the lease for the next ``ttl_ms``.

        Raises:
            redis.RedisError: when Redis cannot be reached (the caller does not hold it).
        """
        held = self._client.eval(_HOLD, 1, self.key, self.holder, self.ttl_ms)
        return bool(held)

    def release(self) -> bool:
        """Give the lease up now if it is ours (a clean stop hands over without waiting)."""
        return bool(self._client.eval(_RELEASE, 1, self.key, self.holder))
