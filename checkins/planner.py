"""Turning due check-in plans into attempts on rq's schedule.

Every few minutes (``checkins.jobs.plan_checkins``) the planner takes the active plans due
within the horizon and, for each, creates the slot's first attempt at her first safe moment
(in her time zone, her windows) and moves the plan's due date on by her cadence. The attempt
row's unique idempotency key is inserted first (``ON CONFLICT DO NOTHING ... RETURNING``), and
only the planner whose row went in schedules its job: two planners racing plan each slot once.

A job lost with Redis (a restart without persistence) is found again by :func:`reconcile`:
pending attempts are re-scheduled under the same job id, which rq refuses while the job
exists.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from checkins.context import CheckinContext
from checkins.handover import AfterCommit, open_task
from checkins.policy import CHECKIN_QUEUE, NOTIFICATION_POLICIES, NotificationKind
from checkins.schedule import cadence_days, first_attempt_at, idempotency_key, slot_name
from checkins.scheduling import attempt_job_id, schedule_attempt
from checkins.windows import InvalidWindow, SafeWindow, parse_windows, zone
from store.alarms import Notification
from store.base import new_id
from store.models import Beneficiary
from store.records import CheckinAttempt, CheckinPlan
from store.vocabulary import RiskLevel

log = logging.getLogger(__name__)

HORIZON = timedelta(minutes=15)
BATCH = 2000


@dataclass
class PlanReport:
    planned: int = 0
    scheduled: int = 0
    without_window: int = 0


class _Rules:
    """Parsed windows and zones, shared by the many plans that have the same ones."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[SafeWindow, ...]] = {}
        self._zones: dict[str, ZoneInfo | None] = {}

    def windows(self, raw: Sequence[dict[str, Any]] | None) -> tuple[SafeWindow, ...]:
        text = json.dumps(raw or [], sort_keys=True)
        if text not in self._windows:
            try:
                self._windows[text] = parse_windows(raw or [])
            except InvalidWindow:
                self._windows[text] = ()
        return self._windows[text]

    def zone(self, name: str) -> ZoneInfo | None:
        if name not in self._zones:
            try:
                self._zones[name] = zone(name)
            except InvalidWindow:
                self._zones[name] = None
        return self._zones[name]


def plan_due(
    ctx: CheckinContext,
    *,
    horizon: timedelta = HORIZON,
    now: datetime | None = None,
    batch: int = BATCH,
) -> PlanReport:
    """Create and schedule the first attempt of every slot due before ``now + horizon``."""
    now = now or ctx.clock.now()
    report = PlanReport()
    rules = _Rules()
    while True:
        after = AfterCommit()
        with ctx.sessions() as db, db.begin():
            rows = db.execute(
                select(
                    CheckinPlan.id,
                    CheckinPlan.beneficiary_id,
                    CheckinPlan.cadence_days,
                    CheckinPlan.next_due_at,
                    Beneficiary.risk_level,
                    Beneficiary.timezone,
                    Beneficiary.safe_call_windows,
                )
                .join(Beneficiary, Beneficiary.id == CheckinPlan.beneficiary_id)
                .where(CheckinPlan.active, CheckinPlan.next_due_at <= now + horizon)
                .order_by(CheckinPlan.next_due_at, CheckinPlan.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            created = _plan_rows(db, after, ctx, rows, rules, now, report)
        report.planned += len(created)
        report.scheduled += _schedule_all(ctx, created)
        after.run()
        if len(rows) < batch:
            break
    return report


def _plan_rows(
    db: Session,
    after: AfterCommit,
    ctx: CheckinContext,
    rows: Sequence[Row[Any]],
    rules: _Rules,
    now: datetime,
    report: PlanReport,
) -> list[tuple[str, datetime]]:
    attempts: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    for row in rows:
        plan_id, beneficiary_id, requested, due, risk, tz_name, raw_windows = tuple(row)
        tz = rules.zone(tz_name)
        windows = rules.windows(raw_windows)
        following = _after(due, cadence_days(RiskLevel(risk), requested), tz)
        while following <= now:  # the system was down: one call now, not one per missed slot
            following = _after(following, cadence_days(RiskLevel(risk), requested), tz)
        moves.append({"b_id": plan_id, "b_old": due, "b_new": following})
        slot = slot_name(due, tz) if tz else due.date().isoformat()
        first = first_attempt_at(windows, tz, max(due, now)) if tz else None
        if first is None:
            report.without_window += 1
            open_task(
                db,
                after,
                ctx,
                beneficiary_id=beneficiary_id,
                kind="checkin_no_safe_window",
                source_key=f"nowindow:{plan_id}:{slot}",
                detail={"plan_id": plan_id, "slot": slot},
                at=now,
            )
            continue
        attempts.append(
            {
                "id": new_id(),
                "plan_id": plan_id,
                "beneficiary_id": beneficiary_id,
                "purpose": "checkin",
                "slot": slot,
                "attempt_no": 1,
                "scheduled_at": first,
                "idempotency_key": idempotency_key(plan_id, slot, 1),
            }
        )
    table = cast(Table, CheckinPlan.__table__)
    if moves:
        db.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.next_due_at == bindparam("b_old"))
            .values(next_due_at=bindparam("b_new")),
            moves,
        )
    if not attempts:
        return []
    attempts_table = cast(Table, CheckinAttempt.__table__)
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(attempts_table)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(attempts_table.c.id, attempts_table.c.scheduled_at)
    )
    return [(row[0], row[1]) for row in db.execute(statement, attempts)]


def _after(due: datetime, days: int, tz: ZoneInfo | None) -> datetime:
    """``days`` later on her wall clock, so a 10:00 check-in stays at 10:00 across a
    daylight-saving change."""
    if tz is None:
        return due + timedelta(days=days)
    return (due.astimezone(tz) + timedelta(days=days)).astimezone(UTC)


def _schedule_all(ctx: CheckinContext, created: list[tuple[str, datetime]]) -> int:
    pipe = ctx.jobs.pipeline(transaction=False)
    for attempt_id, when in created:
        schedule_attempt(ctx, attempt_id, when, CHECKIN_QUEUE, pipeline=pipe)
    pipe.execute()
    return len(created)


def reconcile(
    ctx: CheckinContext,
    *,
    now: datetime | None = None,
    horizon: timedelta = HORIZON,
    look_back: timedelta = timedelta(days=1),
) -> int:
    """Schedule again pending attempts whose job is gone; return how many were."""
    now = now or ctx.clock.now()
    with ctx.sessions() as db:
        rows = db.execute(
            select(CheckinAttempt.id, CheckinAttempt.scheduled_at, Notification.kind)
            .outerjoin(Notification, Notification.id == CheckinAttempt.notification_id)
            .outerjoin(CheckinPlan, CheckinPlan.id == CheckinAttempt.plan_id)
            .where(
                or_(CheckinPlan.active, CheckinAttempt.plan_id.is_(None)),
                CheckinAttempt.outcome.is_(None),
                CheckinAttempt.call_id.is_(None),
                CheckinAttempt.scheduled_at >= now - look_back,
                CheckinAttempt.scheduled_at <= now + horizon,
                or_(
                    CheckinAttempt.started_at.is_(None),
                    CheckinAttempt.started_at < now - ctx.claim_lease,
                ),
            )
        ).all()
    again = 0
    for attempt_id, when, kind in rows:
        queue = NOTIFICATION_POLICIES[NotificationKind(kind)].queue if kind else CHECKIN_QUEUE
        if schedule_attempt(ctx, attempt_id, when, queue, job_id=attempt_job_id(attempt_id, when)):
            again += 1
    if again:
        log.warning("re-scheduled %d check-in attempts whose job was missing", again)
    return again
