"""A beneficiary's safe call windows, in her own time zone.

A window is ``{"days": [0..6], "start": "HH:MM", "end": "HH:MM"}`` with Monday = 0, in local
wall-clock time. She is only ever called inside one: outside it the aggressor may be near.
Daylight-saving changes are handled on the wall clock: a window starting in the hour that does
not exist (spring forward) opens when the clock reaches it; in the repeated hour (fall back)
the first occurrence counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class InvalidWindow(ValueError):
    error_id = "invalid_safe_window"


@dataclass(frozen=True)
class SafeWindow:
    days: frozenset[int]
    start: time
    end: time

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SafeWindow:
        try:
            days = frozenset(int(day) for day in data["days"])
            start = time.fromisoformat(str(data["start"]))
            end = time.fromisoformat(str(data["end"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidWindow(f"unreadable safe window: {exc}") from exc
        if not days or not days <= set(range(7)):
            raise InvalidWindow("days must be weekday numbers 0 (Monday) to 6 (Sunday)")
        if end <= start:
            raise InvalidWindow("a safe window must end after it starts on the same day")
        return cls(days=days, start=start, end=end)

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": sorted(self.days),
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }


def parse_windows(raw: Iterable[Mapping[str, Any]]) -> tuple[SafeWindow, ...]:
    return tuple(SafeWindow.from_dict(item) for item in raw)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidWindow(f"unknown time zone {name!r}") from exc


def _wall_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant the local wall clock shows ``day at``; a non-existent local time (the
    spring-forward gap) maps to the moment the clock jumps past it."""
    local = datetime.combine(day, at, tzinfo=tz).replace(fold=0)
    as_utc = local.astimezone(UTC)
    if as_utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        # In the gap: the first valid instant is the transition itself, found by walking the
        # wall clock forward minute by minute (a gap is at most a few hours).
        probe = local
        for _ in range(24 * 60):
            probe = probe + timedelta(minutes=1)
            candidate = probe.astimezone(UTC)
            if candidate.astimezone(tz).replace(tzinfo=None) == probe.replace(tzinfo=None):
                return candidate
    return as_utc


def open_intervals(
    windows: Sequence[SafeWindow], tz: ZoneInfo, day: date
) -> list[tuple[datetime, datetime]]:
    """The UTC intervals during which calling is safe on local ``day``, in order."""
    intervals = [
        (_wall_to_utc(day, window.start, tz), _wall_to_utc(day, window.end, tz))
        for window in windows
        if day.weekday() in window.days
    ]
    return sorted((start, end) for start, end in intervals if end > start)


def is_inside(windows: Sequence[SafeWindow], tz: ZoneInfo, at: datetime) -> bool:
    local_day = at.astimezone(tz).date()
    return any(start <= at < end for start, end in open_intervals(windows, tz, local_day))


def next_safe_moment(
    windows: Sequence[SafeWindow], tz: ZoneInfo, after: datetime, horizon_days: int = 14
) -> datetime | None:
    """The first instant at or after ``after`` inside a window (None if there is none within
    ``horizon_days``, e.g. no windows at all)."""
    first_day = after.astimezone(tz).date()
    for offset in range(horizon_days + 1):
        for start, end in open_intervals(windows, tz, first_day + timedelta(days=offset)):
            if end <= after:
                continue
            return max(start, after)
    return None


def window_end(windows: Sequence[SafeWindow], tz: ZoneInfo, at: datetime) -> datetime | None:
    """The end of the window that contains ``at`` (None when ``at`` is outside every window)."""
    local_day = at.astimezone(tz).date()
    for start, end in open_intervals(windows, tz, local_day):
        if start <= at < end:
            return end
    return None
