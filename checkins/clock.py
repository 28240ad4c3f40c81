"""Where check-in code reads the time from.

Jobs never call ``datetime.now()`` themselves: the worker installs a clock, so tests can run a
whole week of ladders, windows and daylight-saving changes in a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock moved by hand (tests, simulations, benchmarks)."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, by: timedelta | float) -> datetime:
        self.current += by if isinstance(by, timedelta) else timedelta(seconds=by)
        return self.current

    def set(self, at: datetime) -> datetime:
        self.current = at
        return at
