"""A pace shared by every process through Redis: one event every ``1/rate`` seconds.

Outbound calls (to Twilio at the account's calls per second, to the trunk, to beneficiaries at
``AMPARO_OUTBOUND_CPS``) are booked here. Each caller atomically books the next free slot and is
told how long to wait for it ("theoretical arrival time", GCRA with no burst), so calls are
queued in booking order, never dropped. Redis's own clock (``TIME``) is used unless a time is
given, so processes on machines with skewed clocks share one timeline. A caller that would wait
longer than it is willing to books nothing and is told how long the wait would be.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from store.live_state import key

_BOOK_SLOT = """
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local interval = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now
if max_wait >= 0 and wait > max_wait then
  return {0, tostring(wait)}
end
local next_slot = tat + interval
redis.call('SET', KEYS[1], string.format('%.6f', next_slot),
           'PX', math.ceil((next_slot - now) * 1000) + 1000)
return {1, tostring(wait)}
"""


@dataclass(frozen=True)
class Booking:
    granted: bool
    wait_s: float
    """Granted: wait this long, then go. Refused: the wait that was too long."""


class SharedPace:
    def __init__(self, client: redis.Redis, per_second: float, *parts: str) -> None:
        if per_second <= 0:
            raise ValueError("the rate must be positive")
        self.interval_s = 1.0 / per_second
        self._key = key("pace", *parts)
        self._script = client.register_script(_BOOK_SLOT)

    def book(self, max_wait_s: float | None = None, now: float | None = None) -> Booking:
        """Book the next slot (``max_wait_s`` None: however far it is)."""
        granted, wait = self._script(
            keys=[self._key],
            args=[
                -1 if now is None else now,
                self.interval_s,
                -1 if max_wait_s is None else max_wait_s,
            ],
        )
        return Booking(bool(int(granted)), float(wait))
