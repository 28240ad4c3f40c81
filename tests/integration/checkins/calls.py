"""Driving check-in calls through the simulator in tests."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from checkins import planner
from checkins.context import CheckinContext
from routing.channels import SUPERVISOR_FEED
from routing.state import routing_key
from runtime import Runtime
from store.clock import ManualClock
from store.records import CheckinAttempt
from store.vocabulary import RiskLevel
from tests.harness.hotline import Hotline
from tests.integration.checkins.helpers import add_plan, attempts_of, drain

ALL_DAY = [{"days": list(range(7)), "start": "00:00", "end": "23:59"}]
PIN, DURESS = "2468", "24687"


def start_slot(
    ctx: CheckinContext,
    clock: ManualClock,
    hotline: Hotline,
    risk: RiskLevel = RiskLevel.MEDIO,
    windows: list[dict[str, Any]] | None = None,
) -> CheckinAttempt:
    """A plan due now, planned and dialed: her phone rings."""
    add_plan(
        ctx.sessions,
        hotline.beneficiary_id,
        clock.now(),
        risk_level=risk,
        safe_call_windows=windows or ALL_DAY,
    )
    planner.plan_due(ctx)
    drain(ctx.jobs, clock)
    return latest(ctx, hotline)


def latest(ctx: CheckinContext, hotline: Hotline) -> CheckinAttempt:
    return attempts_of(ctx.sessions, hotline.beneficiary_id)[-1]


def answer(runtime: Runtime, attempt: CheckinAttempt, *keys: str) -> list[str]:
    """She picks up and presses ``keys``; returns what she heard."""
    phones = runtime.simulator
    assert attempt.call_id in phones.ringing()
    call = phones.answer(str(attempt.call_id))
    for key in keys:
        call = phones.press(call.call_id, key)
    return call.heard()


def let_it_ring(ctx: CheckinContext, clock: ManualClock) -> None:
    """Nobody picks up: the ring timeout passes."""
    clock.advance(ctx.ring_timeout + timedelta(seconds=1))
    drain(ctx.jobs, clock)


def supervisor_alerts(runtime: Runtime) -> list[dict[str, Any]]:
    return [json.loads(item) for item in runtime.redis.lrange(SUPERVISOR_FEED, 0, -1)]


def ladder_status(runtime: Runtime, escalation_id: str) -> str | None:
    status = runtime.redis.hget(routing_key("esc", escalation_id), "status")
    return None if status is None else str(status)
