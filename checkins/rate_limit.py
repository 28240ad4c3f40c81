"""Outbound calls per second, shared by every process through Redis.

A reservation bucket: each dial reserves the next free instant ``1/cps`` after the previous
one. The script reads Redis's own clock, so processes on machines with skewed clocks share one
timeline. A caller that would wait longer than it is willing to gets nothing reserved and the
delay to come back after.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from store.pacing import SharedPace


@dataclass(frozen=True)
class Reservation:
    granted: bool
    wait_s: float
    """Granted: sleep this long, then dial. Refused: come back after this long."""


class OutboundRateLimit:
    def __init__(self, client: redis.Redis, cps: float, name: str = "outbound") -> None:
        if cps <= 0:
            raise ValueError("calls per second must be positive")
        self._pace = SharedPace(client, cps, "ratelimit", name)

    @property
    def interval_s(self) -> float:
        return self._pace.interval_s

    def reserve(self, max_wait_s: float = 5.0) -> Reservation:
        booking = self._pace.book(max_wait_s=max_wait_s)
        return Reservation(booking.granted, booking.wait_s)
