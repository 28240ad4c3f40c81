"""Off the console: urgent-team members are phoned, and after the whole ladder the line's
urgent service is told.

Routing's ladder asks (``call_member``, ``dial_urgent_number``); this opens an outbound call on
the deployment's channel (Twilio REST, SIP, the simulator) with a fixed flow and dials it,
showing the neutral caller ID:

* ``urgent_member_alert``, to a member's ``on_call_number``: a fixed alert with no personal
  data, "press 1 to take it". Her key acknowledges the escalation as her (routing decides who
  was first). She is then joined to the woman's live call, or, for an alarm without a live
  call, the woman's device (else her phone) is dialled and bridged to her. Someone faster: she
  is told so, and the call ends.
* ``urgent_number_alert``, to the line's ``urgent_number``: the alarm's type and location, read
  twice. Nothing is ever sent to the woman's phone.

Each call is placed once per (escalation, person) however often routing redelivers the ask.
Which escalation a call is about lives in the call's live meta; the numbers are looked up when
a turn is rendered and never stored in an action, an event or a log line.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.directory import CallerInfo, Directory
from calls.escalation_cases import EscalationCase, open_case
from calls.escalations import find_escalation, mark_acknowledged
from calls.records import CALL_META_TTL_S, CallRecords
from calls.turn import CallTurn
from checkins.ports import OutboundDialer
from ivr_flows.actions import Say
from ivr_flows.events import CallEvent, EventKind, TakeResult
from routing import Router
from store.alarms import DeviceAlarm
from store.call_log import CallLog
from store.live_state import key
from store.models import Agent, Device, Team
from store.records import Call
from store.vocabulary import Direction

log = logging.getLogger(__name__)

MEMBER_FLOW = "urgent_member_alert"
SERVICE_FLOW = "urgent_number_alert"
TAKE_KEY = "1"
HER_NUMBER = "beneficiary"
"""The ``dial`` target of a taken alarm: her device's number, else her first phone."""
SERVICE_REPORT = frozenset({"urgent.service_report", "urgent.service_report_repeat"})
LIVE_CALL = frozenset({"ivr", "queued", "on_call"})
SYSTEM_ACTOR = "urgent-calls"


def alert_call_id(escalation_id: str, person: str) -> str:
    """One call per (escalation, person), whatever the redeliveries."""
    return hashlib.sha256(f"urgent:{escalation_id}:{person}".encode()).hexdigest()[:32]


@dataclass
class UrgentCalls:
    sessions: sessionmaker[Session]
    live: redis.Redis
    call_log: CallLog
    dialer: OutboundDialer
    router: Callable[[], Router]
    clock: Callable[[], float]
    caller_id: str | None = None
    """The neutral number shown (None: the channel's default)."""

    def __post_init__(self) -> None:
        self._records = CallRecords(self.sessions, self.live, self.call_log)
        self._directory = Directory(self.sessions)

    # -- what routing's ladder asks --------------------------------------------------------

    def call_member(self, member_id: str, escalation_id: str) -> None:
        with self.sessions() as db:
            member = db.get(Agent, member_id)
            number = member.on_call_number if member is not None and member.active else None
            about = find_escalation(db, self.live, escalation_id)
        if not number:
            log.warning("escalation %s: member %s has no on-call number", escalation_id, member_id)
            return
        line_id = self._line_of(about.team_id, about.call_id)
        self._place(
            alert_call_id(escalation_id, member_id),
            line_id,
            number,
            MEMBER_FLOW,
            {"escalation": escalation_id, "member": member_id},
        )

    def dial_urgent_number(self, escalation_id: str) -> None:
        with self.sessions() as db:
            about = find_escalation(db, self.live, escalation_id)
        line_id = self._line_of(about.team_id, about.call_id)
        line = self._directory.line(line_id) if line_id else None
        if line is None:
            log.error("escalation %s: no line, so no urgent number to call", escalation_id)
            return
        self._place(
            alert_call_id(escalation_id, "urgent-number"),
            line_id,
            line.urgent_number,
            SERVICE_FLOW,
            {"escalation": escalation_id},
        )

    def _line_of(self, team_id: str | None, call_id: str | None) -> str | None:
        with self.sessions() as db:
            call = db.get(Call, call_id) if call_id else None
            if call is not None and call.line_id:
                return call.line_id
            team = db.get(Team, team_id) if team_id else None
            return team.line_id if team is not None else None

    def _place(
        self, call_id: str, line_id: str | None, number: str, flow: str, about: Mapping[str, str]
    ) -> None:
        line = self._directory.line(line_id) if line_id else None
        if line is None:
            log.error("urgent call %s: the escalation has no line; not placed", call_id)
            return
        if not self.live.set(key("urgent", call_id), "placing", nx=True, ex=CALL_META_TTL_S):
            return  # placed already (a redelivered ask)
        at = self.clock()
        channel = self.dialer.channel
        try:
            self._records.open(
                call_id,
                line,
                CallerInfo(number, None),
                channel,
                f"out-{call_id}",
                Direction.TEAM_ALERT,
                flow,
                at,
            )
            for name, value in about.items():
                self.live.hset(key("call", call_id), name, value)
            self.call_log.append(
                call_id,
                "dialing",
                {"channel": channel.value, **about},
                at=at,
                idempotency_key=f"{call_id}:dialing",
            )
            self.dialer.place_call(call_id, number, self.caller_id)
        except Exception:
            # Not placed: the redelivered ask (routing's outbox) must find the way open.
            self.live.delete(key("urgent", call_id))
            raise
        log.info("urgent call %s placed (%s)", call_id, flow)

    # -- what the switchboard asks on the alert call ----------------------------------------

    def checked_take(self, meta: Mapping[str, str], event: CallEvent) -> CallEvent:
        """Her key on the member alert: routing's verdict becomes the event (``take_result``);
        any other key stays a key (the flow asks again)."""
        if meta.get("flow") != MEMBER_FLOW or event.kind is not EventKind.DIGITS:
            return event
        if (event.digits or "").strip() != TAKE_KEY:
            return event
        escalation_id, member_id = meta.get("escalation", ""), meta.get("member", "")
        now = self.clock()
        transition = self.router().acknowledge(escalation_id, member_id, now)
        first = transition.status == "acknowledged" or (
            transition.status == "already_acknowledged"
            and transition.result.get("acknowledged_by") == member_id
        )
        if not first:
            self.call_log.append(event.call_id, "escalation_taken_by_other", {}, at=now)
            return replace(event, take_result=TakeResult.ALREADY_TAKEN)
        mark_acknowledged(self.sessions, member_id, now, escalation_id=escalation_id)
        her_call = self._live_call(escalation_id)
        if her_call is not None:
            self.router().take(her_call, member_id, now)
            self.live.hset(key("call", event.call_id), "join", her_call)
            self._records.update(her_call, status="on_call", agent_id=member_id)
            result = TakeResult.JOIN
        else:
            result = TakeResult.DIAL
        self.call_log.append(
            event.call_id,
            "escalation_taken",
            {"escalation": escalation_id, "as": result.value},
            at=now,
        )
        return replace(event, take_result=result)

    def _live_call(self, escalation_id: str) -> str | None:
        with self.sessions() as db:
            about = find_escalation(db, self.live, escalation_id)
            call = db.get(Call, about.call_id) if about.call_id else None
            if call is None or call.ended_at is not None or call.status not in LIVE_CALL:
                return None
            return call.id

    def completed(self, turn: CallTurn) -> CallTurn:
        """Fill in what an alert call's turn needs and no action may hold: the woman's number
        or call, and what the urgent service is told."""
        meta = self._records.live.hgetall(key("call", turn.call_id))
        flow, escalation_id = str(meta.get("flow", "")), str(meta.get("escalation", ""))
        if flow not in (MEMBER_FLOW, SERVICE_FLOW) or not escalation_id:
            return turn
        join_call = str(meta.get("join") or "") or None
        reader = str(meta.get("member") or "") or SYSTEM_ACTOR
        needs_case = flow == SERVICE_FLOW or any(
            getattr(action, "target", None) == HER_NUMBER for action in turn.actions
        )
        if not needs_case:
            return replace(turn, join_call=join_call)
        case = self._case(escalation_id, reader)
        numbers = {HER_NUMBER: number} if (number := self._her_number(case)) else {}
        actions = tuple(
            replace(action, params=_report(case))
            if isinstance(action, Say) and action.message_id in SERVICE_REPORT
            else action
            for action in turn.actions
        )
        return replace(turn, actions=actions, numbers=numbers, join_call=join_call)

    def _case(self, escalation_id: str, reader: str) -> EscalationCase:
        with self.sessions() as db:
            about = find_escalation(db, self.live, escalation_id)
        actor_type = "system" if reader == SYSTEM_ACTOR else "agent"
        return open_case(self.sessions, about, reader, self.clock(), actor_type=actor_type)

    def _her_number(self, case: EscalationCase) -> str | None:
        alarm_id = case.alarm.alarm_id if case.alarm is not None else None
        if alarm_id:
            with self.sessions() as db:
                alarm = db.get(DeviceAlarm, alarm_id)
                device = db.get(Device, alarm.device_id) if alarm and alarm.device_id else None
                if device is not None and device.active:
                    return device.number
        if case.file is not None and case.file.phones:
            return case.file.phones[0].number
        return None


def _report(case: EscalationCase) -> dict[str, str]:
    alarm = case.alarm
    location = alarm.location if alarm is not None else None
    params = {
        "alarm_type": (alarm.alarm_type if alarm is not None else None) or "unknown",
        "latitude": "unknown",
        "longitude": "unknown",
        "accuracy": "unknown",
    }
    if location is not None:
        params["latitude"] = f"{location.latitude:.5f}"
        params["longitude"] = f"{location.longitude:.5f}"
        if location.accuracy_m is not None:
            params["accuracy"] = f"{location.accuracy_m:.0f}"
    return params
