"""The switchboard every channel shares: a call event in, what to do with the caller out.

An adapter (Twilio webhook, SIP endpoint, simulator) turns what it receives into a ``CallEvent``
and calls :meth:`Switchboard.start` or :meth:`Switchboard.handle`; it renders the returned
actions. In between, the call's record is kept (``calls.records``, before anything is
acknowledged), the IVR steps (``calls.step``) and enqueue/escalate reach routing
(``calls.dispatch``).

Safety rule 1 lives here: any failure (Redis down, database down, a bug) still answers with a
``Dial`` to the line's overflow number, and the incident is logged with ids only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.callbacks import CALLBACK_FLOW, Callbacks
from calls.directory import CallerInfo, Directory, LineInfo
from calls.dispatch import RoutingDispatch
from calls.journal_replay import event_entry, started_entry
from calls.records import CallRecords
from calls.step import IvrSteps, OutcomeSink
from calls.turn import CallTurn
from calls.urgent_calls import UrgentCalls
from ivr_flows.actions import Dial, Gather, Hangup, Record
from ivr_flows.definition import Flow
from ivr_flows.events import CallerContext, CallEvent, EventKind, RecordingDecision
from locales.selection import locale_hint_for_number
from routing import Router
from store.base import new_id
from store.call_journal import CallJournal
from store.call_log import CallLog
from store.live_state import key
from store.vocabulary import Channel, Direction

log = logging.getLogger(__name__)

RecordingPolicy = Callable[[LineInfo, Direction], RecordingDecision]
PUT_THROUGH_PENDING = "put_through_pending"
"""Field of a call's live hash: a callback answered, to be put through once she waits."""


def no_recording(_line: LineInfo, _direction: Direction) -> RecordingDecision:
    return RecordingDecision(record=False)


def call_id_for(channel: Channel, external_id: str) -> str:
    """Stable call ids from a carrier's id, so a retried "call started" lands on one call."""
    return hashlib.sha256(f"{channel.value}:{external_id}".encode()).hexdigest()[:32]


@dataclass
class Switchboard:
    sessions: sessionmaker[Session]
    live: redis.Redis
    router: Router
    call_log: CallLog
    recording_policy: RecordingPolicy = no_recording
    outcome_sinks: list[OutcomeSink] = field(default_factory=list)
    urgent: UrgentCalls | None = None
    """Alert calls about escalations (their key takes one); None where nobody is phoned."""
    callbacks: Callbacks | None = None
    """Callback tasks: their call, once answered, is put through to the agent who took it."""
    journal: CallJournal | None = None
    """Where a call the database could not take is kept until it can (``store.call_journal``)."""
    directory: Directory = field(init=False)
    records: CallRecords = field(init=False)
    dispatch: RoutingDispatch = field(init=False)
    steps: IvrSteps = field(init=False)

    def __post_init__(self) -> None:
        self.directory = Directory(self.sessions)
        self.records = CallRecords(self.sessions, self.live, self.call_log)
        self.dispatch = RoutingDispatch(self.sessions, self.router, self.records)
        self.steps = IvrSteps(
            self.sessions, self.live, self.call_log, self.dispatch, self.outcome_sinks
        )

    def flow(self, name: str) -> Flow:
        return self.steps.flow(name)

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
            self.records.open(call_id, line, caller, channel, external_id, direction, flow_name, at)
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
            return self.steps.step(call_id, line, flow_name, event, f"{call_id}:started")
        except Exception:
            log.exception("call %s: start failed; sending the caller to the fallback", call_id)
            entry = started_entry(
                call_id, channel, external_id, to_number, from_number, at, direction
            )
            self._journal(call_id, entry)
            return CallTurn(call_id, line, (Dial("fallback", reason="internal_error"),), True)

    def handle(self, event: CallEvent, idempotency_key: str | None = None) -> CallTurn:
        """A later event of a known call (digits, silence, speech, hangup)."""
        line: LineInfo | None = None
        try:
            meta = self.records.meta(event.call_id)
            line = self.directory.line(meta["line_id"])
            if line is None:
                raise LookupError("line of the call is gone")
            event = self.steps.checked_pin(meta["flow"], event)
            if event.kind is EventKind.DIGITS and self._surge(line, meta):
                event = replace(event, callback_offer=True)
            if self.urgent is not None:
                event = self.urgent.checked_take(meta, event)
            turn = self.steps.step(event.call_id, line, meta["flow"], event, idempotency_key)
            if self.urgent is not None:
                turn = self.urgent.completed(turn)
            if event.kind is EventKind.HANGUP:
                self.dispatch.caller_left(event.call_id, event.at)
                if self.callbacks is not None and meta["flow"] == CALLBACK_FLOW:
                    self.callbacks.ended(event.call_id, event.at)
            return turn
        except Exception:
            log.exception(
                "call %s: event failed; sending the caller to the fallback", event.call_id
            )
            if event.kind is EventKind.HANGUP:
                self._journal(event.call_id, event_entry("hangup", event.call_id, event.at))
                return CallTurn(event.call_id, line, (Hangup("caller_hung_up"),), True)
            self._journal(event.call_id, event_entry("overflow", event.call_id, event.at))
            return CallTurn(event.call_id, line, (Dial("fallback", reason="internal_error"),), True)

    def _journal(self, call_id: str, entry: dict[str, object]) -> None:
        """Keep what the database missed for the replay; never in the caller's way."""
        if self.journal is None:
            return
        try:
            self.journal.write(entry)
        except Exception:
            log.exception("call %s: not journalled either", call_id)

    def _surge(self, line: LineInfo, meta: dict[str, str]) -> bool:
        """The line offers callbacks now: it enables them, enough callers are waiting, and
        she called from a number (the flow offers it only to a calm caller)."""
        threshold = line.callback_offer_when_waiting
        if threshold is None or not meta.get("callback_number"):
            return False
        return self.router.waiting_count() >= threshold

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
        self.records.open(
            call_id, line, caller, channel, f"out-{call_id}", Direction.CHECKIN, flow_name, at
        )
        self.call_log.append(call_id, "dialing", {"channel": channel.value}, at=at)
        return call_id

    def answered(
        self, call_id: str, at: float, *, machine: bool = False, idempotency_key: str | None = None
    ) -> CallTurn:
        """The callee of an outbound call picked up (a person, or a machine). The recording
        policy is asked as for an inbound call: the flow plays its notice (and asks consent)
        once a person answers. A callback's agent is put through at once, unless a notice or
        a question comes first: then once she waits (:meth:`caller_waiting`), so the agent
        never cuts the notice short and nothing is recorded before it is heard."""
        try:
            context, line_id, direction = self.records.caller_context(call_id)
            line = self.directory.line(line_id) if line_id else None
            recording = self.recording_policy(line, direction) if line else None
        except Exception:
            log.exception("call %s: answered, but the call could not be read", call_id)
            return CallTurn(call_id, None, (Hangup("internal_error"),), True)
        event = CallEvent(
            kind=EventKind.MACHINE if machine else EventKind.ANSWERED,
            call_id=call_id,
            at=at,
            caller=context,
            recording=recording,
        )
        turn = self.handle(event, idempotency_key or f"{call_id}:answered")
        if self.callbacks is not None and not turn.fallback:
            try:
                if self.records.meta(call_id).get("flow") == CALLBACK_FLOW:
                    later = any(isinstance(action, Record | Gather) for action in turn.actions)
                    won = self.callbacks.answered(
                        call_id, at, machine=machine, put_through=not later
                    )
                    if won and later:
                        self.live.hset(key("call", call_id), PUT_THROUGH_PENDING, "1")
                    elif not won and not machine and self.records.ended(call_id):
                        # The agent cancelled it as she picked up: nobody is coming.
                        log.info("call %s: answered after its cancel; hanging up", call_id)
                        return CallTurn(call_id, turn.line, (Hangup("cancelled"),), True)
            except Exception:
                # She waits on hold; the edge's hold ceiling sends her to the overflow.
                log.exception("call %s: the callback could not be put through", call_id)
        return turn

    def caller_waiting(self, call_id: str, at: float) -> None:
        """The edge says she now waits on hold, everything before it heard: a callback whose
        notice (or consent question) came first is put through to its agent now. Once only;
        nothing for any other call."""
        if self.callbacks is None:
            return
        pending = False
        try:
            pending = bool(self.live.hdel(key("call", call_id), PUT_THROUGH_PENDING))
            if pending:
                self.callbacks.put_through(call_id)
        except Exception:
            log.exception("call %s: the callback could not be put through", call_id)
            if pending:  # tried again at her next wait (Twilio fetches it on every loop)
                self.live.hset(key("call", call_id), PUT_THROUGH_PENDING, "1")

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
            line = self.directory.line(self.records.meta(call_id)["line_id"])
            self.call_log.append(call_id, "overflow", {"reason": reason})
        except Exception:
            log.exception("call %s: overflow could not read the line", call_id)
        return CallTurn(call_id, line, (Dial("fallback", reason=reason),), True)
