"""The legs the console adds to a Twilio call, and their webhooks: the agent's, a supervisor's,
a cold transfer's service and an interpreter, plus what is played into her conference (keys the
agent sends, notices everyone hears). ``services.TwilioEdge`` hands their status callbacks here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.control import INTERPRETER_FIELD, supervisor_field
from ivr_flows.announcements import ANNOUNCEMENTS
from locales import SOURCE_LOCALE
from routing.channels import agent_channel
from store.call_log import CallLog
from store.live_state import key
from store.records import Call
from telephony.twilio import twiml
from telephony.twilio.bridge import TwilioBridge
from telephony.twilio.callbacks import CALL_ENDED, NOT_ANSWERED
from telephony.twilio.calls import TwilioCalls
from telephony.twilio.links import Leg
from telephony.twilio.webhooks import Webhook


@dataclass
class ConsoleLegs:
    calls: TwilioCalls
    live: redis.Redis
    sessions: sessionmaker[Session]
    call_log: CallLog
    bridge: Callable[[], TwilioBridge | None]

    def leg_status(self, leg: Leg, call_id: str, sid: str, status: str) -> None:
        """The newest status callback of one of the console's legs."""
        bridge = self.bridge()
        if leg is Leg.AGENT:
            if bridge is not None and status in NOT_ANSWERED:
                bridge.agent_leg_failed(call_id)
            elif bridge is not None and status == "completed":
                bridge.agent_left(call_id, sid)
        elif leg is Leg.SUPERVISOR:
            if bridge is not None and status in CALL_ENDED:
                left = bridge.supervisor_left(call_id, sid)
                if left:
                    self.live.hdel(key("call", call_id), supervisor_field(left))
        elif leg is Leg.TRANSFER:
            if bridge is not None:
                self._transfer_status(bridge, call_id, sid, status)
        elif leg is Leg.INTERPRETER:
            if status in CALL_ENDED:
                self.live.hdel(key("call", call_id), INTERPRETER_FIELD)
            if status in NOT_ANSWERED:
                self._interpreter_failed(call_id, status)

    def keys(self, hook: Webhook) -> str:
        """The announcement to her participant of the keys the agent sent from the console."""
        return twiml.keys_document(self.calls.get(hook.call_id, f"keys_{hook.args.get('sent')}"))

    def _transfer_status(self, bridge: TwilioBridge, call_id: str, sid: str, status: str) -> None:
        """A cold transfer's leg: answered, she is through and her agent released; not
        answered, she is back with her agent; either way the agent's console is told."""
        if status in NOT_ANSWERED:
            agent_id = bridge.transfer_unanswered(call_id, sid)
        elif status == "completed":
            agent_id = bridge.transfer_leg_ended(call_id, sid)
        else:
            return
        if agent_id is not None:
            self._tell_transfer(call_id, agent_id, "transfer_failed", status)

    def transfer_answered(self, hook: Webhook) -> str:
        """The service answered (Twilio asks for its document): she leaves hold, her agent is
        released and told, and the service joins her conference. A stale request (not the
        call's pending transfer) is hung up: nobody is waiting for it."""
        bridge = self.bridge()
        agent_id = (
            bridge.transfer_answered(hook.call_id, hook.call_sid) if bridge is not None else None
        )
        if agent_id is None:
            return twiml.hangup_document()
        assert bridge is not None
        consulting = bridge.consulting(hook.call_id)
        kind = "transfer_consulting" if consulting else "transferred_out"
        self._tell_transfer(hook.call_id, agent_id, kind, "answered")
        return twiml.join_conference_document(hook.call_id)

    def interpreter_answered(self, hook: Webhook) -> str:
        """The interpreter answered (Twilio asks for her document): she joins the caller's
        conference, announced to caller and agent. A stale leg is hung up."""
        bridge = self.bridge()
        if bridge is None or not bridge.interpreter_answered(hook.call_id, hook.call_sid):
            return twiml.hangup_document()
        self.call_log.append(hook.call_id, "interpreter_joined", {})
        return twiml.join_conference_document(hook.call_id)

    def announcement(self, hook: Webhook) -> str:
        """A notice to everyone in her conference, in the call's locale."""
        prompt = hook.args.get("prompt")
        if prompt not in ANNOUNCEMENTS:
            return twiml.empty_document()
        with self.sessions() as db:
            call = db.get(Call, hook.call_id)
            locale = call.locale if call is not None and call.locale else SOURCE_LOCALE
        return twiml.say_document(prompt, locale)

    def _tell_transfer(self, call_id: str, agent_id: str, kind: str, status: str) -> None:
        self.call_log.append(call_id, kind, {"status": status, "agent_id": agent_id})
        message = {"kind": kind, "call_id": call_id}
        self.live.publish(agent_channel(agent_id), json.dumps(message))

    def _interpreter_failed(self, call_id: str, status: str) -> None:
        """Her interpreter's leg never came: caller and agent stay as they are; the agent is
        told on her console."""
        self.call_log.append(call_id, "interpreter_failed", {"status": status})
        agent_id = self.calls.get(call_id, "agent")
        if agent_id:
            message = {"kind": "interpreter_failed", "call_id": call_id}
            self.live.publish(agent_channel(agent_id), json.dumps(message))
