"""The outbound pacer on a real Redis: slots one interval apart, booked in order, never
dropped; a caller who will not wait that long books nothing."""

from __future__ import annotations

import pytest
import redis

from telephony.twilio.rate_limit import OutboundBusy, OutboundPacer


def test_calls_get_slots_one_interval_apart_whoever_asks(redis_client: redis.Redis) -> None:
    first = OutboundPacer(redis_client, 2.0)
    second = OutboundPacer(redis_client, 2.0)  # another process: same bucket in Redis
    waits = [pacer.acquire(now=1000.0) for pacer in (first, second, first, second)]
    assert waits == pytest.approx([0.0, 0.5, 1.0, 1.5])


def test_an_idle_bucket_does_not_save_up_a_burst(redis_client: redis.Redis) -> None:
    pacer = OutboundPacer(redis_client, 1.0)
    assert pacer.acquire(now=10.0) == 0.0
    assert pacer.acquire(now=100.0) == 0.0
    assert pacer.acquire(now=100.0) == pytest.approx(1.0)


def test_a_caller_that_will_not_wait_books_nothing(redis_client: redis.Redis) -> None:
    pacer = OutboundPacer(redis_client, 1.0)
    pacer.acquire(now=50.0)
    pacer.acquire(now=50.0)
    with pytest.raises(OutboundBusy) as busy:
        pacer.acquire(now=50.0, max_wait_s=1.5)
    assert busy.value.wait_s == pytest.approx(2.0)
    assert pacer.acquire(now=50.0) == pytest.approx(2.0), "the refused slot was not taken"


def test_wait_turn_sleeps_until_the_booked_slot(redis_client: redis.Redis) -> None:
    slept: list[float] = []
    pacer = OutboundPacer(redis_client, 5.0, sleep=slept.append)
    assert pacer.wait_turn() == 0.0
    assert pacer.wait_turn() == pytest.approx(0.2, abs=0.05)
    assert slept == [pytest.approx(0.2, abs=0.05)]
