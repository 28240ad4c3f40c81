"""What each Twilio webhook does, apart from HTTP: a Twilio request in, a TwiML document out.

The views in ``http.py`` check the signature, hand the parsed request to one method here, and
turn any exception into the fail-safe document (``fallback_document``/``leave_document``).
Each method converts Twilio's parameters to a ``CallEvent``, lets the switchboard act, and
renders the result with the one renderer (``twiml.render``).

Idempotency: a gather's answer is keyed by ``CallSid`` + the turn number carried in its URL, so
a retried request, or the gather's belt-and-braces redirect racing its answer, acts once.
Other webhooks use Twilio's ``I-Twilio-Idempotency-Token`` or a key of their own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import assert_never

import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.overflow import OverflowBook
from calls.switchboard import Switchboard, call_id_for
from calls.turn import CallTurn
from calls.urgent_calls import HER_NUMBER
from ivr_flows.actions import (
    Dial,
    Enqueue,
    Escalate,
    Gather,
    Hangup,
    Join,
    Play,
    Record,
    Say,
    SetLocale,
)
from ivr_flows.events import CallEvent, EventKind
from locales import SUPPORTED_LOCALES
from store.call_log import CallLog
from store.live_state import key
from store.vocabulary import Channel
from telephony.twilio import hold, twiml
from telephony.twilio.bridge import TwilioBridge
from telephony.twilio.callbacks import CALL_ENDED, NOT_ANSWERED, recording_report, status_report
from telephony.twilio.calls import TwilioCalls
from telephony.twilio.console_legs import ConsoleLegs
from telephony.twilio.links import HoldMode, Leg, Links
from telephony.twilio.webhooks import Webhook

log = logging.getLogger(__name__)

SEQUENCE_TTL_S = 6 * 3600

NEWEST_STATUS = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local sequence = tonumber(ARGV[1])
if sequence >= current then
  redis.call('SET', KEYS[1], sequence, 'EX', tonumber(ARGV[2]))
  return 1
end
return 0
"""


@dataclass
class TwilioEdge:
    links: Links
    book: OverflowBook
    calls: TwilioCalls
    live: redis.Redis
    sessions: sessionmaker[Session]
    call_log: CallLog
    switchboard: Callable[[], Switchboard]
    accept_recording: Callable[[str, str, datetime], str]
    enqueue_recording: Callable[[str], object]
    bridge: Callable[[], TwilioBridge | None] = lambda: None
    unanswered: Callable[[str, str, datetime], bool] | None = None
    """Concludes a check-in attempt whose call nobody answered: (call id, ``CallStatus``,
    when) -> whether it concluded one. Other calls are ignored by it."""
    clock: Callable[[], float] = time.time
    _newest_status: object = field(init=False, repr=False)
    legs: ConsoleLegs = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._newest_status = self.live.register_script(NEWEST_STATUS)
        self.legs = ConsoleLegs(self.calls, self.live, self.sessions, self.call_log, self.bridge)

    # -- the IVR --------------------------------------------------------------------------

    def incoming(self, hook: Webhook) -> str:
        self.book.refresh_if_stale(self.sessions)
        turn = self.switchboard().start(
            channel=Channel.TWILIO,
            external_id=hook.call_sid,
            to_number=hook.form.get("To"),
            from_number=hook.form.get("From"),
            at=self.clock(),
        )
        return self._answer(turn, hook, turn_number=0, remember=True)

    def step(self, hook: Webhook) -> str:
        call_id = hook.call_id
        turn_number = int(hook.args.get("turn") or 0)
        digits = hook.form.get("Digits") or ""
        at = self.clock()
        if hook.args.get("silence") or not digits:
            event = CallEvent(EventKind.SILENCE, call_id, at, channel=Channel.TWILIO)
        else:
            # PIN digits too: the switchboard turns them into the comparison's result only.
            event = CallEvent(EventKind.DIGITS, call_id, at, digits=digits, channel=Channel.TWILIO)
        idempotency_key = (
            f"twilio:{hook.call_sid}:turn:{turn_number}"
            if "turn" in hook.args
            else hook.token_key("step")
        )
        turn = self.switchboard().handle(event, idempotency_key=idempotency_key)
        return self._answer(turn, hook, turn_number=turn_number)

    def outbound_answered(self, hook: Webhook) -> str:
        """A check-in call was answered: by a person (``answered``) or a machine (``machine``,
        on which the flow hangs up without a word)."""
        call_id = hook.call_id
        answered_by = hook.form.get("AnsweredBy", "")
        machine = answered_by.startswith("machine") or answered_by == "fax"
        self.calls.remember(call_id, hook.call_sid)
        turn = self.switchboard().answered(
            call_id,
            self.clock(),
            machine=machine,
            idempotency_key=f"twilio:{hook.call_sid}:answered",
        )
        return self._answer(turn, hook, turn_number=0, remember=True)

    def _answer(
        self, turn: CallTurn, hook: Webhook, *, turn_number: int, remember: bool = False
    ) -> str:
        line_id = turn.line.line_id if turn.line else hook.args.get("line")
        record = False
        if not turn.fallback:
            if turn.line is not None:
                self.book.remember(turn.line)
            if remember:
                self.calls.remember(turn.call_id, hook.call_sid, line_id)
            dials = False
            for action in turn.actions:
                match action:
                    case Record():
                        self.calls.mark_recording(turn.call_id, action.policy, action.pause_during)
                    case Dial():
                        dials = True
                    case Join():
                        self._bring_in(turn.join_call)
                    case (
                        Say() | Play() | Gather() | Enqueue() | Escalate() | SetLocale() | Hangup()
                    ):
                        pass  # rendered by twiml.render alone
                    case _:
                        assert_never(action)
            if dials:
                # After every Record of the turn is marked: a Dial records the conversation.
                record = self.calls.recording(turn.call_id)
        return twiml.render(
            turn,
            self.links.for_call(turn.call_id, line_id, turn_number),
            fallback_number=self.book.number_for(line_id=line_id, dialled=hook.form.get("To")),
            record=record,
        )

    def _bring_in(self, call_id: str | None) -> None:
        """An urgent-team member took the woman's live call: move her into its conference."""
        bridge = self.bridge()
        if call_id is None or bridge is None:
            log.error("an urgent-team member took a call that cannot be moved here")
            return
        bridge.bring_in(call_id)

    # -- holding, dialling, bridging ---------------------------------------------------------

    def queue_wait(self, hook: Webhook) -> str:
        call_id = hook.call_id
        # What came before the hold is heard: a callback waiting for that is put through now.
        self.switchboard().caller_waiting(call_id, self.clock())
        locale = hook.args.get("locale") or "es"
        locale = locale if locale in SUPPORTED_LOCALES else "es"
        mode = HoldMode(hook.args.get("mode") or HoldMode.STANDARD.value)
        if int(hook.form.get("QueueTime") or 0) >= hold.HOLD_CEILING_S:
            log.error("call %s: on hold past the ceiling; leaving for the overflow", call_id)
            return twiml.leave_queue_document()
        status = hold.routing_status(self.live, call_id)
        if status is None and hold.routing_state_lost(self.live):
            # Redis lost routing's state: the rebuild puts her back within seconds; she keeps
            # her place on hold instead of being sent away (the ceiling above still holds).
            log.warning("call %s: routing's state is being rebuilt; still on hold", call_id)
        elif status not in hold.ON_HOLD and status != "answered":
            log.warning("call %s: on hold but routing has it as %s; overflow", call_id, status)
            return twiml.leave_queue_document()
        position = hold.position(self.live, call_id) if mode is HoldMode.STANDARD else None
        links = self.links.for_call(call_id, hook.args.get("line"))
        return twiml.hold_document(locale, mode, position, links)

    def queue_result(self, hook: Webhook) -> str:
        """The caller left Twilio's queue: hung up (abandoned), or must go somewhere else."""
        result = hook.form.get("QueueResult", "")
        call_id = hook.call_id
        if result == "hangup":
            self._caller_left(hook)
            return twiml.hangup_document()
        if result == "bridged":
            return twiml.hangup_document()
        links = self.links.for_call(call_id, hook.args.get("line"))
        if result.startswith("redirected") and self.calls.get(call_id, "bridge"):
            return twiml.conference_document(links, call_id, record=self.calls.recording(call_id))
        if result != "redirected":
            log.warning("call %s: left the queue (%s); overflow", call_id, result or "unknown")
        return self.fallback_document(hook, target="overflow")

    def dial_result(self, hook: Webhook) -> str:
        """A ``<Dial>`` ended: after a conversation, hang up; else try the next number (but
        the woman an urgent-team member dialled is never replaced by another number)."""
        if hook.form.get("DialCallStatus") in {"completed", "answered"}:
            return twiml.hangup_document()
        target = hook.args.get("target") or "fallback"
        if target == HER_NUMBER:
            self.call_log.append(
                hook.call_id, "her_number_unanswered", {"status": hook.form.get("DialCallStatus")}
            )
            return twiml.hangup_document()
        attempt = int(hook.args.get("attempt") or 0) + 1
        candidates = self.book.candidates(
            line_id=hook.args.get("line"), dialled=hook.form.get("To"), target=target
        )
        number = candidates[attempt % len(candidates)] if candidates else None
        links = self.links.for_call(hook.call_id, hook.args.get("line"))
        return twiml.dial_document(
            links, number, target=target, attempt=attempt, record=self._recording(hook.call_id)
        )

    def bridge_ended(self, hook: Webhook) -> str:
        if hook.form.get("DialCallStatus") in {"completed", "answered"}:
            return twiml.hangup_document()
        log.warning("call %s: the bridge failed; overflow", hook.call_id)
        return self.fallback_document(hook, target="overflow")

    # -- fail-safe documents ------------------------------------------------------------------

    def fallback_document(self, hook: Webhook, target: str = "fallback") -> str:
        """Dial the line's overflow number, found without Redis (and without the database
        when the in-process book knows the line)."""
        call_id = _call_id_or_none(hook)
        line_id = hook.args.get("line")
        dialled = hook.form.get("To")
        number = self.book.number_for(line_id=line_id, dialled=dialled, target=target)
        if number is None:
            turn = self.switchboard().fallback_turn(call_id or "unknown", dialled)
            number = turn.dial_number(Dial("fallback")) or self.book.fallback_number
        links = self.links.for_call(call_id, line_id)
        return twiml.dial_document(links, number, target=target)

    def twilio_fallback(self, hook: Webhook) -> str:
        """Twilio's own fallback URL: our answer to a webhook failed or was not valid TwiML."""
        log.error(
            "call %s: Twilio used the fallback URL (error %s)",
            _call_id_or_none(hook),
            hook.form.get("ErrorCode", "?"),
        )
        return self.fallback_document(hook)

    # -- callbacks --------------------------------------------------------------------------

    def status(self, hook: Webhook) -> None:
        """A call status callback; they arrive out of order, so ``SequenceNumber`` decides
        which one is current. Every one is logged; only the newest acts.

        Raises:
            MalformedCallback: before anything is read or written.
        """
        report = status_report(hook.form, hook.args)
        status, sequence = report.status, report.sequence
        newest = self._is_newest(report.call_sid, sequence)
        call_id = report.call_id or self._known_call(report.call_sid)
        if report.leg is not Leg.CALLER:
            if newest:
                self.legs.leg_status(report.leg, call_id, report.call_sid, status)
            return
        at = self.clock()
        data: dict[str, object] = {"status": status, "sequence": sequence, "stale": not newest}
        if report.answered_by:
            data["answered_by"] = report.answered_by
        self.call_log.append(
            call_id,
            "carrier_status",
            data,
            at=at,
            idempotency_key=f"twilio:{report.call_sid}:status:{sequence}:{status}",
        )
        if newest and status in NOT_ANSWERED:
            # Before the hangup: the switchboard would conclude the attempt as a hang-up.
            self._report_unanswered(call_id, status, at)
        if newest and status in CALL_ENDED:
            self._caller_left(hook, call_id)

    def recording(self, hook: Webhook) -> None:
        """A recording status callback (raises MalformedCallback before anything is read)."""
        report = recording_report(hook.form, hook.args)
        call_id = report.call_id or self._known_call(report.call_sid)
        if report.status != "completed" or report.recording_sid is None:
            log.warning("call %s: Twilio recording %s", call_id, report.status or "without status")
            return
        recording_id = self.accept_recording(call_id, report.recording_sid, datetime.now(UTC))
        self.enqueue_recording(recording_id)

    # -- internals ------------------------------------------------------------------------------

    def _caller_left(self, hook: Webhook, call_id: str | None = None) -> None:
        event = CallEvent(
            EventKind.HANGUP, call_id or hook.call_id, self.clock(), channel=Channel.TWILIO
        )
        self.switchboard().handle(event, idempotency_key=f"twilio:{hook.call_sid}:hangup")

    def _report_unanswered(self, call_id: str, status: str, at: float) -> None:
        """Conclude the check-in attempt of a call nobody answered, with Twilio's reason.

        A failure is only logged, never answered with a 503: the event is already stored, and
        the attempt still ends, as a hang-up when the switchboard hears of it next, else at
        its ring timeout."""
        if self.unanswered is None:
            return
        try:
            self.unanswered(call_id, status, datetime.fromtimestamp(at, UTC))
        except Exception as exc:
            log.error(
                "call %s: %s not reported to check-ins (%s); left to the hangup and ring timeout",
                call_id,
                status,
                type(exc).__name__,
            )

    def _is_newest(self, call_sid: str, sequence: int) -> bool:
        if sequence < 0:
            return True
        script = self._newest_status
        result = script(  # type: ignore[operator]
            keys=[key("twilio", "seq", call_sid)], args=[sequence, SEQUENCE_TTL_S]
        )
        return bool(int(result))

    def _known_call(self, call_sid: str) -> str:
        return self.calls.call_for_sid(call_sid) or call_id_for(Channel.TWILIO, call_sid)

    def _recording(self, call_id: str) -> bool:
        try:
            return self.calls.recording(call_id)
        except redis.RedisError:
            return False


def _call_id_or_none(hook: Webhook) -> str | None:
    try:
        return hook.call_id
    except ValueError:
        return None
