"""Unanswered check-ins: each risk's ladder of retries, and who takes over at its end."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from checkins import planner
from checkins.attempts import RunResult, report_unanswered, run_attempt
from checkins.context import CheckinContext
from checkins.scheduling import not_before
from runtime import Runtime
from store.alarms import CaseworkerTask
from store.clock import ManualClock
from store.live_state import job_queue
from store.records import Escalation
from store.vocabulary import RiskLevel
from tests.harness.hotline import Hotline
from tests.integration.checkins.calls import (
    ALL_DAY,
    ladder_status,
    latest,
    let_it_ring,
    start_slot,
    supervisor_alerts,
)
from tests.integration.checkins.helpers import add_plan, attempts_of, drain, scheduled_job_ids

MADRID = ZoneInfo("Europe/Madrid")
MORNINGS = [{"days": list(range(7)), "start": "09:00", "end": "14:00"}]


def ring_out_ladder(ctx: CheckinContext, clock: ManualClock, hotline: Hotline) -> list[datetime]:
    """Let every attempt ring out, following the ladder; return when each attempt dialed."""
    dialed = []
    for _ in range(5):
        attempt = latest(ctx, hotline)
        if attempt.outcome is not None:
            break
        if attempt.call_id is None:
            clock.set(max(clock.now(), attempt.scheduled_at))
            drain(ctx.jobs, clock)
            attempt = latest(ctx, hotline)
        assert attempt.started_at is not None
        dialed.append(attempt.started_at)
        let_it_ring(ctx, clock)
    return dialed


def tasks_for(ctx: CheckinContext, hotline: Hotline) -> list[str]:
    with ctx.sessions() as db:
        return list(
            db.scalars(
                select(CaseworkerTask.kind).where(
                    CaseworkerTask.beneficiary_id == hotline.beneficiary_id
                )
            )
        )


def test_high_risk_is_tried_at_0_10_and_25_minutes_then_the_urgent_team_and_a_supervisor(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    start = clock.now()
    start_slot(ctx, clock, hotline, risk=RiskLevel.ALTO, windows=ALL_DAY)
    dialed = ring_out_ladder(ctx, clock, hotline)
    assert [moment - start for moment in dialed] == [
        timedelta(0),
        timedelta(minutes=10),
        timedelta(minutes=25),
    ]
    last = latest(ctx, hotline)
    assert [a.outcome for a in attempts_of(ctx.sessions, hotline.beneficiary_id)] == [
        "no_answer"
    ] * 3
    with ctx.sessions() as db:
        escalation = db.get(Escalation, f"checkin:{last.id}")
    assert escalation is not None and escalation.reason == "checkin_unanswered"
    assert ladder_status(runtime, f"checkin:{last.id}") == "active"
    assert [a for a in supervisor_alerts(runtime) if a["kind"] == "checkin_unanswered"]


def test_high_risk_near_the_end_of_her_window_goes_to_the_urgent_team_at_once(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    day = clock.now().date()
    clock.set(datetime.combine(day, time(13, 55), tzinfo=MADRID).astimezone(UTC))
    start_slot(ctx, clock, hotline, risk=RiskLevel.EXTREMO, windows=MORNINGS)
    dialed = ring_out_ladder(ctx, clock, hotline)
    assert len(dialed) == 1  # +10 minutes would be outside her window
    last = latest(ctx, hotline)
    assert ladder_status(runtime, f"checkin:{last.id}") == "active"


def test_medium_risk_is_tried_three_times_over_two_hours_then_a_caseworker_task(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    start = clock.now()
    start_slot(ctx, clock, hotline, risk=RiskLevel.MEDIO, windows=ALL_DAY)
    dialed = ring_out_ladder(ctx, clock, hotline)
    assert [moment - start for moment in dialed] == [
        timedelta(0),
        timedelta(hours=1),
        timedelta(hours=2),
    ]
    assert tasks_for(ctx, hotline) == ["checkin_unreached"]
    assert not [a for a in supervisor_alerts(runtime) if a["kind"] == "checkin_unanswered"]


def test_low_risk_is_tried_three_times_over_48_hours_then_a_caseworker_task(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    start = clock.now()
    start_slot(ctx, clock, hotline, risk=RiskLevel.BAJO, windows=ALL_DAY)
    dialed = ring_out_ladder(ctx, clock, hotline)
    assert [moment - start for moment in dialed] == [
        timedelta(0),
        timedelta(hours=24),
        timedelta(hours=48),
    ]
    assert tasks_for(ctx, hotline) == ["checkin_unreached"]


def test_a_busy_line_reported_by_the_edge_counts_at_once_and_the_timeout_changes_nothing(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    attempt = start_slot(ctx, clock, hotline, risk=RiskLevel.ALTO, windows=ALL_DAY)
    assert report_unanswered(ctx, str(attempt.call_id), "busy")
    assert not report_unanswered(ctx, str(attempt.call_id), "busy")
    let_it_ring(ctx, clock)
    first, second = attempts_of(ctx.sessions, hotline.beneficiary_id)
    assert first.outcome == "busy" and second.attempt_no == 2 and second.outcome is None


def test_a_late_worker_outside_her_window_moves_the_call_instead_of_placing_it(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    day = clock.now().date()
    clock.set(datetime.combine(day, time(9, 0), tzinfo=UTC))  # 10:00 Madrid (winter)
    attempt = start_slot(ctx, clock, hotline, risk=RiskLevel.MEDIO, windows=MORNINGS)
    let_it_ring(ctx, clock)
    retry = latest(ctx, hotline)
    assert retry.attempt_no == 2
    clock.set(datetime.combine(day, time(18, 0), tzinfo=UTC))  # the worker ran very late
    drain(ctx.jobs, clock)
    moved = latest(ctx, hotline)
    assert moved.id == retry.id and moved.call_id is None  # not placed at 19:00
    assert moved.scheduled_at > clock.now()
    assert attempt.id != moved.id


def test_a_late_high_risk_retry_outside_her_window_hands_over_instead_of_calling(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    day = clock.now().date()
    clock.set(datetime.combine(day, time(9, 0), tzinfo=UTC))
    start_slot(ctx, clock, hotline, risk=RiskLevel.ALTO, windows=MORNINGS)
    let_it_ring(ctx, clock)
    retry = latest(ctx, hotline)
    clock.set(datetime.combine(day, time(18, 0), tzinfo=UTC))
    drain(ctx.jobs, clock)
    assert latest(ctx, hotline).outcome == "outside_window"
    assert ladder_status(runtime, f"checkin:{retry.id}") == "active"


def test_a_job_released_a_moment_before_her_window_opens_waits_for_it_and_is_not_lost(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    day = clock.now().date()
    opens = datetime.combine(day, time(9, 0), tzinfo=MADRID).astimezone(UTC)
    clock.set(opens - timedelta(milliseconds=400))
    add_plan(ctx.sessions, hotline.beneficiary_id, clock.now(), safe_call_windows=MORNINGS)
    planner.plan_due(ctx)
    [attempt] = attempts_of(ctx.sessions, hotline.beneficiary_id)
    assert attempt.scheduled_at == opens
    [job_id] = scheduled_job_ids(ctx.jobs)
    when = job_queue(ctx.jobs, "checkins").scheduled_job_registry.get_scheduled_time(job_id)
    assert when >= opens  # never released before the window opens
    # Even run early (a clock a little ahead on the worker), the attempt is moved, not lost.
    assert run_attempt(ctx, attempt.id) is RunResult.DEFERRED
    clock.set(opens)
    drain(ctx.jobs, clock)
    assert latest(ctx, hotline).call_id is not None


def test_a_fractional_time_is_scheduled_at_the_next_whole_second(ctx: CheckinContext) -> None:
    when = ctx.clock.now() + timedelta(minutes=3, milliseconds=250)
    assert not_before(when) == when.replace(microsecond=0) + timedelta(seconds=1)
    assert not_before(when.replace(microsecond=0)) == when.replace(microsecond=0)
