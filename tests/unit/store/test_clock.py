"""The one clock: routing's float seconds and check-ins' datetimes are readings of one instant."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from store.clock import Clock, ManualClock, SystemClock


def test_the_system_clock_reads_aware_utc_and_epoch_seconds_of_the_same_moment() -> None:
    clock: Clock = SystemClock()
    before = time.time()
    now, seconds = clock.now(), clock.time()
    after = time.time()
    assert now.tzinfo is UTC
    assert before <= now.timestamp() <= seconds <= after


def test_a_manual_clock_stands_still_until_moved() -> None:
    clock: Clock = ManualClock.at(1_717_400_000.0)
    assert clock.time() == clock.time() == 1_717_400_000.0
    assert clock.now() == datetime(2024, 6, 3, 7, 33, 20, tzinfo=UTC)


def test_given_seconds_or_a_timedelta_then_both_readings_move_together() -> None:
    clock = ManualClock.at(1_717_400_000.0)
    clock.advance(0.5)
    clock.advance(timedelta(minutes=1))
    for _ in range(10):
        clock.advance(16)
    assert clock.time() == 1_717_400_000.0 + 0.5 + 60 + 160
    assert clock.now() == datetime.fromtimestamp(clock.time(), UTC)


def test_a_manual_clock_can_be_set_to_an_instant() -> None:
    clock = ManualClock(datetime(2026, 3, 29, 0, 59, tzinfo=UTC))
    at = datetime(2026, 3, 29, 1, 1, tzinfo=UTC)
    assert clock.set(at) == at
    assert clock.now() == at
    assert clock.time() == at.timestamp()
