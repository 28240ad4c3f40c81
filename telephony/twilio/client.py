"""Every REST call Amparo makes to Twilio's voice API goes through :class:`TwilioVoice`.

The ``twilio`` client is built once from settings (``recordings.rest_client``: API key or auth
token, base URL overridable so tests can point it at a mock of Twilio's OpenAPI spec).

Outbound calls are paced by :class:`~telephony.twilio.rate_limit.OutboundPacer` across every
process (``AMPARO_TWILIO_CPS``), show a neutral caller id, and use answering-machine
detection so that a machine is hung up on without a word: no voicemail ever names the service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.api.v2010.account.conference.participant import ParticipantInstance
from twilio.twiml.voice_response import VoiceResponse

from telephony.twilio.callbacks import CALL_ENDED
from telephony.twilio.calls import TwilioCalls
from telephony.twilio.links import Links
from telephony.twilio.rate_limit import OutboundPacer
from telephony.twilio.recordings import TwilioRecordings

RING_TIMEOUT_S = 30


class NoNeutralCallerId(Exception):
    """An outbound call needs ``AMPARO_TWILIO_NEUTRAL_CALLER_ID`` or an explicit number."""

    error_id = "twilio_no_neutral_caller_id"


class SupervisorMode(StrEnum):
    """How a supervisor joins an agent's call: hear only, speak to the agent only, or speak
    to both."""

    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


@dataclass(frozen=True)
class Participant:
    call_sid: str
    conference_sid: str | None
    label: str | None


CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")


class TwilioVoice:
    def __init__(
        self,
        client: Client,
        links: Links,
        calls: TwilioCalls,
        *,
        pacer: OutboundPacer | None = None,
        neutral_caller_id: str | None = None,
    ) -> None:
        self.client = client
        self.links = links
        self.calls = calls
        self.pacer = pacer
        self.neutral_caller_id = neutral_caller_id

    def is_over(self, call_id: str, external_id: str) -> bool | None:
        """Twilio's word on a call, from its REST call resource (the reconciler's
        ``CallPresence``): over when it ended or Twilio no longer knows it; None (cannot tell)
        for an id that is no CallSid, which Twilio would refuse to look up."""
        if not CALL_SID.match(external_id):
            return None
        try:
            status = self.client.calls(external_id).fetch().status
        except TwilioRestException as exc:
            if exc.status == 404:
                return True
            raise
        return str(getattr(status, "value", status)) in CALL_ENDED

    @property
    def recordings(self) -> TwilioRecordings:
        """Fetch, download and delete recordings (used by the recordings store job)."""
        return TwilioRecordings(self.client)

    # -- outbound calls -----------------------------------------------------------------------

    def place_checkin_call(
        self,
        call_id: str,
        to_number: str,
        from_number: str | None = None,
        status_callback_url: str | None = None,
        url: str | None = None,
        *,
        max_wait_s: float | None = None,
    ) -> str:
        """Dial ``to_number`` for the existing call ``call_id``; return Twilio's CallSid.

        The call row and its switchboard session must exist before this is called. When the
        phone is answered Twilio requests ``url`` (default ``/twilio/voice/outbound-answered``)
        after answering-machine detection, and every status change goes to
        ``status_callback_url`` (default ``/twilio/voice/status``). Waits for a slot of the
        account's calls-per-second budget; raises ``OutboundBusy`` when that is more than
        ``max_wait_s`` away (nothing is placed then, so the caller can retry later).
        """
        caller_id = from_number or self.neutral_caller_id
        if not caller_id:
            raise NoNeutralCallerId("set AMPARO_TWILIO_NEUTRAL_CALLER_ID")
        links = self.links.for_call(call_id, None)
        if self.pacer is not None:
            self.pacer.wait_turn(max_wait_s=max_wait_s)
        call = self.client.calls.create(
            to=to_number,
            from_=caller_id,
            url=url or links.outbound_answered(),
            method="POST",
            fallback_url=links.fallback(),
            fallback_method="POST",
            status_callback=status_callback_url or links.status(),
            # No StatusCallbackEvent: the default, "completed", is the one callback that acts
            # (its CallStatus says completed, busy, no-answer, failed or canceled).
            status_callback_method="POST",
            # "Enable" answers as soon as a human or a machine is told apart; waiting for the
            # beep (DetectMessageEnd) only matters to leave a message, which we never do.
            machine_detection="Enable",
            timeout=RING_TIMEOUT_S,
        )
        sid = str(call.sid)
        self.calls.remember(call_id, sid)
        return sid

    # -- live calls ---------------------------------------------------------------------------

    def redirect(self, call_sid: str, *, twiml: str | None = None, url: str | None = None) -> None:
        """Replace what a live call is doing with ``twiml`` (or the document at ``url``)."""
        if (twiml is None) == (url is None):
            raise ValueError("give either twiml or url")
        if twiml is not None:
            self.client.calls(call_sid).update(twiml=twiml)
        else:
            self.client.calls(call_sid).update(url=url, method="POST")

    def hang_up(self, call_sid: str) -> None:
        self.client.calls(call_sid).update(status="completed")

    # -- conferences --------------------------------------------------------------------------

    def dial_into_conference(
        self,
        conference: str,
        *,
        to: str,
        from_: str,
        send_digits: str | None,
        status_callback: str,
        on_answer: str | None = None,
    ) -> str:
        """Call ``to`` (a number or a SIP URI) and put whoever answers into the conference
        named ``conference``, after sending ``send_digits`` (an interpreting service's PIN);
        return the new call's sid. The Calls API, unlike Participants, sends digits."""
        response = VoiceResponse()
        dial = response.dial()
        dial.conference(
            conference, start_conference_on_enter=False, end_conference_on_exit=False, beep=False
        )
        options: dict[str, Any] = {}
        if send_digits:
            options["send_digits"] = send_digits
        if on_answer:  # the document is asked for when it answers: that is the signal
            options.update(url=on_answer, method="POST")
        else:
            options["twiml"] = str(response)
        call = self.client.calls.create(
            to=to,
            from_=from_,
            status_callback=status_callback,
            status_callback_method="POST",
            timeout=RING_TIMEOUT_S,
            **options,
        )
        return str(call.sid)

    def add_participant(
        self,
        conference: str,
        *,
        to: str,
        from_: str,
        label: str,
        status_callback: str | None = None,
        muted: bool = False,
        coaching: bool = False,
        call_sid_to_coach: str | None = None,
        start_conference_on_enter: bool = True,
        end_conference_on_exit: bool = False,
    ) -> Participant:
        """Dial ``to`` into the conference named ``conference`` (created if needed)."""
        options: dict[str, Any] = {}
        if status_callback:
            options.update(status_callback=status_callback, status_callback_method="POST")
        if coaching:
            options.update(coaching=True, call_sid_to_coach=call_sid_to_coach)
        participant: ParticipantInstance = self.client.conferences(conference).participants.create(
            from_=from_,
            to=to,
            label=label,
            muted=muted,
            beep="false",
            start_conference_on_enter=start_conference_on_enter,
            end_conference_on_exit=end_conference_on_exit,
            timeout=RING_TIMEOUT_S,
            early_media=True,
            **options,
        )
        return Participant(
            call_sid=str(participant.call_sid),
            conference_sid=None
            if participant.conference_sid is None
            else str(participant.conference_sid),
            label=None if participant.label is None else str(participant.label),
        )

    def update_participant(
        self,
        conference_sid: str,
        participant: str,
        *,
        muted: bool,
        coaching: bool,
        call_sid_to_coach: str | None = None,
    ) -> None:
        """Change how a participant (CallSid or label) takes part: mute, coach, or neither."""
        options: dict[str, Any] = {"muted": muted, "coaching": coaching}
        if coaching:
            options["call_sid_to_coach"] = call_sid_to_coach
        self.client.conferences(conference_sid).participants(participant).update(**options)

    def hold_participant(
        self, conference_sid: str, participant: str, *, on: bool, hold_url: str
    ) -> None:
        """Put a participant (CallSid or label) on hold with ``hold_url``'s audio, or back."""
        options: dict[str, Any] = {"hold": on}
        if on:
            options.update(hold_url=hold_url, hold_method="GET")
        self.client.conferences(conference_sid).participants(participant).update(**options)

    def set_conference_recording(self, conference_sid: str, *, paused: bool) -> None:
        """Pause the conference's recording (skipping the time: nothing of it is kept) or
        resume it."""
        options = (
            {"status": "paused", "pause_behavior": "skip"} if paused else {"status": "in-progress"}
        )
        self.client.conferences(conference_sid).recordings("Twilio.CURRENT").update(**options)

    def mute_participant(self, conference_sid: str, participant: str, *, on: bool) -> None:
        """Mute a participant (CallSid or label): nobody in the conference hears her."""
        self.client.conferences(conference_sid).participants(participant).update(muted=on)

    def announce_to_participant(self, conference_sid: str, participant: str, url: str) -> None:
        """Play the TwiML at ``url`` (``<Play>``, ``<Say>``, ``<Pause>``) to one participant
        only; she stays in the conference throughout."""
        self.client.conferences(conference_sid).participants(participant).update(
            announce_url=url, announce_method="POST"
        )

    def announce_to_conference(self, conference_sid: str, url: str) -> None:
        """Play the TwiML at ``url`` to everyone in the conference."""
        self.client.conferences(conference_sid).update(announce_url=url, announce_method="POST")

    def remove_participant(self, conference_sid: str, participant: str) -> None:
        self.client.conferences(conference_sid).participants(participant).delete()
