"""Twilio as the dialer of check-in and notification calls (``checkins.ports.OutboundDialer``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from store.vocabulary import Channel
from telephony.twilio.calls import TwilioCalls
from telephony.twilio.client import TwilioVoice

log = logging.getLogger(__name__)


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
        """Stop a call still ringing (Twilio's "canceled"); nothing to do once it ended."""
        try:
            sid = self.calls.sid_for(call_id)
        except LookupError:
            return
        try:
            self.voice.client.calls(sid).update(status="canceled")
        except Exception as exc:  # already answered or ended: Twilio refuses, nothing to stop
            log.info("call %s: not cancelled at Twilio (%s)", call_id, type(exc).__name__)
