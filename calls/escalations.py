"""Ringing a line's urgent team about a call, who may answer a ring, recording who did, and
closing the rings a call no longer needs.

Durable first (safety rule 4): the escalation row is written before routing starts the ladder.
Answering a ring gives the case (where she is), so only its team, the agent on its call,
supervisors and admins may (:func:`may_answer`); a refusal is audited.

A ladder raised to get a person to a waiting caller (a severe or silent call, an alarm call)
closes once a person has her: an agent accepts her call (``answered``), or her call ends
after reaching an agent or the line's overflow number (``call_ended``). Closed is not
acknowledged: nobody is recorded as having answered the team's ring. Two kinds stay until a
person acknowledges them, whatever happens to the call: one an agent asked for
(``agent_request``, the team must act beyond the call) and one raised because she hung up at
risk (``hung_up_at_risk``); a caller at risk who hangs up before reaching anyone keeps her
ladder ringing too (safety rules 1 and 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.errors import EscalationForbidden, EscalationRefused, UnknownEscalation
from routing import Router, views
from routing.channels import base_call_id
from routing.errors import RoutingError
from store import audit
from store.base import new_id
from store.models import TeamMember
from store.records import Call, CheckinAttempt, Escalation
from store.vocabulary import AgentRole


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


KEPT_AFTER_CALL = frozenset({"agent_request", "hung_up_at_risk"})
"""Reasons whose ladder asks the team to act beyond the call: never closed by the call."""


def close_call_escalations(
    sessions: sessionmaker[Session],
    router: Router,
    call_id: str,
    reason: str,
    now: float,
) -> list[str]:
    """Close the ladders of ``call_id`` (any of its legs) that only sought a person for her,
    in routing and in their rows; returns the ids routing closed. ``reason`` is ``answered``
    or ``call_ended``."""
    ringing = [
        item.escalation_id
        for item in views.open_escalations(router.client, now)
        if item.reason not in KEPT_AFTER_CALL
        and (
            (item.call_id and base_call_id(item.call_id) == call_id)
            or base_call_id(item.escalation_id.removeprefix("call:")) == call_id
        )
    ]
    closed = [
        eid for eid in ringing if router.close_escalation(eid, reason, now).status == "closed"
    ]
    with sessions() as db, db.begin():
        rows = db.scalars(
            select(Escalation).where(
                Escalation.call_id == call_id,
                Escalation.acknowledged_at.is_(None),
                Escalation.closed_at.is_(None),
                Escalation.reason.not_in(KEPT_AFTER_CALL),
            )
        )
        for row in rows:
            row.closed_at = _when(now)
            row.closed_reason = reason
    return closed


@dataclass(frozen=True)
class EscalationAbout:
    """An escalation as whoever holds it knows it: the durable row, else routing's ladder."""

    escalation_id: str
    team_id: str | None
    reason: str
    call_id: str | None
    """The call it is about, or the call that answered it (a check-in's attempt)."""
    opened_at: float


def find_escalation(db: Session, live: redis.Redis, escalation_id: str) -> EscalationAbout:
    """Raises :class:`UnknownEscalation` when neither the database nor routing has it."""
    row = db.get(Escalation, escalation_id) if escalation_id else None
    ladder = views.ladder(live, escalation_id) if escalation_id else None
    if row is None and ladder is None:
        raise UnknownEscalation("console.unknown_escalation", "no such escalation")
    call_id = row.call_id if row is not None else None
    if call_id is None and ladder is not None and ladder.call_id:
        call_id = base_call_id(ladder.call_id)
    if escalation_id.startswith("call:"):
        call_id = base_call_id(escalation_id.removeprefix("call:"))
    elif escalation_id.startswith("checkin:"):
        attempt = db.get(CheckinAttempt, escalation_id.removeprefix("checkin:"))
        call_id = attempt.call_id if attempt is not None else call_id
    team_id: str | None
    if row is not None:
        team_id, reason, opened_at = row.team_id, row.reason, row.opened_at.timestamp()
    else:
        assert ladder is not None
        team_id, reason, opened_at = ladder.team_id or None, ladder.reason, ladder.started_at
    return EscalationAbout(escalation_id, team_id, reason, call_id, opened_at)


def may_answer(db: Session, escalation: EscalationAbout, agent_id: str, role: str) -> bool:
    """Who may acknowledge an escalation and read its case: supervisors and admins, the
    members of its urgent team, and the agent on its call. Nobody else: the case holds where
    she is."""
    if role in (AgentRole.SUPERVISOR, AgentRole.ADMIN):
        return True
    if escalation.team_id and db.get(TeamMember, (escalation.team_id, agent_id)) is not None:
        return True
    call = db.get(Call, escalation.call_id) if escalation.call_id else None
    return call is not None and call.agent_id == agent_id


def authorize_answer(
    sessions: sessionmaker[Session],
    live: redis.Redis,
    escalation_id: str,
    agent_id: str,
    role: str,
    act: str,
) -> EscalationAbout:
    """The escalation, when ``agent_id`` may answer it; otherwise the refusal of ``act``
    (``acknowledge`` or ``read_case``) is audited and :class:`EscalationForbidden` raised."""
    with sessions() as db, db.begin():
        escalation = find_escalation(db, live, escalation_id)
        if may_answer(db, escalation, agent_id, role):
            return escalation
        audit.record(
            db,
            actor_type="agent",
            actor_id=agent_id,
            action="escalation_refused",
            subject_type="escalation",
            subject_id=escalation_id,
            detail={"act": act, "role": role, "team_id": escalation.team_id},
        )
    raise EscalationForbidden(
        "console.not_your_escalation", "only its team, the agent on its call or a supervisor"
    )
