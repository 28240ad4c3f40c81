"""The one clock the system reads the time from.

Domain code never calls ``time.time()`` or ``datetime.now()`` itself: a process hands it a
``SystemClock``, tests and simulations a ``ManualClock``, so a week of check-in ladders or an
hour of routing timers runs in a second. Routing counts float seconds since the epoch (they are
Redis scores), check-ins aware UTC datetimes; both are readings of the same clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...

    def time(self) -> float:
        """Seconds since the epoch, on ``time.time()``'s scale."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()


@dataclass
class ManualClock:
    """A clock moved by hand (tests, simulations, benchmarks); ``current`` is aware UTC."""

    current: datetime

    @classmethod
    def at(cls, seconds: float) -> ManualClock:
        """A clock standing at ``seconds`` since the epoch."""
        return cls(datetime.fromtimestamp(seconds, UTC))

    def now(self) -> datetime:
        return self.current

    def time(self) -> float:
        return self.current.timestamp()

    def advance(self, by: timedelta | float) -> datetime:
        """Move on by ``by`` (a timedelta, or seconds)."""
        self.current += by if isinstance(by, timedelta) else timedelta(seconds=by)
        return self.current

    def set(self, at: datetime) -> datetime:
        self.current = at
        return at
