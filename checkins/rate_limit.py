"""Outbound calls per second, shared by every process through Redis.

A reservation bucket: each dial reserves the next free instant ``1/cps`` after the previous
one. The script reads Redis's own clock, so processes on machines with skewed clocks share one
timeline. A caller that would wait longer than it is willing to gets nothing reserved and the
delay to come back after.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from store.live_state import key

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(nxt, now)
local wait = slot - now
if wait > max_wait then
  return {0, tostring(wait)}
end
local keep_ms = math.ceil((wait + interval) * 1000) + 1000
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', keep_ms)
return {1, tostring(wait)}
"""


@dataclass(frozen=True)
class Reservation:
    granted: bool
    wait_s: float
    """Granted: sleep this long, then dial. Refused: come back after this long."""


class OutboundRateLimit:
    def __init__(self, client: redis.Redis, cps: float, name: str = "outbound") -> None:
        if cps <= 0:
            raise ValueError("calls per second must be positive")
        self._client = client
        self._interval = 1.0 / cps
        self._key = key("ratelimit", name)
        self._script = client.register_script(_RESERVE)

    @property
    def interval_s(self) -> float:
        return self._interval

    def reserve(self, max_wait_s: float = 5.0) -> Reservation:
        granted, wait = self._script(keys=[self._key], args=[self._interval, max_wait_s])
        return Reservation(bool(int(granted)), float(wait))
