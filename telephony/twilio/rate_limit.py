"""Outbound calls per second across every process: a token bucket kept in Redis.

Twilio accepts outbound calls at the account's CPS and queues or rejects the rest; check-ins
run in many worker processes at once, so the pace is kept in one place. The bucket holds one
token (no bursts) and is implemented as its "theoretical arrival time" (GCRA): each caller
atomically books the next free slot and is told how long to wait for it, so calls are
queued in booking order, never dropped. The clock is Redis's own (``TIME``), so processes on
different machines agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from store.live_state import key

BOOK_SLOT = """
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


class OutboundBusy(Exception):
    """The next free slot is further away than the caller is willing to wait."""

    error_id = "twilio_outbound_busy"

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"next outbound slot in {wait_s:.1f}s")
        self.wait_s = wait_s


class OutboundPacer:
    def __init__(
        self,
        client: redis.Redis,
        calls_per_second: float,
        *,
        name: str = "outbound-calls",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be positive")
        self._client = client
        self._interval = 1.0 / calls_per_second
        self._key = key("twilio", "pace", name)
        self._script = client.register_script(BOOK_SLOT)
        self._sleep = sleep

    def acquire(self, now: float | None = None, max_wait_s: float | None = None) -> float:
        """Book the next slot and return the seconds to wait for it (0: go now).

        Raises OutboundBusy, booking nothing, when that is more than ``max_wait_s``.
        ``now`` defaults to Redis's clock.
        """
        booked, wait = self._script(
            keys=[self._key],
            args=[
                -1 if now is None else now,
                self._interval,
                -1 if max_wait_s is None else max_wait_s,
            ],
        )
        wait_s = float(wait)
        if not int(booked):
            raise OutboundBusy(wait_s)
        return wait_s

    def wait_turn(self, max_wait_s: float | None = None) -> float:
        """Block until this process may place one call; return how long it waited."""
        wait_s = self.acquire(max_wait_s=max_wait_s)
        if wait_s > 0:
            self._sleep(wait_s)
        return wait_s
