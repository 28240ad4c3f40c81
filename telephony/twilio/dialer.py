"""Twilio as the dialer of check-in and notification calls (``checkins.ports.OutboundDialer``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from store.vocabulary import Channel
from telephony.twilio.calls import TwilioCalls
from telephony.twilio.client import TwilioVoice

log = logging.getLogger(__name__)

IN_PROGRESS = "in-progress"


@dataclass
class TwilioDialer:
    voice: TwilioVoice
    calls: TwilioCalls

    @property
    def channel(self) -> Channel:
        return Channel.TWILIO

    def place_call(self, call_id: str, to_number: str, caller_id: str | None) -> str:
        """Ring her through Twilio with a neutral caller id and answering-machine detection."""
        return self.voice.place_checkin_call(call_id, to_number, from_number=caller_id)

    def cancel(self, call_id: str) -> None:
        """Stop a call still ringing (Twilio's "canceled", which leaves an answered call alone).

        A call Amparo has already ended (an agent cancelled it: ``calls.cancel_ringing``) that
        the far end answered in the meantime is hung up as well ("completed"): nobody waits for
        her on it. A call still open (a check-in's ring timeout) stays up once answered.
        """
        try:
            sid = self.calls.sid_for(call_id)
        except LookupError:
            return
        try:
            status = self.voice.client.calls(sid).update(status="canceled").status
        except Exception as exc:  # ended, or answered: Twilio may refuse; see below
            log.info("call %s: not cancelled at Twilio (%s)", call_id, type(exc).__name__)
            status = None
        if status in (None, IN_PROGRESS) and self.calls.ended(call_id):
            try:
                self.voice.hang_up(sid)
            except Exception as exc:  # it ended at Twilio too
                log.info("call %s: not completed at Twilio (%s)", call_id, type(exc).__name__)
