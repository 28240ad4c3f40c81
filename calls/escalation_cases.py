"""The case behind an escalation, for the person who answers it: who she is (her file,
decrypted), when an alarm is behind it where she is, and the line's resources (nearest to the
fix, else in her municipality, else all of them).

What an escalation is about follows from its id: ``alarm:<stored alarm>`` (her alarm and its
location), ``call:<call>`` (the caller, and the alarm behind the call), ``checkin:<attempt>``
(the beneficiary the check-in was for), ``prox:<notification>:<beneficiary>`` (the beneficiary
a proximity notice was about); any other id is a call's escalation asked for from the console.
Every read of her file and of a location is audited in the same transaction as the read.
Callers check who may read first (:func:`calls.escalations.authorize_answer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.escalations import EscalationAbout
from calls.resources import ResourceLookup, look_up
from checkins.alarm_locations import (
    RECENT_ALARM,
    AlarmDetails,
    alarm_for_call,
    caller_beneficiary,
    recent_alarm,
    stored_alarm_details,
)
from store import audit
from store.alarms import DeviceAlarm
from store.models import Beneficiary, Line
from store.records import Call, CheckinAttempt, CheckinPlan


@dataclass(frozen=True)
class CasePhone:
    kind: str
    number: str


@dataclass(frozen=True)
class CaseFile:
    beneficiary_id: str
    reference: str
    full_name: str
    phones: tuple[CasePhone, ...]
    address: str | None
    municipality: str | None
    risk: str
    safety_plan: str | None


@dataclass(frozen=True)
class EscalationCase:
    escalation: EscalationAbout
    file: CaseFile | None
    alarm: AlarmDetails | None
    resources: ResourceLookup


@dataclass(frozen=True)
class _Subject:
    beneficiary_id: str | None
    alarm: AlarmDetails | None
    line_id: str | None


def open_case(
    sessions: sessionmaker[Session],
    escalation: EscalationAbout,
    agent_id: str,
    now: float,
    *,
    actor_type: str = "agent",
) -> EscalationCase:
    """Her file and the alarm's location for ``agent_id``; both reads audited (``actor_type``
    ``system`` when no person reads: what the urgent service is told)."""
    at = datetime.fromtimestamp(now, UTC)
    with sessions() as db, db.begin():
        subject = _subject(db, escalation, at)
        owner = db.get(Beneficiary, subject.beneficiary_id) if subject.beneficiary_id else None
        line_id = owner.line_id if owner is not None and owner.line_id else subject.line_id
        line = db.get(Line, line_id) if line_id else None
        detail = {"escalation_id": escalation.escalation_id}
        if owner is not None:
            audit.record(
                db,
                actor_type=actor_type,
                actor_id=agent_id,
                action="beneficiary_file_viewed",
                subject_type="beneficiary",
                subject_id=owner.id,
                detail=detail,
            )
        if subject.alarm is not None and subject.alarm.location is not None:
            stored = subject.alarm.alarm_id
            audit.record(
                db,
                actor_type=actor_type,
                actor_id=agent_id,
                action="alarm_location_read",
                subject_type="device_alarm" if stored else "escalation",
                subject_id=stored or escalation.escalation_id,
                detail={**detail, "beneficiary_id": owner.id if owner else None},
            )
        location = subject.alarm.location if subject.alarm is not None else None
        resources = look_up(
            db,
            line.id if line else None,
            location=None if location is None else (location.latitude, location.longitude),
            municipality=owner.municipality if owner is not None else None,
            whole_line=True,
        )
        assert resources is not None, "whole_line always finds a lookup"
        return EscalationCase(
            escalation=escalation,
            file=_file(owner) if owner is not None else None,
            alarm=subject.alarm,
            resources=resources,
        )


def _file(owner: Beneficiary) -> CaseFile:
    phones = sorted(owner.phones, key=lambda phone: (phone.kind != "primary", phone.id))
    return CaseFile(
        beneficiary_id=owner.id,
        reference=owner.reference,
        full_name=owner.full_name,
        phones=tuple(CasePhone(phone.kind, phone.number) for phone in phones),
        address=owner.address,
        municipality=owner.municipality,
        risk=str(owner.risk_level),
        safety_plan=owner.safety_plan,
    )


def _subject(db: Session, escalation: EscalationAbout, at: datetime) -> _Subject:
    escalation_id = escalation.escalation_id
    kind, _, rest = escalation_id.partition(":")
    if kind == "alarm":
        alarm = db.get(DeviceAlarm, rest)
        if alarm is not None:
            return _Subject(alarm.beneficiary_id, stored_alarm_details(alarm), None)
    if kind in ("checkin", "prox"):
        beneficiary_id = _checked_beneficiary(db, kind, rest)
        if beneficiary_id is not None:
            return _Subject(beneficiary_id, _recent(db, beneficiary_id, at), None)
    call = db.get(Call, escalation.call_id) if escalation.call_id else None
    if call is None:
        return _Subject(None, None, None)
    return _Subject(caller_beneficiary(db, call), alarm_for_call(db, call, at), call.line_id)


def _checked_beneficiary(db: Session, kind: str, rest: str) -> str | None:
    """Whom a check-in's attempt or a proximity notice's call was for (``prox`` ids carry the
    notification and the first 24 characters of her id)."""
    if kind == "checkin":
        attempt = db.get(CheckinAttempt, rest)
        if attempt is None:
            return None
        if attempt.beneficiary_id is not None:
            return attempt.beneficiary_id
        plan = db.get(CheckinPlan, attempt.plan_id) if attempt.plan_id else None
        return plan.beneficiary_id if plan is not None else None
    notification_id, _, prefix = rest.partition(":")
    if not notification_id or not prefix:
        return None
    return db.scalar(
        select(CheckinAttempt.beneficiary_id)
        .where(
            CheckinAttempt.notification_id == notification_id,
            CheckinAttempt.beneficiary_id.startswith(prefix, autoescape=True),
        )
        .limit(1)
    )


def _recent(db: Session, beneficiary_id: str, at: datetime) -> AlarmDetails | None:
    alarm = recent_alarm(db, beneficiary_id, at, RECENT_ALARM)
    return stored_alarm_details(alarm) if alarm is not None else None
