"""Ringing a line's urgent team about a call, and recording who answered the ring.

Durable first (safety rule 4): the escalation row is written before routing starts the ladder.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.errors import EscalationRefused
from routing import Router
from routing.channels import base_call_id
from routing.errors import RoutingError
from store.base import new_id
from store.records import Escalation


def _when(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def request_escalation(
    sessions: sessionmaker[Session],
    router: Router,
    call_id: str,
    team_id: str,
    reason: str,
    now: float,
) -> str:
    """Open an escalation of ``call_id`` to ``team_id`` and start its ladder; returns its id."""
    escalation_id = new_id()
    with sessions() as db, db.begin():
        db.add(
            Escalation(
                id=escalation_id,
                call_id=call_id,
                team_id=team_id,
                reason=reason,
                opened_at=_when(now),
            )
        )
    try:
        router.escalate(escalation_id, team_id, reason, now, call_id)
    except RoutingError as exc:
        raise EscalationRefused(exc.error_id, exc.message) from exc
    return escalation_id


def mark_acknowledged(
    sessions: sessionmaker[Session],
    agent_id: str,
    now: float,
    *,
    escalation_id: str | None = None,
    call_id: str | None = None,
) -> None:
    """Record that ``agent_id`` answered: the escalation ``escalation_id`` and, for a call's
    ladder (``call:<routing id>``) or a call a person now has, every open one of that call."""
    if escalation_id is not None and escalation_id.startswith("call:"):
        call_id = base_call_id(escalation_id.removeprefix("call:"))
    with sessions() as db, db.begin():
        rows = []
        if escalation_id is not None:
            row = db.get(Escalation, escalation_id)
            rows += [row] if row is not None else []
        if call_id is not None:
            rows += list(db.scalars(select(Escalation).where(Escalation.call_id == call_id)))
        for item in rows:
            if item.acknowledged_at is None:
                item.acknowledged_at = _when(now)
                item.acknowledged_by = agent_id
