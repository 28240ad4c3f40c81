"""Planning check-ins: cadence by risk, her safe windows in her time zone across daylight-saving
changes, one attempt per slot however many planners run, late workers re-checking windows."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from checkins import planner
from checkins.context import CheckinContext
from store.alarms import CaseworkerTask
from store.clock import ManualClock
from store.live_state import job_queue
from store.models import Beneficiary
from store.records import CheckinPlan
from store.vocabulary import RiskLevel
from tests.harness.hotline import Hotline
from tests.integration.checkins.helpers import (
    add_plan,
    attempts_of,
    drain,
    last_sunday,
    scheduled_job_ids,
)

MADRID = ZoneInfo("Europe/Madrid")
LIMA = ZoneInfo("America/Lima")
WEEKDAY_MORNINGS = [{"days": [0, 1, 2, 3, 4], "start": "10:00", "end": "13:00"}]
EVERY_MORNING = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "10:00", "end": "13:00"}]


def local(day: date, hour: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=tz).astimezone(UTC)


def next_due(ctx: CheckinContext, plan_id: str) -> datetime | None:
    with ctx.sessions() as db:
        plan = db.get(CheckinPlan, plan_id)
        assert plan is not None
        return plan.next_due_at


def test_a_due_plan_is_called_at_her_first_safe_moment_in_her_own_time_zone(
    ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    monday = clock.now().date()
    clock.set(local(monday, 5, LIMA))  # 05:00 in Lima: too early
    plan_id = add_plan(
        ctx.sessions,
        hotline.beneficiary_id,
        clock.now(),
        cadence_days=15,
        timezone="America/Lima",
        safe_call_windows=WEEKDAY_MORNINGS,
        risk_level=RiskLevel.BAJO,
    )
    assert planner.plan_due(ctx).planned == 1
    [attempt] = attempts_of(ctx.sessions, hotline.beneficiary_id)
    assert attempt.scheduled_at == local(monday, 10, LIMA)
    assert attempt.slot == monday.isoformat()
    # bajo is monthly by default; she asked for every 15 days, which is granted.
    assert next_due(ctx, plan_id) == clock.now() + timedelta(days=15)
    assert any(
        job.startswith(f"checkin-attempt-{attempt.id}") for job in scheduled_job_ids(ctx.jobs)
    )


def test_cadence_follows_her_risk_and_never_gets_less_frequent_than_it(
    ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    plan_id = add_plan(
        ctx.sessions,
        hotline.beneficiary_id,
        clock.now(),
        cadence_days=30,
        risk_level=RiskLevel.ALTO,
        safe_call_windows=EVERY_MORNING,
    )
    planner.plan_due(ctx)
    assert next_due(ctx, plan_id) == clock.now() + timedelta(days=7)


def test_windows_follow_her_wall_clock_across_both_daylight_saving_changes(
    ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    year = clock.now().year + 1
    spring = last_sunday(year, 3)  # Madrid: 02:00 CET -> 03:00 CEST
    autumn = last_sunday(year, 10)  # Madrid: 03:00 CEST -> 02:00 CET
    plan_id = add_plan(
        ctx.sessions,
        hotline.beneficiary_id,
        local(spring - timedelta(days=2), 10, MADRID),  # the Friday before, 10:00 CET
        cadence_days=1,
        risk_level=RiskLevel.EXTREMO,
        safe_call_windows=EVERY_MORNING,
    )
    seen = []
    for offset in range(-2, 3):  # Friday to Tuesday around the change
        day = spring + timedelta(days=offset)
        clock.set(local(day, 9, MADRID))
        planner.plan_due(ctx, horizon=timedelta(hours=2))
    for attempt in attempts_of(ctx.sessions, hotline.beneficiary_id):
        seen.append(attempt.scheduled_at.astimezone(MADRID).time())
    assert seen == [time(10, 0)] * 5  # 09:00 UTC before the change, 08:00 UTC after
    # And in autumn, a due date left at 10:00 summer time is still called at 10:00 winter time.
    with ctx.sessions() as db, db.begin():
        plan = db.get(CheckinPlan, plan_id)
        assert plan is not None
        plan.next_due_at = local(autumn - timedelta(days=1), 10, MADRID)
    for offset in (-1, 0, 1):
        clock.set(local(autumn + timedelta(days=offset), 9, MADRID))
        planner.plan_due(ctx, horizon=timedelta(hours=2))
    autumn_attempts = [
        a
        for a in attempts_of(ctx.sessions, hotline.beneficiary_id)
        if a.scheduled_at >= local(autumn - timedelta(days=1), 0, MADRID)
    ]
    assert [a.scheduled_at.astimezone(MADRID).time() for a in autumn_attempts] == [time(10, 0)] * 3
    assert [a.scheduled_at.hour for a in autumn_attempts] == [8, 9, 9]  # UTC hours


def test_a_slot_is_planned_once_however_many_planners_run_at_once(
    ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    add_plan(ctx.sessions, hotline.beneficiary_id, clock.now(), safe_call_windows=EVERY_MORNING)
    reports: list[planner.PlanReport] = []
    threads = [
        threading.Thread(target=lambda: reports.append(planner.plan_due(ctx))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(report.planned for report in reports) == 1
    assert len(attempts_of(ctx.sessions, hotline.beneficiary_id)) == 1
    assert planner.plan_due(ctx).planned == 0


def test_after_an_outage_one_call_is_made_not_one_per_missed_slot(
    ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    plan_id = add_plan(
        ctx.sessions,
        hotline.beneficiary_id,
        clock.now() - timedelta(days=5),
        cadence_days=1,
        risk_level=RiskLevel.EXTREMO,
        safe_call_windows=[{"days": list(range(7)), "start": "00:00", "end": "23:59"}],
    )
    assert planner.plan_due(ctx).planned == 1
    due = next_due(ctx, plan_id)
    assert due is not None and clock.now() < due <= clock.now() + timedelta(days=1)


def test_a_beneficiary_without_a_safe_window_is_never_called_and_a_caseworker_is_told(
    ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    add_plan(ctx.sessions, hotline.beneficiary_id, clock.now(), safe_call_windows=[])
    report = planner.plan_due(ctx)
    assert report.planned == 0 and report.without_window == 1
    assert attempts_of(ctx.sessions, hotline.beneficiary_id) == []
    with ctx.sessions() as db:
        kinds = db.scalars(
            select(CaseworkerTask.kind).where(
                CaseworkerTask.beneficiary_id == hotline.beneficiary_id
            )
        ).all()
    assert kinds == ["checkin_no_safe_window"]


def test_a_job_lost_with_redis_is_scheduled_again(
    ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    add_plan(ctx.sessions, hotline.beneficiary_id, clock.now(), safe_call_windows=EVERY_MORNING)
    planner.plan_due(ctx)
    assert planner.reconcile(ctx) == 0  # the job is there
    ctx.jobs.flushdb()
    assert planner.reconcile(ctx) == 1
    drain(ctx.jobs, clock)
    [attempt] = attempts_of(ctx.sessions, hotline.beneficiary_id)
    assert attempt.call_id is not None


def test_many_slots_due_at_once_are_all_queued(
    ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    people = [hotline.beneficiary_id]
    with ctx.sessions() as db, db.begin():
        for index in range(5):
            person = Beneficiary(
                reference=f"M-{hotline.beneficiary_id[:8]}-{index}",
                full_name="Many",
                preferred_locale="es",
                timezone="Europe/Madrid",
                line_id=hotline.line_id,
                safe_call_windows=EVERY_MORNING,
            )
            db.add(person)
            db.flush()
            people.append(person.id)
    for beneficiary_id in people:
        add_plan(
            ctx.sessions,
            beneficiary_id,
            clock.now(),
            safe_call_windows=[{"days": list(range(7)), "start": "00:00", "end": "23:59"}],
        )
    assert planner.plan_due(ctx).planned == 6
    assert job_queue(ctx.jobs, "checkins").count == 6
