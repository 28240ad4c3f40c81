"""Outbound calls per second to Twilio across every process (``AMPARO_TWILIO_CPS``).

Twilio accepts outbound calls at the account's CPS and queues or rejects the rest; check-ins
run in many worker processes at once, so the pace is kept in Redis (``store.pacing``): calls
are queued in booking order, never dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from store.pacing import SharedPace


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
        self._pace = SharedPace(client, calls_per_second, "twilio", name)
        self._sleep = sleep

    def acquire(self, now: float | None = None, max_wait_s: float | None = None) -> float:
        """Book the next slot and return the seconds to wait for it (0: go now).

        Raises OutboundBusy, booking nothing, when that is more than ``max_wait_s``.
        ``now`` defaults to Redis's clock.
        """
        booking = self._pace.book(max_wait_s=max_wait_s, now=now)
        if not booking.granted:
            raise OutboundBusy(booking.wait_s)
        return booking.wait_s

    def wait_turn(self, max_wait_s: float | None = None) -> float:
        """Block until this process may place one call; return how long it waited."""
        wait_s = self.acquire(max_wait_s=max_wait_s)
        if wait_s > 0:
            self._sleep(wait_s)
        return wait_s
