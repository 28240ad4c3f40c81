"""The starvation bound: a low-risk caller is overtaken by new severe callers for at most
(p_extremo - p_low) / rate seconds, and waits no longer than the load bound says."""

from __future__ import annotations

from datetime import UTC, datetime

from routing import QueueConfig, RouterConfig
from routing.priority import DEFAULT_PRIORITY_BY_RISK, overtaking_window, wait_bound
from store.vocabulary import RiskLevel
from tests.unit.routing.conftest import MakeHarness

HANDLE = 30.0
ARRIVAL_EVERY = 20.0


def test_virtual_arrival_order_matches_effective_priority_at_any_time() -> None:
    from routing.priority import effective_priority, virtual_arrival

    calls = [(0.0, 0), (100.0, 600), (350.0, 60), (500.0, 360)]
    for now in (500.0, 800.0, 5000.0):
        by_effective = sorted(calls, key=lambda c: -effective_priority(c[1], now - c[0], 1.0))
        by_virtual = sorted(calls, key=lambda c: virtual_arrival(c[0], c[1], 1.0))
        assert by_effective == by_virtual


def test_given_an_overloaded_line_of_severe_calls_then_a_low_risk_call_still_gets_answered(
    make_harness: MakeHarness,
) -> None:
    config = RouterConfig(
        default_queue=QueueConfig("default", widening=(), max_wait_seconds=1e6),
        wrap_up_seconds=0,
    )
    harness = make_harness(config)
    start = harness.now
    harness.agent("only-agent")
    arrivals: dict[str, float] = {}
    answered_at: dict[str, float] = {}
    busy_until: tuple[str, float] | None = None
    severe_count = 0
    next_severe = start
    for second in range(3000):
        now = start + second
        harness.clock.set(datetime.fromtimestamp(now, UTC))
        if now >= next_severe:
            call_id = f"severe-{severe_count}"
            harness.call(call_id, risk=RiskLevel.EXTREMO)
            arrivals[call_id] = now
            severe_count += 1
            next_severe += ARRIVAL_EVERY
        if second == 100:
            harness.call("low", risk=RiskLevel.NO_APRECIADO)
            arrivals["low"] = now
        if busy_until and busy_until[1] <= now:
            harness.router.hangup(busy_until[0], now)
            busy_until = None
        harness.router.sweep(now)
        offered = harness.agent_field("only-agent", "call")
        if offered and harness.agent_field("only-agent", "state") == "offered":
            harness.router.accept(offered, "only-agent", now)
            answered_at[offered] = now
            busy_until = (offered, now + HANDLE)
        if "low" in answered_at:
            break

    assert "low" in answered_at
    low_arrival = arrivals["low"]
    window = overtaking_window(
        DEFAULT_PRIORITY_BY_RISK[RiskLevel.NO_APRECIADO],
        DEFAULT_PRIORITY_BY_RISK[RiskLevel.EXTREMO],
        1.0,
    )
    assert window == 600
    answered_before_low = [c for c, t in answered_at.items() if t < answered_at["low"]]
    assert all(arrivals[c] < low_arrival + window for c in answered_before_low)
    later_severe = [c for c, t in arrivals.items() if t >= low_arrival + window]
    assert later_severe and not any(c in answered_at for c in later_severe)
    queued_ahead = sum(
        1
        for c, t in arrivals.items()
        if c != "low" and t <= low_arrival and answered_at.get(c, float("inf")) > low_arrival
    )
    bound = wait_bound(
        queued_ahead=queued_ahead,
        arrival_rate=1 / ARRIVAL_EVERY,
        service_rate=1 / HANDLE,
        p_low=0,
        p_max=600,
        rate=1.0,
    )
    waited = answered_at["low"] - low_arrival
    assert window <= waited <= bound + HANDLE
