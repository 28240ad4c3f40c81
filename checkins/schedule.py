"""When to call: cadence by risk, slots inside safe windows, and the ladder of retries.

A *slot* is one due check-in (named by the local date it falls due); a slot has up to three
*attempts*. Each attempt has an idempotency key, so several workers and restarts place it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from checkins.windows import SafeWindow, next_safe_moment, window_end
from store.vocabulary import RiskLevel

DEFAULT_CADENCE_DAYS: dict[RiskLevel, int] = {
    RiskLevel.EXTREMO: 1,
    RiskLevel.ALTO: 7,
    RiskLevel.MEDIO: 15,
    RiskLevel.BAJO: 30,
    RiskLevel.NO_APRECIADO: 30,
}


class LadderEnd(StrEnum):
    """Who takes over when every attempt of a slot went unanswered."""

    URGENT_TEAM = "urgent_team"  # and a supervisor alert
    CASEWORKER = "caseworker"


@dataclass(frozen=True)
class RetryLadder:
    offsets: tuple[timedelta, ...]
    then: LadderEnd
    #: High-risk ladders never wait for another day's window: if a retry would fall outside the
    #: current window, the ladder ends at once and humans take over.
    same_window_only: bool


_HIGH = RetryLadder(
    (timedelta(0), timedelta(minutes=10), timedelta(minutes=25)), LadderEnd.URGENT_TEAM, True
)
LADDERS: dict[RiskLevel, RetryLadder] = {
    RiskLevel.EXTREMO: _HIGH,
    RiskLevel.ALTO: _HIGH,
    RiskLevel.MEDIO: RetryLadder(
        (timedelta(0), timedelta(hours=1), timedelta(hours=2)), LadderEnd.CASEWORKER, False
    ),
    RiskLevel.BAJO: RetryLadder(
        (timedelta(0), timedelta(hours=24), timedelta(hours=48)), LadderEnd.CASEWORKER, False
    ),
    RiskLevel.NO_APRECIADO: RetryLadder(
        (timedelta(0), timedelta(hours=24), timedelta(hours=48)), LadderEnd.CASEWORKER, False
    ),
}


def cadence_days(risk: RiskLevel, requested_days: int | None = None) -> int:
    """Days between check-ins: the risk's default, or more often if she asked for it."""
    default = DEFAULT_CADENCE_DAYS[risk]
    if requested_days is None or requested_days <= 0:
        return default
    return min(default, requested_days)


def slot_name(due: datetime, tz: ZoneInfo) -> str:
    """A slot is named by the local date it falls due on."""
    return due.astimezone(tz).date().isoformat()


def idempotency_key(plan_id: str, slot: str, attempt_no: int) -> str:
    return f"checkin:{plan_id}:{slot}:{attempt_no}"


def first_attempt_at(windows: Sequence[SafeWindow], tz: ZoneInfo, due: datetime) -> datetime | None:
    """The first safe moment at or after ``due`` (None when she has no safe window)."""
    return next_safe_moment(windows, tz, due)


def next_attempt_at(
    risk: RiskLevel,
    windows: Sequence[SafeWindow],
    tz: ZoneInfo,
    first_attempt: datetime,
    attempt_no: int,
) -> datetime | None:
    """When attempt ``attempt_no`` (1-based) of a slot goes out; None when the ladder is over
    and ``LADDERS[risk].then`` takes over."""
    return next_attempt_on(LADDERS[risk], windows, tz, first_attempt, attempt_no)


def next_attempt_on(
    ladder: RetryLadder,
    windows: Sequence[SafeWindow],
    tz: ZoneInfo,
    first_attempt: datetime,
    attempt_no: int,
) -> datetime | None:
    """:func:`next_attempt_at` for any ladder (notifications have their own)."""
    if attempt_no < 1 or attempt_no > len(ladder.offsets):
        return None
    wanted = first_attempt + ladder.offsets[attempt_no - 1]
    if ladder.same_window_only:
        closes = window_end(windows, tz, first_attempt)
        if closes is None or wanted >= closes:
            return None
        return wanted
    return next_safe_moment(windows, tz, wanted)


def next_due(
    previous_due: datetime, risk: RiskLevel, requested_days: int | None = None
) -> datetime:
    return previous_due + timedelta(days=cadence_days(risk, requested_days))
