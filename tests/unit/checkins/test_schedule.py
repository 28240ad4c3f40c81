from datetime import UTC, datetime, timedelta

import pytest

from checkins.schedule import (
    LADDERS,
    LadderEnd,
    cadence_days,
    first_attempt_at,
    idempotency_key,
    next_attempt_at,
    slot_name,
)
from checkins.windows import InvalidWindow, is_inside, next_safe_moment, parse_windows, zone
from store.vocabulary import RiskLevel

MADRID = zone("Europe/Madrid")
LIMA = zone("America/Lima")
WEEKDAY_MORNINGS = parse_windows([{"days": [0, 1, 2, 3, 4], "start": "10:00", "end": "13:00"}])


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("risk", "requested", "days"),
    [
        (RiskLevel.EXTREMO, None, 1),
        (RiskLevel.ALTO, None, 7),
        (RiskLevel.MEDIO, None, 15),
        (RiskLevel.BAJO, None, 30),
        (RiskLevel.BAJO, 15, 15),
        (RiskLevel.ALTO, 30, 7),  # asking for less often than the risk needs is not granted
    ],
)
def test_cadence_by_risk_and_her_request(risk: RiskLevel, requested: int | None, days: int) -> None:
    assert cadence_days(risk, requested) == days


def test_a_slot_due_at_night_waits_for_her_morning_window_in_her_time_zone() -> None:
    # Friday 2026-11-27 23:00 UTC is Saturday 00:00 in Madrid: next window is Monday 10:00 CET.
    due = utc(2026, 11, 27, 23, 0)
    assert first_attempt_at(WEEKDAY_MORNINGS, MADRID, due) == utc(2026, 11, 30, 9, 0)
    # The same instant in Lima is Friday 18:00: next window is Monday 10:00 PET (UTC-5).
    assert first_attempt_at(WEEKDAY_MORNINGS, LIMA, due) == utc(2026, 11, 30, 15, 0)


def test_windows_follow_the_wall_clock_across_daylight_saving_changes() -> None:
    # Madrid switches to summer time on Sunday 2026-03-29; Monday 10:00 CEST is 08:00 UTC.
    assert next_safe_moment(WEEKDAY_MORNINGS, MADRID, utc(2026, 3, 27, 13, 0)) == utc(
        2026, 3, 30, 8, 0
    )
    # And back to winter time on Sunday 2026-10-25; Monday 10:00 CET is 09:00 UTC.
    assert next_safe_moment(WEEKDAY_MORNINGS, MADRID, utc(2026, 10, 23, 13, 0)) == utc(
        2026, 10, 26, 9, 0
    )


def test_a_window_opening_inside_the_spring_forward_gap_opens_when_the_clock_jumps() -> None:
    night = parse_windows([{"days": [6], "start": "02:30", "end": "04:00"}])
    # 2026-03-29 02:30 does not exist in Madrid; the clock jumps from 02:00 CET to 03:00 CEST.
    assert next_safe_moment(night, MADRID, utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 0)


def test_inside_and_outside() -> None:
    assert is_inside(WEEKDAY_MORNINGS, MADRID, utc(2026, 12, 1, 10, 0))  # 11:00 CET Tuesday
    assert not is_inside(WEEKDAY_MORNINGS, MADRID, utc(2026, 12, 1, 12, 0))  # 13:00 CET
    assert not is_inside(WEEKDAY_MORNINGS, MADRID, utc(2026, 12, 5, 10, 0))  # Saturday


def test_no_window_means_no_call() -> None:
    assert first_attempt_at((), MADRID, utc(2026, 12, 1, 10, 0)) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"days": [7], "start": "10:00", "end": "11:00"},
        {"days": [1], "start": "11:00", "end": "10:00"},
        {"days": [], "start": "10:00", "end": "11:00"},
        {"days": [1], "start": "ten", "end": "11:00"},
        {"start": "10:00", "end": "11:00"},
    ],
)
def test_bad_windows_are_refused_clearly(raw: dict[str, object]) -> None:
    with pytest.raises(InvalidWindow):
        parse_windows([raw])


def test_high_risk_retries_at_0_10_25_minutes_inside_the_window_then_the_urgent_team() -> None:
    first = utc(2026, 12, 1, 9, 0)  # 10:00 CET Tuesday
    times = [
        next_attempt_at(RiskLevel.EXTREMO, WEEKDAY_MORNINGS, MADRID, first, n) for n in (1, 2, 3, 4)
    ]
    assert times == [first, first + timedelta(minutes=10), first + timedelta(minutes=25), None]
    assert LADDERS[RiskLevel.ALTO].then is LadderEnd.URGENT_TEAM


def test_high_risk_retry_that_would_leave_the_window_hands_over_to_humans_at_once() -> None:
    first = utc(2026, 12, 1, 11, 50)  # 12:50 CET, window closes at 13:00
    assert next_attempt_at(RiskLevel.ALTO, WEEKDAY_MORNINGS, MADRID, first, 2) is None


def test_medium_and_low_risk_retries_move_to_the_next_safe_moment() -> None:
    first = utc(2026, 12, 1, 11, 30)  # 12:30 CET Tuesday
    second = next_attempt_at(RiskLevel.MEDIO, WEEKDAY_MORNINGS, MADRID, first, 2)
    assert second == utc(2026, 12, 2, 9, 0)  # 13:30 is outside: Wednesday 10:00 CET
    third = next_attempt_at(RiskLevel.BAJO, WEEKDAY_MORNINGS, MADRID, first, 3)
    assert third == utc(2026, 12, 3, 11, 30)  # +48 h lands inside Thursday's window
    assert LADDERS[RiskLevel.BAJO].then is LadderEnd.CASEWORKER


def test_slots_and_keys_are_stable() -> None:
    due = utc(2026, 11, 30, 23, 30)  # already 1 December in Madrid
    assert slot_name(due, MADRID) == "2026-12-01"
    assert idempotency_key("p1", "2026-12-01", 2) == "checkin:p1:2026-12-01:2"
