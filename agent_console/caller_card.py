"""The caller card: what the agent on a call sees about the caller.

The card itself holds no decrypted personal field but her municipality: the call (risk, flags,
IVR answers), the beneficiary's reference, risk and its history, recent calls and check-ins,
for an alarm its type and location (reading a location is audited as
``alarm_location_viewed``), and the line's resources: the nearest to the alarm's fix, else
those of her municipality (reading it is audited as ``beneficiary_municipality_viewed``), with
the referrals made on the call. The alarm is found on every channel: her stored alarm when her
device or her phone calls within 30 minutes of it (``alarm_for_call``). The beneficiary's file
(name, address, notes, safety plan, past call notes) is decrypted only when the agent opens
it, and each opening is audited as ``beneficiary_file_viewed`` with the agent and the call. An
agent opens it only during the call and for ``file_access_after_call`` after it (a refusal is
audited as ``beneficiary_file_refused``); supervisors and admins at any time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_console.escalation_desk import map_link
from agent_console.interpreting import INTERPRETER_NEEDED
from agent_console.ports import ConsoleError, ConsolePorts
from agent_console.texts import DISPOSITION_TEXT, DISPOSITIONS
from calls.control import INTERPRETER_FIELD, call_actions
from calls.errors import UnknownResource
from calls.referrals import refer, referrals_of
from calls.resources import look_up
from checkins.alarm_locations import AlarmDetails, alarm_for_call
from ivr_flows.session import load as load_ivr_session
from locales.prompts import ui_text
from locales.ui_strings import ANSWERS, FLAGS, RISK, SCREEN
from store import audit
from store.live_state import key
from store.models import Beneficiary, Line
from store.records import AuditEntry, Call, CheckinAttempt, CheckinPlan
from store.vocabulary import AgentRole, RiskLevel

RECENT = 5
CADENCES = (1, 3, 7, 15, 30)
"""Check-in cadences the console offers, in days (ATENPRO: every 15 days or monthly; more often
at higher risk)."""


def _decoded(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def may_see_call(call: Call, agent_id: str, role: str) -> bool:
    """Supervisors and admins see any call; an agent sees the calls she answered."""
    return role in (AgentRole.SUPERVISOR, AgentRole.ADMIN) or call.agent_id == agent_id


def may_open_file(call: Call, role: str, now: datetime, after_call: timedelta) -> bool:
    """Her file opens to the agent on the call while it lasts and for ``after_call`` after it
    ends (notes, a follow-up plan), never for every call she ever answered; supervisors and
    admins, who review cases, at any time."""
    if role in (AgentRole.SUPERVISOR, AgentRole.ADMIN):
        return True
    return call.ended_at is None or now - call.ended_at <= after_call


class CallerCards:
    def __init__(self, ports: ConsolePorts) -> None:
        self._ports = ports

    def _call(self, db: Session, call_id: str, agent_id: str, role: str) -> Call:
        call = db.get(Call, call_id)
        if call is None:
            raise ConsoleError("console.unknown_call", "no such call", 404)
        if not may_see_call(call, agent_id, role):
            raise ConsoleError("console.not_your_call", "this call is not yours", 403)
        return call

    def card(self, call_id: str, agent_id: str, role: str, locale: str) -> dict[str, Any]:
        now = self._ports.clock()
        with self._ports.sessions() as db, db.begin():
            call = self._call(db, call_id, agent_id, role)
            line = db.get(Line, call.line_id) if call.line_id else None
            owner = db.get(Beneficiary, call.beneficiary_id) if call.beneficiary_id else None
            details = alarm_for_call(db, call, datetime.fromtimestamp(now, UTC))
            card: dict[str, Any] = {
                "call": self._call_view(call, line, locale),
                "ivr_answers": self._ivr_answers(call_id, locale),
                "beneficiary": None,
                "alarm": self._alarm(db, call, details, agent_id, now),
                "resources": _resources(db, call, owner, details, agent_id),
                "referrals": referrals_of(db, call.id),
                "dispositions": _dispositions(locale),
                "cadences": list(CADENCES),
            }
            if owner is not None:
                card["beneficiary"] = self._beneficiary_view(db, owner, call_id, locale)
        return card

    def _call_view(self, call: Call, line: Line | None, locale: str) -> dict[str, Any]:
        risk = call.risk_level or RiskLevel.NO_APRECIADO.value
        return {
            "id": call.id,
            "line": line.name if line else None,
            "line_id": call.line_id,
            "channel": call.channel,
            "direction": call.direction,
            "status": call.status,
            "risk": risk,
            "risk_label": ui_text(RISK.get(risk, risk), locale),
            "flags": [
                {"id": flag, "label": ui_text(FLAGS[flag], locale) if flag in FLAGS else flag}
                for flag in (call.flags or [])
            ],
            "locale": call.locale,
            "interpreter_needed": (
                call.locale if INTERPRETER_NEEDED in (call.flags or []) else None
            ),
            "started_at": _iso(call.started_at),
            "answered_at": _iso(call.answered_at),
            "agent_id": call.agent_id,
            "actions": call_actions(self._ports.control().bridge_for(call.id, call.channel)),
            # The interpreter on the line now (her language): the console offers to remove her.
            "interpreter": _decoded(self._ports.live.hget(key("call", call.id), INTERPRETER_FIELD)),
        }

    def _ivr_answers(self, call_id: str, locale: str) -> list[dict[str, str]]:
        state = load_ivr_session(self._ports.live, call_id)
        if state is None:
            return []
        return [
            {
                "question": question,
                "question_label": ui_text(SCREEN.get(question, question), locale),
                "answer": answer,
                "answer_label": ui_text(ANSWERS.get(answer, answer), locale),
            }
            for question, answer in state.answers
        ]

    def _alarm(
        self, db: Session, call: Call, details: AlarmDetails | None, agent_id: str, now: float
    ) -> dict[str, Any] | None:
        if details is None and call.device_id is None:
            return None
        view: dict[str, Any] = {
            "alarm_type": details.alarm_type if details else None,
            "location": None,
        }
        location = details.location if details else None
        if location is not None:
            audit.record(
                db,
                actor_type="agent",
                actor_id=agent_id,
                action="alarm_location_viewed",
                subject_type="call",
                subject_id=call.id,
                detail={"alarm_id": details.alarm_id} if details and details.alarm_id else None,
            )
            view["location"] = {
                "latitude": location.latitude,
                "longitude": location.longitude,
                "accuracy_m": location.accuracy_m,
                "age_s": None if location.fixed_at is None else max(0, now - location.fixed_at),
                "map_url": map_link(location.latitude, location.longitude),
            }
        return view

    def _beneficiary_view(
        self, db: Session, owner: Beneficiary, call_id: str, locale: str
    ) -> dict[str, Any]:
        recent_calls = db.scalars(
            select(Call)
            .where(Call.beneficiary_id == owner.id, Call.id != call_id)
            .order_by(Call.started_at.desc())
            .limit(RECENT)
        ).all()
        plan = db.scalar(select(CheckinPlan).where(CheckinPlan.beneficiary_id == owner.id))
        attempts = (
            db.scalars(
                select(CheckinAttempt)
                .where(CheckinAttempt.plan_id == plan.id)
                .order_by(CheckinAttempt.scheduled_at.desc())
                .limit(RECENT)
            ).all()
            if plan
            else []
        )
        lowered = db.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.action == "risk_lowered",
                AuditEntry.subject_type == "beneficiary",
                AuditEntry.subject_id == owner.id,
            )
            .order_by(AuditEntry.at.desc())
            .limit(RECENT)
        ).all()
        history = [
            {"at": _iso(entry.at), "from": entry.detail.get("from"), "to": entry.detail.get("to")}
            for entry in lowered
        ]
        risk = str(owner.risk_level)
        return {
            "id": owner.id,
            "reference": owner.reference,
            "risk": risk,
            "risk_label": ui_text(RISK.get(risk, risk), locale),
            "risk_reviewed_at": _iso(owner.risk_reviewed_at),
            "risk_lowerings": history,
            "preferred_locale": owner.preferred_locale,
            "safe_call_windows": owner.safe_call_windows or [],
            "timezone": owner.timezone,
            "recent_calls": [
                {
                    "started_at": _iso(item.started_at),
                    "direction": item.direction,
                    "status": item.status,
                    "disposition": item.disposition,
                    "risk": item.risk_level,
                }
                for item in recent_calls
            ],
            "checkin_plan": (
                {
                    "cadence_days": plan.cadence_days,
                    "active": plan.active,
                    "next_due_at": _iso(plan.next_due_at),
                }
                if plan
                else None
            ),
            "checkins": [
                {"scheduled_at": _iso(item.scheduled_at), "outcome": item.outcome}
                for item in attempts
            ],
        }

    def open_file(self, call_id: str, agent_id: str, role: str) -> dict[str, Any]:
        """Decrypt the beneficiary's file for the agent on this call; audited (a refusal
        after the window too)."""
        now = datetime.fromtimestamp(self._ports.clock(), UTC)
        after_call = self._ports.file_access_after_call
        with self._ports.sessions() as db, db.begin():
            call = self._call(db, call_id, agent_id, role)
            if not may_open_file(call, role, now, after_call):
                self._refuse_file(call, agent_id)
            if call.beneficiary_id is None:
                raise ConsoleError("console.no_beneficiary", "the caller is not registered", 404)
            owner = db.get(Beneficiary, call.beneficiary_id)
            if owner is None:
                raise ConsoleError("console.no_beneficiary", "the caller is not registered", 404)
            audit.record(
                db,
                actor_type="agent",
                actor_id=agent_id,
                action="beneficiary_file_viewed",
                subject_type="beneficiary",
                subject_id=owner.id,
                detail={"call_id": call_id},
            )
            past_notes = db.scalars(
                select(Call)
                .where(Call.beneficiary_id == owner.id, Call.id != call_id, Call.notes.is_not(None))
                .order_by(Call.started_at.desc())
                .limit(RECENT)
            ).all()
            return {
                "reference": owner.reference,
                "full_name": owner.full_name,
                "address": owner.address,
                "notes": owner.notes,
                "safety_plan": owner.safety_plan,
                "preferred_locale": owner.preferred_locale,
                "past_call_notes": [
                    {"started_at": _iso(item.started_at), "notes": item.notes}
                    for item in past_notes
                ],
            }

    def refer(self, call_id: str, agent_id: str, role: str, resource_id: str) -> list[Any]:
        """Record that the caller was referred to ``resource_id``; the call's referrals."""
        at = datetime.fromtimestamp(self._ports.clock(), UTC)
        with self._ports.sessions() as db, db.begin():
            call = self._call(db, call_id, agent_id, role)
            try:
                refer(db, call, resource_id, agent_id, at)
            except UnknownResource as exc:
                raise ConsoleError(exc.error_id, exc.message, 404) from exc
            return referrals_of(db, call.id)

    def _refuse_file(self, call: Call, agent_id: str) -> None:
        with self._ports.sessions() as db, db.begin():
            audit.record(
                db,
                actor_type="agent",
                actor_id=agent_id,
                action="beneficiary_file_refused",
                subject_type="beneficiary",
                subject_id=call.beneficiary_id,
                detail={"call_id": call.id, "reason": "after_call_window"},
            )
        minutes = int(self._ports.file_access_after_call.total_seconds() // 60)
        raise ConsoleError(
            "console.file_closed",
            f"her file opens during the call and for {minutes} minutes after it",
            403,
        )

    def set_checkin_plan(
        self, call_id: str, agent_id: str, role: str, cadence_days: int, active: bool
    ) -> dict[str, Any]:
        """Set or change the beneficiary's follow-up calls from the call; audited."""
        if cadence_days not in CADENCES:
            raise ConsoleError("console.bad_cadence", "unknown check-in cadence", 400)
        now = datetime.fromtimestamp(self._ports.clock(), UTC)
        with self._ports.sessions() as db, db.begin():
            call = self._call(db, call_id, agent_id, role)
            if call.beneficiary_id is None:
                raise ConsoleError("console.no_beneficiary", "the caller is not registered", 409)
            plan = db.scalar(
                select(CheckinPlan).where(CheckinPlan.beneficiary_id == call.beneficiary_id)
            )
            before = None if plan is None else {"cadence": plan.cadence_days, "on": plan.active}
            if plan is None:
                plan = CheckinPlan(beneficiary_id=call.beneficiary_id, cadence_days=cadence_days)
                db.add(plan)
            if plan.next_due_at is None or plan.cadence_days != cadence_days:
                plan.next_due_at = now + timedelta(days=cadence_days)
            plan.cadence_days = cadence_days
            plan.active = active
            audit.record(
                db,
                actor_type="agent",
                actor_id=agent_id,
                action="checkin_plan_changed",
                subject_type="beneficiary",
                subject_id=call.beneficiary_id,
                detail={
                    "call_id": call_id,
                    "before": before,
                    "cadence_days": cadence_days,
                    "active": active,
                },
            )
            return {
                "cadence_days": plan.cadence_days,
                "active": plan.active,
                "next_due_at": _iso(plan.next_due_at),
            }


def _resources(
    db: Session,
    call: Call,
    owner: Beneficiary | None,
    details: AlarmDetails | None,
    agent_id: str,
) -> dict[str, Any] | None:
    """The line's resources nearest her alarm's fix, else in her municipality; None when
    neither is known."""
    location = details.location if details else None
    municipality = owner.municipality if owner is not None else None
    if location is None and municipality and owner is not None:
        audit.record(
            db,
            actor_type="agent",
            actor_id=agent_id,
            action="beneficiary_municipality_viewed",
            subject_type="beneficiary",
            subject_id=owner.id,
            detail={"call_id": call.id},
        )
    found = look_up(
        db,
        call.line_id,
        location=None if location is None else (location.latitude, location.longitude),
        municipality=municipality if location is None else None,
    )
    return None if found is None else found.to_dict()


def _dispositions(locale: str) -> list[dict[str, str]]:
    return [{"id": d, "label": ui_text(DISPOSITION_TEXT[d], locale)} for d in DISPOSITIONS]
