"""Handing a beneficiary over to people: the urgent team's ladder (with a supervisor alert)
or a caseworker task.

The record (an ``Escalation`` row, a ``CaseworkerTask``) is written in the caller's
transaction; ringing the team and alerting supervisors happen after it commits
(:class:`AfterCommit`), so a crash never rings for something that was not recorded. A ladder
whose start was lost (Redis down at that moment) is started again by
``checkins.alarms.sweep`` from the rows: ``escalate`` is idempotent on the escalation id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkins.context import CheckinContext
from store.alarms import CaseworkerTask
from store.records import Escalation

log = logging.getLogger(__name__)

#: Escalation reasons opened here (the sweeper re-asserts only these).
REASONS = frozenset(
    {
        "device_alarm",
        "checkin_unanswered",
        "checkin_unverified_twice",
        "proximity_alert",
        "notice_unanswered",
    }
)


@dataclass
class AfterCommit:
    """Side effects to run once the transaction that recorded them has committed."""

    actions: list[Callable[[], Any]] = field(default_factory=list)

    def add(self, action: Callable[[], Any]) -> None:
        self.actions.append(action)

    def run(self) -> int:
        """Run every action; a failing one is logged and does not stop the others."""
        failed = 0
        for action in self.actions:
            try:
                action()
            except Exception:
                failed += 1
                log.exception("side effect after commit failed; the sweeper retries ladders")
        self.actions.clear()
        return failed


def open_escalation(
    db: Session,
    after: AfterCommit,
    ctx: CheckinContext,
    *,
    escalation_id: str,
    team_id: str | None,
    reason: str,
    at: datetime,
    alert: dict[str, Any],
) -> None:
    """Record an urgent-team escalation and, after commit, start its ladder and tell the
    supervisors. Without any team, the supervisors' alert is the only way left."""
    if team_id is not None and db.get(Escalation, escalation_id) is None:
        db.add(Escalation(id=escalation_id, team_id=team_id, reason=reason, opened_at=at))
    data = {"escalation_id": escalation_id, "reason": reason, **alert}
    if team_id is not None:
        after.add(lambda: ctx.alerts.escalate(escalation_id, team_id, reason, at.timestamp()))
    else:
        log.error("escalation %s: no urgent team configured; supervisors alerted", escalation_id)
        data["no_team"] = True
    after.add(lambda: ctx.alerts.notify_supervisors(reason, data))


def open_task(
    db: Session,
    after: AfterCommit,
    ctx: CheckinContext,
    *,
    beneficiary_id: str,
    kind: str,
    source_key: str,
    detail: dict[str, Any],
    at: datetime,
) -> bool:
    """A caseworker task, once per ``source_key``; False when it already existed."""
    if db.scalar(select(CaseworkerTask.id).where(CaseworkerTask.source_key == source_key)):
        return False
    try:
        with db.begin_nested():
            task = CaseworkerTask(
                beneficiary_id=beneficiary_id,
                kind=kind,
                source_key=source_key,
                detail=detail,
                created_at=at,
            )
            db.add(task)
    except IntegrityError:
        return False
    data = {"task_id": task.id, "kind": kind, "beneficiary_id": beneficiary_id}
    after.add(lambda: ctx.alerts.notify_supervisors("caseworker_task", data))
    return True


def open_tasks(db: Session, limit: int = 100) -> list[CaseworkerTask]:
    """Tasks nobody has closed yet, oldest first (for the console and supervisors)."""
    return list(
        db.scalars(
            select(CaseworkerTask)
            .where(CaseworkerTask.done_at.is_(None))
            .order_by(CaseworkerTask.created_at)
            .limit(limit)
        )
    )
