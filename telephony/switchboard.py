"""The switchboard every channel shares: a call event in, what to do with the caller out.

An adapter (Twilio webhook, SIP endpoint, simulator) turns what it receives into a ``CallEvent``
and calls :meth:`Switchboard.start` or :meth:`Switchboard.handle`; it renders the returned
actions. In between, the switchboard persists the event (before anything is acknowledged),
steps the IVR, and hands enqueue/escalate to routing.

Safety rule 1 lives here: any failure (Redis down, database down, a bug) still answers with a
``Dial`` to the line's overflow number, and the incident is logged with ids only.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, assert_never

import redis
from sqlalchemy.orm import Session, sessionmaker

from checkins.pins import check_pin
from ivr_flows import load_builtin
from ivr_flows.actions import (
    Action,
    Dial,
    Enqueue,
    Escalate,
    Gather,
    Hangup,
    Play,
    Record,
    Say,
    SetLocale,
    action_from_dict,
)
from ivr_flows.definition import Flow
from ivr_flows.events import CallerContext, CallEvent, EventKind, RecordingDecision
from ivr_flows.session import advance
from ivr_flows.session import load as load_session
from ivr_flows.state import CallFlag, Outcome
from ivr_flows.triage import TOP_PRIORITY
from locales.selection import locale_hint_for_number
from routing import CallRequest, Router
from store.base import new_id
from store.call_log import CallLog
from store.live_state import key
from store.models import Beneficiary, Line
from store.records import Call, Escalation
from store.vocabulary import Channel, Direction, RiskLevel
from telephony.directory import CallerInfo, Directory, LineInfo

log = logging.getLogger(__name__)

CALL_META_TTL_S = 6 * 3600

RecordingPolicy = Callable[[LineInfo, Direction], RecordingDecision]
OutcomeSink = Callable[[str, Outcome, dict[str, Any]], None]


def no_recording(_line: LineInfo, _direction: Direction) -> RecordingDecision:
    return RecordingDecision(record=False)


@dataclass(frozen=True)
class CallTurn:
    """What the adapter must do now for ``call_id``."""

    call_id: str
    line: LineInfo | None
    actions: tuple[Action, ...]
    fallback: bool = False

    def dial_number(self, action: Dial) -> str | None:
        return self.line.target_number(action.target) if self.line else None


def call_id_for(channel: Channel, external_id: str) -> str:
    """Stable call ids from a carrier's id, so a retried "call started" lands on one call."""
    return hashlib.sha256(f"{channel.value}:{external_id}".encode()).hexdigest()[:32]


def _flow_of_an_older_call(call: Call) -> str:
    """A call stored before calls kept their flow: a device's call ran the alarm flow, and any
    other most likely the default inbound one."""
    return "device_alarm" if call.device_id else "inbound_triage"


@dataclass
class Switchboard:
    sessions: sessionmaker[Session]
    live: redis.Redis
    router: Router
    call_log: CallLog
    recording_policy: RecordingPolicy = no_recording
    outcome_sinks: list[OutcomeSink] = field(default_factory=list)
    directory: Directory = field(init=False)
    _flows: dict[str, Flow] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.directory = Directory(self.sessions)

    # -- entry points ---------------------------------------------------------------------

    def start(
        self,
        *,
        channel: Channel,
        external_id: str,
        to_number: str | None,
        from_number: str | None,
        at: float,
        direction: Direction = Direction.INBOUND,
    ) -> CallTurn:
        """A new inbound call: find line and caller, open the call, run the first IVR step."""
        call_id = call_id_for(channel, external_id)
        line: LineInfo | None = None
        try:
            line = self.directory.line_for(to_number)
            if line is None:
                log.error("call %s: no line for the dialled number; fallback", call_id)
                return CallTurn(call_id, None, (Dial("fallback", reason="unknown_line"),), True)
            caller = self.directory.caller_for(from_number, line.jurisdiction)
            flow_name = "device_alarm" if caller.device_id else line.flow
            self._open_call(call_id, line, caller, channel, external_id, direction, flow_name, at)
            # A call from a panic-button device is an alarm: no menu, straight to the urgent team.
            event = CallEvent(
                kind=EventKind.ALARM if caller.device_id else EventKind.STARTED,
                call_id=call_id,
                at=at,
                channel=channel,
                caller=CallerContext(
                    line_locale=line.default_locale,
                    beneficiary_id=caller.beneficiary_id,
                    stored_risk=caller.stored_risk,
                    preferred_locale=caller.preferred_locale,
                    number_locale_hint=locale_hint_for_number(caller.e164),
                ),
                recording=self.recording_policy(line, direction),
            )
            return self._step(call_id, line, flow_name, event, f"{call_id}:started")
        except Exception:
            log.exception("call %s: start failed; sending the caller to the fallback", call_id)
            return CallTurn(call_id, line, (Dial("fallback", reason="internal_error"),), True)

    def handle(self, event: CallEvent, idempotency_key: str | None = None) -> CallTurn:
        """A later event of a known call (digits, silence, speech, hangup)."""
        line: LineInfo | None = None
        try:
            meta = self._meta(event.call_id)
            line = self.directory.line(meta["line_id"])
            if line is None:
                raise LookupError("line of the call is gone")
            event = self._checked_pin(meta["flow"], event)
            turn = self._step(event.call_id, line, meta["flow"], event, idempotency_key)
            if event.kind is EventKind.HANGUP:
                self._caller_left(event.call_id, event.at)
            return turn
        except Exception:
            log.exception(
                "call %s: event failed; sending the caller to the fallback", event.call_id
            )
            if event.kind is EventKind.HANGUP:
                return CallTurn(event.call_id, line, (Hangup("caller_hung_up"),), True)
            return CallTurn(event.call_id, line, (Dial("fallback", reason="internal_error"),), True)

    def open_outbound(
        self,
        *,
        line_id: str,
        beneficiary_id: str,
        to_number: str,
        channel: Channel,
        at: float,
        call_id: str | None = None,
        flow_name: str = "checkin_outbound",
    ) -> str:
        """Open an outbound call (a check-in) before the edge dials it; returns the call id.

        The edge then dials ``to_number`` and reports the answer with :meth:`answered`.
        """
        call_id = call_id or new_id()
        line = self.directory.line(line_id)
        if line is None:
            raise LookupError("unknown line")
        caller = self.directory.caller_for(to_number, line.jurisdiction)
        if caller.beneficiary_id != beneficiary_id:
            caller = CallerInfo(caller.e164, caller.number_hash, beneficiary_id=beneficiary_id)
        self._open_call(
            call_id, line, caller, channel, f"out-{call_id}", Direction.CHECKIN, flow_name, at
        )
        self.call_log.append(call_id, "dialing", {"channel": channel.value}, at=at)
        return call_id

    def answered(
        self, call_id: str, at: float, *, machine: bool = False, idempotency_key: str | None = None
    ) -> CallTurn:
        """The callee of an outbound call picked up (a person, or a machine)."""
        try:
            context = self._context_of(call_id)
        except Exception:
            log.exception("call %s: answered, but the call could not be read", call_id)
            return CallTurn(call_id, None, (Hangup("internal_error"),), True)
        event = CallEvent(
            kind=EventKind.MACHINE if machine else EventKind.ANSWERED,
            call_id=call_id,
            at=at,
            caller=context,
        )
        return self.handle(event, idempotency_key or f"{call_id}:answered")

    def fallback_turn(self, call_id: str, to_number: str | None) -> CallTurn:
        """What a fallback URL answers: the line's overflow, found without Redis if possible."""
        line = None
        try:
            line = self.directory.line_for(to_number)
        except Exception:
            log.exception("call %s: fallback could not read the line", call_id)
        return CallTurn(call_id, line, (Dial("fallback", reason="fallback_url"),), True)

    def overflow_turn(self, call_id: str, reason: str) -> CallTurn:
        """The line's overflow for a call already past the IVR: an agent accepted it but her
        phone never answered, so the caller goes to the line's backup number rather than wait
        on hold for a person who is not coming."""
        line = None
        try:
            line = self.directory.line(self._meta(call_id)["line_id"])
            self.call_log.append(call_id, "overflow", {"reason": reason})
        except Exception:
            log.exception("call %s: overflow could not read the line", call_id)
        return CallTurn(call_id, line, (Dial("fallback", reason=reason),), True)

    # -- internals --------------------------------------------------------------------------

    def _context_of(self, call_id: str) -> CallerContext:
        with self.sessions() as db:
            call = db.get(Call, call_id)
            if call is None:
                raise LookupError("unknown call")
            line = db.get(Line, call.line_id) if call.line_id else None
            owner = db.get(Beneficiary, call.beneficiary_id) if call.beneficiary_id else None
            return CallerContext(
                line_locale=line.default_locale if line else "es",
                beneficiary_id=owner.id if owner else None,
                stored_risk=RiskLevel(owner.risk_level) if owner else None,
                preferred_locale=owner.preferred_locale if owner else None,
            )

    def _checked_pin(self, flow_name: str, event: CallEvent) -> CallEvent:
        """Digits typed at a PIN prompt become only the result of the comparison."""
        if event.kind is not EventKind.DIGITS or not event.digits:
            return event
        state = load_session(self.live, event.call_id)
        if state is None or state.current is None:
            return event
        if not self.flow(flow_name).state(state.current).is_pin:
            return event
        with self.sessions() as db:
            call = db.get(Call, event.call_id)
            owner = (
                db.get(Beneficiary, call.beneficiary_id) if call and call.beneficiary_id else None
            )
            result = check_pin(
                owner.pin_hash if owner else None,
                owner.duress_digit_hash if owner else None,
                event.digits,
            )
        return replace(event, digits=None, pin_result=result)

    def flow(self, name: str) -> Flow:
        if name not in self._flows:
            self._flows[name] = load_builtin(name)
        return self._flows[name]

    def _open_call(
        self,
        call_id: str,
        line: LineInfo,
        caller: CallerInfo,
        channel: Channel,
        external_id: str,
        direction: Direction,
        flow_name: str,
        at: float,
    ) -> None:
        self.call_log.ensure_call(
            Call(
                id=call_id,
                line_id=line.line_id,
                direction=direction.value,
                channel=channel.value,
                external_id=f"{channel.value}:{external_id}",
                caller_number=caller.e164,
                caller_hash=caller.number_hash,
                beneficiary_id=caller.beneficiary_id,
                device_id=caller.device_id,
                flow=flow_name,
                status="ivr",
                started_at=datetime.fromtimestamp(at, UTC),
            )
        )
        meta: dict[Any, Any] = {
            "line_id": line.line_id,
            "flow": flow_name,
            "channel": channel.value,
            "callback_eligible": "1" if caller.registered_number else "",
        }
        self.live.hset(key("call", call_id), mapping=meta)
        self.live.expire(key("call", call_id), CALL_META_TTL_S)

    def _meta(self, call_id: str) -> dict[str, str]:
        """The call's line, flow and channel: from Redis, or from its row when Redis lost them."""
        meta = self.live.hgetall(key("call", call_id))
        if meta:
            return {str(k): str(v) for k, v in meta.items()}
        with self.sessions() as db:
            call = db.get(Call, call_id)
            if call is None or call.line_id is None:
                raise LookupError("unknown call")
            flow = call.flow or _flow_of_an_older_call(call)
            recovered = {"line_id": call.line_id, "flow": flow, "channel": call.channel}
        # Put it back, so the call's next events do not each go to the database.
        self.live.hset(key("call", call_id), mapping=recovered)  # type: ignore[arg-type]
        self.live.expire(key("call", call_id), CALL_META_TTL_S)
        return recovered

    def _step(
        self,
        call_id: str,
        line: LineInfo,
        flow_name: str,
        event: CallEvent,
        idempotency_key: str | None,
    ) -> CallTurn:
        appended = self.call_log.append(
            call_id,
            event.kind.value,
            event.log_fields(),
            at=event.at,
            idempotency_key=idempotency_key,
        )
        if appended is None:
            return CallTurn(call_id, line, self._last_actions(call_id))
        state, actions, outcomes = advance(self.live, self.flow(flow_name), event)
        self._route(call_id, line, actions, event.at)
        for outcome in outcomes:
            self._outcome(call_id, outcome, {"risk": state.risk.value, "flow": flow_name})
        self.live.set(
            key("call", call_id, "last_actions"),
            json.dumps([action.to_dict() for action in actions]),
            ex=CALL_META_TTL_S,
        )
        return CallTurn(call_id, line, actions, fallback=Outcome.FALLBACK in outcomes)

    def _last_actions(self, call_id: str) -> tuple[Action, ...]:
        raw = self.live.get(key("call", call_id, "last_actions"))
        if not raw:
            return ()
        return tuple(action_from_dict(item) for item in json.loads(str(raw)))

    def _route(self, call_id: str, line: LineInfo, actions: Sequence[Action], at: float) -> None:
        for action in actions:
            match action:
                case Enqueue():
                    self._enqueue(
                        call_id,
                        line,
                        action.queue,
                        action.risk,
                        action.priority,
                        action.flags,
                        action.locale,
                        at,
                    )
                case Escalate():
                    self._escalate(call_id, line, action, at)
                case Hangup():
                    self._update_call(call_id, status="ended", ended_at=at)
                case Say() | Play() | Gather() | Dial() | Record() | SetLocale():
                    pass  # what the caller hears or is connected to: the edge renders it
                case _:
                    assert_never(action)

    def _enqueue(
        self,
        call_id: str,
        line: LineInfo,
        queue: str,
        risk: RiskLevel,
        priority: int,
        flags: frozenset[CallFlag],
        locale: str,
        at: float,
    ) -> None:
        meta = self.live.hgetall(key("call", call_id))
        self.router.enqueue(
            CallRequest(
                call_id=call_id,
                queue=line.queue_id(queue),
                risk=risk,
                priority=self._routing_priority(priority),
                language=None if CallFlag.INTERPRETER in flags else locale,
                flags=frozenset(flag.value for flag in flags),
                line_id=line.line_id,
                callback_eligible=bool(meta.get("callback_eligible")),
            ),
            at,
        )
        self._update_call(
            call_id,
            status="queued",
            risk_level=risk.value,
            priority=priority,
            flags=sorted(flag.value for flag in flags),
            locale=locale,
        )

    def _routing_priority(self, ivr_priority: int) -> int | None:
        """The IVR ranks priority on its own small scale; routing counts seconds of head start.
        A top-priority IVR outcome (any "yes" on the screen, or no answer) waits like a severe
        call; otherwise routing's default for the risk level applies."""
        if ivr_priority >= TOP_PRIORITY:
            return self.router.config.priority_by_risk[RiskLevel.EXTREMO]
        return None

    def _escalate(self, call_id: str, line: LineInfo, action: Escalate, at: float) -> None:
        escalation_id = f"call:{call_id}"
        if line.urgent_team_id is not None:
            self.router.escalate(escalation_id, line.urgent_team_id, action.reason, at, call_id)
            with self.sessions() as db, db.begin():
                if db.get(Escalation, escalation_id) is None:
                    db.add(
                        Escalation(
                            id=escalation_id,
                            call_id=call_id,
                            team_id=line.urgent_team_id,
                            reason=action.reason,
                            opened_at=datetime.fromtimestamp(at, UTC),
                        )
                    )
        else:
            log.error("call %s: line has no urgent team; queued at top priority", call_id)
        if action.connect_caller:
            self._enqueue(
                call_id,
                line,
                "general",
                action.risk,
                action.priority,
                action.flags,
                action.locale,
                at,
            )
        else:
            self._update_call(call_id, risk_level=action.risk.value, priority=action.priority)

    def _caller_left(self, call_id: str, at: float) -> None:
        self.router.hangup(call_id, at)
        self._update_call(call_id, ended_at=at)

    def _update_call(self, call_id: str, ended_at: float | None = None, **values: Any) -> None:
        with self.sessions() as db, db.begin():
            call = db.get(Call, call_id)
            if call is None:
                return
            for name, value in values.items():
                setattr(call, name, value)
            if ended_at is not None and call.ended_at is None:
                call.ended_at = datetime.fromtimestamp(ended_at, UTC)
                if call.status in {"ivr", "queued"}:
                    # She hung up before a human answered (in the IVR or on hold).
                    call.status = "abandoned"

    def _outcome(self, call_id: str, outcome: Outcome, data: dict[str, Any]) -> None:
        self.call_log.append(call_id, "outcome", {"outcome": outcome.value, **data})
        for sink in self.outcome_sinks:
            try:
                sink(call_id, outcome, data)
            except Exception:
                log.exception("call %s: outcome %s not handed over", call_id, outcome.value)
