"""How routing and the console reach the edge that carries a call, whatever its channel.

``TelephonyControl`` is routing's ``CallControl``: it rings urgent-team members on their
consoles and hands overflows to the edge carrying the call; ``bridges`` (channel -> CallBridge)
is how the console reaches that edge.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import redis

from calls.callbacks import Callbacks
from calls.urgent_calls import UrgentCalls
from routing.channels import (
    BOARD_CHANGED,
    ESCALATION_CHANNEL,
    SUPERVISOR_CHANNEL,
    agent_channel,
    base_call_id,
)
from store.live_state import key

log = logging.getLogger(__name__)


class CallRedirector(Protocol):
    """What a telephony edge offers routing: move a live call somewhere else."""

    def redirect_to_number(self, call_id: str, number: str) -> None: ...


SUPERVISION_MODES = ("listen", "whisper", "barge")


class CallBridge(Protocol):
    """What a telephony edge offers the console: join a waiting caller to the agent who
    accepted her, end the call from the agent's side, and bring a supervisor in
    (``mode``: listen = hears both, heard by none; whisper = heard by the agent only;
    barge = heard by both). Each method may be called from any web process, so an edge
    forwards it to the process holding the call (Twilio REST, a Redis command, ...).

    Optional, looked up with ``getattr``: ``hold(call_id, on: bool)``,
    ``add_interpreter(call_id, language: str)``, ``remove_interpreter(call_id)``,
    ``mute(call_id, on: bool)`` (the agent's microphone: while on, the caller does not hear
    her) and ``send_dtmf(call_id, digits: str)`` (keys sent down the caller's leg, e.g. to a
    service's menu; :func:`keypad_digits` checks them first) and ``transfer_out(call_id,
    number)`` (a cold transfer to an outside number: she waits on hold, is joined to it when it
    answers, and is back with the agent when it does not), and ``warm_transfer(call_id,
    number)`` (the same, but once it answers the agent talks with it while the caller waits;
    then ``complete_transfer(call_id)`` hands her over or ``cancel_transfer(call_id)`` takes
    her back). :func:`call_actions` names the ones an edge offers, so the console shows only
    those.
    """

    def connect(self, call_id: str, agent_id: str) -> object: ...

    def end(self, call_id: str) -> None: ...

    def supervise(self, call_id: str, supervisor_id: str, mode: str) -> None: ...

    def stop_supervising(self, call_id: str, supervisor_id: str) -> None:
        """The supervisor leaves the call: her leg ends; caller and agent go on."""


OPTIONAL_ACTIONS = (
    "hold",
    "add_interpreter",
    "remove_interpreter",
    "mute",
    "send_dtmf",
    "transfer_out",
    "warm_transfer",
)


TRANSFER_CONSULTING_FIELD = "transfer_consulting"
"""Field of a call's live hash while the agent consults a warm transfer's service."""


class TransferNotAnswered(LookupError):
    """A warm transfer's hand-over asked for while the service has not answered."""

    error_id = "console.transfer_not_answered"


def supervisor_field(supervisor_id: str) -> str:
    """Field of a call's live hash: the mode a supervisor is in on it, while she is."""
    return f"supervisor:{supervisor_id}"


INTERPRETER_FIELD = "interpreter"
"""Field of a call's live hash: the language of the interpreter the agent added, cleared when
her leg is over (removed, hung up, never answered), whatever the channel."""

KEYPAD = frozenset("0123456789*#")
MAX_KEYS = 32


def keypad_digits(digits: str) -> str:
    """``digits`` as every channel can send them: 1 to 32 keys of a phone's keypad.

    Raises:
        ValueError: empty, too long, or a character no keypad has.
    """
    if not digits or len(digits) > MAX_KEYS or not set(digits) <= KEYPAD:
        raise ValueError("keys must be 1 to 32 of 0-9 * #")
    return digits


def call_actions(bridge: CallBridge | None) -> list[str]:
    """The optional call-control actions ``bridge``'s edge offers (none without a bridge)."""
    if bridge is None:
        return []
    return [name for name in OPTIONAL_ACTIONS if callable(getattr(bridge, name, None))]


@dataclass
class TelephonyControl:
    """Routing's ``CallControl`` and the console's way to the edge carrying a call; built
    once by the composition root with every edge this process can reach."""

    client: redis.Redis
    redirectors: Mapping[str, CallRedirector] = field(default_factory=dict)
    bridges: Mapping[str, CallBridge] = field(default_factory=dict)
    urgent: Callable[[], UrgentCalls] | None = None
    """Phones urgent-team members off the console and the line's urgent service."""
    callbacks: Callable[[], Callbacks] | None = None
    """Callback tasks, whose "overflow" means routing gave up waiting for an agent."""

    def channel_of(self, call_id: str) -> str | None:
        channel = self.client.hget(key("call", base_call_id(call_id)), "channel")
        return str(channel) if channel else None

    def bridge_for(self, call_id: str, channel: str | None = None) -> CallBridge | None:
        """The bridge of the edge carrying ``call_id`` (None when that edge has none)."""
        found = channel or self.channel_of(call_id)
        return self.bridges.get(found) if found else None

    def ring(self, member_id: str, escalation_id: str, subject_id: str, tier: int) -> None:
        message = {"kind": "escalation_ring", "escalation_id": escalation_id, "tier": tier}
        self.client.publish(agent_channel(member_id), json.dumps(message))
        self.client.publish(SUPERVISOR_CHANNEL, BOARD_CHANGED)

    def stop_ringing(self, escalation_id: str) -> None:
        message = json.dumps({"kind": "escalation_stopped", "escalation_id": escalation_id})
        self.client.publish(SUPERVISOR_CHANNEL, message)
        self.client.publish(ESCALATION_CHANNEL, message)

    def call_member(self, member_id: str, escalation_id: str) -> None:
        if self.urgent is None:
            log.error("escalation %s: nobody can be phoned from this process", escalation_id)
            return
        self.urgent().call_member(member_id, escalation_id)

    def dial_urgent_number(self, escalation_id: str) -> None:
        if self.urgent is None:
            log.error("escalation %s: the urgent number cannot be called here", escalation_id)
            return
        self.urgent().dial_urgent_number(escalation_id)

    def overflow(self, call_id: str, target: str) -> None:
        if self.callbacks is not None and self.callbacks().expired(base_call_id(call_id)):
            return  # nobody is on the line of a callback task: it is due again
        channel = self.channel_of(call_id)
        redirector = self.redirectors.get(channel) if channel else None
        if redirector is None:
            log.error("call %s: overflow with no edge to redirect it", call_id)
            return
        redirector.redirect_to_number(base_call_id(call_id), target)
