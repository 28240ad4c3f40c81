"""SIP as the dialer of check-in and notification calls (``checkins.ports.OutboundDialer``).

A check-in job runs on an rq worker, not in the SIP process that holds the trunk: the dialer
queues the call's id for the SIP processes (``commands.request_dial``) and returns at once.
The SIP process that takes it reports the answer to the switchboard and an early "nobody will
answer" to the check-in ladder (``telephony.sip.outbound``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from store.vocabulary import Channel
from telephony.sip import commands

log = logging.getLogger(__name__)


@dataclass
class SipDialer:
    client: redis.Redis

    @property
    def channel(self) -> Channel:
        return Channel.SIP

    def place_call(self, call_id: str, to_number: str, caller_id: str | None) -> str:
        """Queue the call for a SIP process; the number stays in the database (the process
        reads it from the call's row), so nothing personal reaches Redis."""
        if not commands.live_processes(self.client):
            log.error("call %s: no SIP process is running; the call waits for one", call_id)
        commands.request_dial(self.client, call_id, caller_id)
        return call_id

    def cancel(self, call_id: str) -> None:
        commands.request_cancel(self.client, call_id)
