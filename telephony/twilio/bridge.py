"""Moving live Twilio calls: the agent bridge, supervisors joining it, and routing's overflow.

Bridge: when an agent accepts an offer, the caller's call is redirected out of Twilio's queue
into a conference named after the call id (she keeps hearing hold music until the agent is
in), and the agent's softphone (``client:<agent id>``) is dialled into the same conference.
The caller's leg ends the conference when it leaves (the console's end hangs it up); the
agent's does not: when her leg drops mid-call the caller stays, on hold, and goes back to the
front of her queue (``calls.reoffer``). If the agent's leg cannot be placed, or rings out, the
caller is sent to the line's overflow number rather than left alone in an empty conference.

Supervisors join the same conference: ``listen`` (muted), ``whisper`` (Twilio's coaching: only
the agent hears them) or ``barge`` (everyone hears them), and may switch modes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from calls.control import TransferNotAnswered, keypad_digits
from calls.interpreters import InterpreterLine, NoInterpreter
from calls.overflow import OverflowBook
from ivr_flows.announcements import INTERPRETER_JOINING
from recordings_policy.policy import SensitiveMoment
from telephony.twilio import twiml
from telephony.twilio.calls import TwilioCalls
from telephony.twilio.client import SupervisorMode, TwilioVoice
from telephony.twilio.links import Leg, Links

log = logging.getLogger(__name__)

AGENT_LABEL = "agent"


class BridgeError(Exception):
    error_id = "twilio_bridge_failed"


def supervisor_label(supervisor_id: str) -> str:
    return f"supervisor-{supervisor_id}"


class TwilioRedirector:
    """Routing's ``CallRedirector`` for Twilio calls: overflow a waiting caller to a number."""

    def __init__(self, voice: TwilioVoice, calls: TwilioCalls, links: Links) -> None:
        self._voice = voice
        self._calls = calls
        self._links = links

    def redirect_to_number(self, call_id: str, number: str) -> None:
        sid = self._calls.sid_for(call_id)
        links = self._links.for_call(call_id, self._calls.get(call_id, "line"))
        document = twiml.dial_document(
            links, number, target="overflow", record=self._calls.recording(call_id)
        )
        self._voice.redirect(sid, twiml=document)
        self._calls.update(call_id, overflowed="1")
        log.info("call %s: redirected to the overflow number", call_id)


def _no_interpreters(_line_id: str | None, language: str) -> InterpreterLine:
    raise NoInterpreter(f"no interpreter for {language!r} is configured")


class TwilioBridge:
    def __init__(
        self,
        voice: TwilioVoice,
        calls: TwilioCalls,
        links: Links,
        book: OverflowBook,
        *,
        bridge_caller_id: Callable[[str | None], str | None] | None = None,
        interpreters: Callable[[str | None, str], InterpreterLine] | None = None,
        agent_dropped: Callable[[str, str, float], str | None] | None = None,
    ) -> None:
        self._voice = voice
        self._calls = calls
        self._links = links
        self._book = book
        self._caller_id = bridge_caller_id or self._line_number
        self._interpreters = interpreters or _no_interpreters
        self._agent_dropped = agent_dropped

    def _line_number(self, line_id: str | None) -> str | None:
        try:
            return self._book.lookup(line_id=line_id).number
        except LookupError:
            return self._book.fallback_number

    def _call_links(self, call_id: str) -> Links:
        return self._links.for_call(call_id, self._calls.get(call_id, "line"))

    def connect(self, call_id: str, agent_id: str) -> str:
        """Bridge the caller of ``call_id`` with ``agent_id``'s softphone; return the agent
        leg's CallSid. Raises BridgeError (after sending the caller to the overflow) when the
        agent cannot be dialled."""
        sid = self._calls.sid_for(call_id)
        links = self._call_links(call_id)
        document = twiml.conference_document(links, call_id, record=self._calls.recording(call_id))
        self._voice.redirect(sid, twiml=document)
        # The previous agent's leg (after a transfer or a re-offer) is not this agent's.
        self._calls.update(call_id, bridge="1", agent=agent_id, agent_leg="")
        try:
            agent = self._voice.add_participant(
                call_id,
                to=f"client:{agent_id}",
                from_=self._caller_id(links.line_id) or "client:amparo",
                label=AGENT_LABEL,
                status_callback=links.status(Leg.AGENT),
                start_conference_on_enter=True,
                end_conference_on_exit=False,  # her leg dropping must not end the caller's
            )
        except Exception as exc:
            log.error("call %s: agent leg not placed (%s); overflow", call_id, type(exc).__name__)
            self.send_to_overflow(call_id)
            raise BridgeError("the agent could not be dialled into the call") from exc
        fields = {"agent_leg": agent.call_sid}
        if agent.conference_sid:
            fields["conference"] = agent.conference_sid
        self._calls.update(call_id, **fields)
        return agent.call_sid

    def bring_in(self, call_id: str) -> None:
        """An urgent-team member took the woman's call from her phone and is joining its
        conference (``twiml._join``): move the woman into it, out of the queue."""
        sid = self._calls.sid_for(call_id)
        links = self._call_links(call_id)
        document = twiml.conference_document(links, call_id, record=self._calls.recording(call_id))
        self._voice.redirect(sid, twiml=document)
        self._calls.update(call_id, bridge="1")

    def end(self, call_id: str) -> None:
        """The agent ended the call: hang up the caller's leg (the conference ends with it)."""
        self._voice.hang_up(self._calls.sid_for(call_id))

    def hold(self, call_id: str, on: bool) -> None:
        """The agent puts her on hold (she hears the hold audio; nobody hears her) or takes
        her back. She stays in the conference throughout, so she is never dropped."""
        hold_url = self._call_links(call_id).hold_media()
        self._voice.hold_participant(
            self._conference(call_id), self._calls.sid_for(call_id), on=on, hold_url=hold_url
        )

    def mute(self, call_id: str, on: bool) -> None:
        """The agent mutes her microphone (nobody in the conference hears her) or unmutes it."""
        self._voice.mute_participant(self._conference(call_id), AGENT_LABEL, on=on)

    def send_dtmf(self, call_id: str, digits: str) -> None:
        """Keys down her leg, as an announcement to her participant alone: she never leaves
        the conference. The keys wait in Redis; the announcement's URL only numbers them."""
        keys = keypad_digits(digits)
        conference = self._conference(call_id)
        sent = self._calls.bump(call_id, "keys_sent")
        self._calls.update(call_id, **{f"keys_{sent}": keys})
        url = self._call_links(call_id).keys(sent)
        self._voice.announce_to_participant(conference, self._calls.sid_for(call_id), url)

    def _conference(self, call_id: str) -> str:
        conference = self._calls.get(call_id, "conference")
        if not conference:
            raise BridgeError("the call's conference is not known")
        return conference

    def add_interpreter(self, call_id: str, language: str) -> None:
        """Dial the line's interpreter for ``language`` into her conference (its PIN sent on
        answer). Raises ``calls.interpreters.NoInterpreter`` when none is configured."""
        links = self._call_links(call_id)
        interpreter = self._interpreters(links.line_id, language)
        sid = self._voice.dial_into_conference(
            call_id,
            to=interpreter.target,
            from_=self._caller_id(links.line_id) or self._book.fallback_number or "",
            send_digits=interpreter.dtmf,
            status_callback=links.status(Leg.INTERPRETER),
            on_answer=links.interpreter_answered(),
        )
        self._calls.update(call_id, interpreter=sid)

    def interpreter_answered(self, call_id: str, sid: str) -> bool:
        """Her interpreter answered: caller and agent hear that she joins. False when ``sid``
        is not the call's interpreter (a stale leg: nobody waits for it)."""
        if not sid or sid != self._calls.get(call_id, "interpreter"):
            return False
        url = self._call_links(call_id).announcement(INTERPRETER_JOINING)
        try:
            self._voice.announce_to_conference(self._conference(call_id), url)
        except Exception as exc:  # she joins all the same; only the notice is lost
            log.error("call %s: interpreter not announced (%s)", call_id, type(exc).__name__)
        return True

    def transfer_out(self, call_id: str, number: str, *, warm: bool = False) -> None:
        """A cold transfer: she is held (the hold audio) in her conference while ``number`` is
        called with the line's caller ID. Twilio asks for its document when it answers
        (``transfer_answered``, which joins it to her conference); its status callback says
        when it did not (``transfer_unanswered``) or, later, when it hung up. ``warm``: once
        it answers, the agent talks with it while she stays on hold (``complete_transfer``
        or ``cancel_transfer`` then)."""
        links = self._call_links(call_id)
        self.hold(call_id, True)
        try:
            sid = self._voice.dial_into_conference(
                call_id,
                to=number,
                from_=self._caller_id(links.line_id) or self._book.fallback_number or "",
                send_digits=None,
                status_callback=links.status(Leg.TRANSFER),
                on_answer=links.transfer_answered(),
            )
        except Exception:
            self.hold(call_id, False)  # never left on hold by a transfer that was not placed
            raise
        self._calls.update(call_id, transfer=sid, transfer_warm="1" if warm else "")

    def warm_transfer(self, call_id: str, number: str) -> None:
        self.transfer_out(call_id, number, warm=True)

    def complete_transfer(self, call_id: str) -> None:
        """After consulting: she leaves hold and is with the service; the agent's leg ends.
        Raises :class:`calls.control.TransferNotAnswered` while the service has not answered."""
        sid = self._calls.get(call_id, "consulting")
        if not sid:
            raise TransferNotAnswered(call_id)
        self._calls.update(call_id, consulting="")
        self._hand_over(call_id, sid)

    def cancel_transfer(self, call_id: str) -> None:
        """The agent takes her back (the service ringing or consulted): its leg ends and she
        leaves hold."""
        sid = self._calls.get(call_id, "transfer")
        if not sid:
            raise TransferNotAnswered(call_id)
        self._calls.update(call_id, transfer="", consulting="")
        self._voice.hang_up(sid)
        self._outside_service(call_id, on=False)
        self.hold(call_id, False)

    def transfer_answered(self, call_id: str, sid: str) -> str | None:
        """The service answered: she leaves hold and the agent's leg ends (not a dropped
        agent: the call is no longer hers). Returns the agent to tell (None: not this
        call's transfer)."""
        if not sid or sid != self._calls.get(call_id, "transfer"):
            return None
        if self._calls.get(call_id, "transfer_warm"):
            self._outside_service(call_id, on=True)
            self._calls.update(call_id, consulting=sid)  # with the agent; she stays on hold
            return self._calls.get(call_id, "agent") or None
        return self._hand_over(call_id, sid)

    def consulting(self, call_id: str) -> bool:
        return bool(self._calls.get(call_id, "consulting"))

    def _hand_over(self, call_id: str, sid: str) -> str | None:
        agent_id, agent_leg = (
            self._calls.get(call_id, "agent"),
            self._calls.get(call_id, "agent_leg"),
        )
        self._calls.update(call_id, agent="", agent_leg="", transfer="", transferred=sid)
        self._outside_service(call_id, on=True)
        self.hold(call_id, False)
        if agent_leg:
            self._voice.hang_up(agent_leg)
        return agent_id or None

    def transfer_unanswered(self, call_id: str, sid: str) -> str | None:
        """Not answered: she is back with her agent. Returns the agent to tell."""
        if not sid or sid != self._calls.get(call_id, "transfer"):
            return None
        self._calls.update(call_id, transfer="", consulting="")
        self._outside_service(call_id, on=False)
        self.hold(call_id, False)
        return self._calls.get(call_id, "agent") or None

    def _outside_service(self, call_id: str, *, on: bool) -> None:
        """Pause her conference's recording while an outside service is on the call (``on``)
        or resume it, when her policy pauses for it. Never fails the transfer."""
        if not self._calls.pauses_for(call_id, SensitiveMoment.OUTSIDE_SERVICE):
            return
        if bool(self._calls.get(call_id, "recording_paused")) == on:
            return
        try:
            self._voice.set_conference_recording(self._conference(call_id), paused=on)
        except Exception as exc:
            log.error("call %s: recording not paused or resumed (%s)", call_id, type(exc).__name__)
            return
        self._calls.update(call_id, recording_paused="1" if on else "")

    def transfer_leg_ended(self, call_id: str, sid: str) -> str | None:
        """The transfer's leg completed. Still pending (its answer was never asked for, or
        failed): as unanswered, returning the agent to tell. The service she was put through
        to hung up: her call ends, as with any person (None)."""
        if sid and sid == self._calls.get(call_id, "transferred"):
            self.end(call_id)
            return None
        return self.transfer_unanswered(call_id, sid)

    def remove_interpreter(self, call_id: str) -> None:
        """The interpreter's leg ends; caller and agent stay connected."""
        sid = self._calls.get(call_id, "interpreter")
        if sid:
            self._voice.hang_up(sid)
            self._calls.update(call_id, interpreter="")

    def supervise(self, call_id: str, supervisor_id: str, mode: str) -> None:
        """The console's entry for listen / whisper / barge (see :class:`SupervisorMode`): the
        first time her softphone is dialled in; after that her participant changes mode (she
        is never dialled twice into one call)."""
        field = f"supervisor_{supervisor_id}"
        if self._calls.get(call_id, field):
            self.set_supervisor_mode(call_id, supervisor_id, SupervisorMode(mode))
            return
        leg = self.join_supervisor(call_id, supervisor_id, SupervisorMode(mode))
        self._calls.update(call_id, **{field: leg, f"supervisor_leg_{leg}": supervisor_id})

    def supervisor_left(self, call_id: str, leg: str) -> str | None:
        """Her softphone left the call (or never answered): the next mode dials her again.
        Returns her id (None for a leg not known as a supervisor's)."""
        supervisor_id = self._calls.get(call_id, f"supervisor_leg_{leg}")
        if supervisor_id:
            self._calls.update(call_id, **{f"supervisor_{supervisor_id}": ""})
        return supervisor_id or None

    def stop_supervising(self, call_id: str, supervisor_id: str) -> None:
        """The console's "leave": her participant's call is ended; caller and agent go on."""
        field = f"supervisor_{supervisor_id}"
        leg = self._calls.get(call_id, field)
        if leg:
            self._voice.hang_up(leg)
            self._calls.update(call_id, **{field: ""})

    def agent_leg_failed(self, call_id: str) -> None:
        """The agent's softphone did not answer (busy, no answer, failed): the caller must not
        wait alone in the conference."""
        log.warning("call %s: agent leg not answered; caller sent to the overflow", call_id)
        self.send_to_overflow(call_id)

    def agent_left(self, call_id: str, agent_leg: str) -> str | None:
        """The agent's leg ended. While the call was still hers (the console never ended
        it), the caller stays in the conference on hold and goes back to the front of her
        queue; return her new routing id (None when nothing was done)."""
        agent_id = self._calls.get(call_id, "agent")
        if self._agent_dropped is None or not agent_id:
            return None
        if agent_leg != self._calls.get(call_id, "agent_leg"):
            return None  # an earlier agent's leg (after a transfer): not the call's agent now
        reoffer = self._agent_dropped(call_id, agent_id, time.time())
        if reoffer is None:
            return None
        self._calls.update(call_id, agent_leg="", agent="")
        try:
            self.hold(call_id, True)
        except Exception as exc:
            log.error("call %s: the caller could not be held (%s)", call_id, type(exc).__name__)
        return reoffer

    def send_to_overflow(self, call_id: str) -> None:
        links = self._call_links(call_id)
        number = self._book.number_for(line_id=links.line_id)
        document = twiml.dial_document(
            links, number, target="overflow", record=self._calls.recording(call_id)
        )
        self._voice.redirect(self._calls.sid_for(call_id), twiml=document)
        self._calls.update(call_id, bridge="", overflowed="1")

    def join_supervisor(self, call_id: str, supervisor_id: str, mode: SupervisorMode) -> str:
        """Dial a supervisor's softphone into the call's conference; return that leg's sid."""
        links = self._call_links(call_id)
        agent_leg = self._calls.get(call_id, "agent_leg")
        if mode is SupervisorMode.WHISPER and not agent_leg:
            raise BridgeError("no agent on this call to coach")
        supervisor = self._voice.add_participant(
            call_id,
            to=f"client:{supervisor_id}",
            from_=self._caller_id(links.line_id) or "client:amparo",
            label=supervisor_label(supervisor_id),
            status_callback=links.status(Leg.SUPERVISOR),
            muted=mode is SupervisorMode.LISTEN,
            coaching=mode is SupervisorMode.WHISPER,
            call_sid_to_coach=agent_leg if mode is SupervisorMode.WHISPER else None,
            start_conference_on_enter=False,
            end_conference_on_exit=False,
        )
        if supervisor.conference_sid and not self._calls.get(call_id, "conference"):
            self._calls.update(call_id, conference=supervisor.conference_sid)
        return supervisor.call_sid

    def set_supervisor_mode(self, call_id: str, supervisor_id: str, mode: SupervisorMode) -> None:
        conference = self._calls.get(call_id, "conference")
        agent_leg = self._calls.get(call_id, "agent_leg")
        if not conference:
            raise BridgeError("the call's conference is not known")
        if mode is SupervisorMode.WHISPER and not agent_leg:
            raise BridgeError("no agent on this call to coach")
        self._voice.update_participant(
            conference,
            supervisor_label(supervisor_id),
            muted=mode is SupervisorMode.LISTEN,
            coaching=mode is SupervisorMode.WHISPER,
            call_sid_to_coach=agent_leg if mode is SupervisorMode.WHISPER else None,
        )
