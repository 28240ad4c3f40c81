"""Simulated phones: callers who dial a line, hear prompts as text, press keys, stay silent or
hang up; and phones that ring when a check-in calls them.

Everything a simulated call shows lives in Redis, so any web process can serve any call, and the
switchboard handles it exactly as it handles Twilio and SIP calls.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, assert_never

import redis

from calls.switchboard import Switchboard
from calls.turn import CallTurn
from ivr_flows.actions import (
    Action,
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
from locales.prompts import prompt_text
from store.live_state import key
from store.vocabulary import Channel

TTL_S = 6 * 3600


class PhoneStatus(StrEnum):
    RINGING = "ringing"  # an outbound call waiting to be answered
    IN_IVR = "in_ivr"  # hearing prompts
    WAITING_FOR_KEYS = "waiting_for_keys"
    ON_HOLD = "on_hold"  # queued or escalated: a human is on the way
    CONNECTED = "connected"  # with an agent
    TRANSFERRED = "transferred"  # dialled through to another number
    ENDED = "ended"


@dataclass
class Line:
    """One thing the caller heard or saw."""

    kind: str
    text: str
    locale: str | None = None


@dataclass
class SimulatedCall:
    call_id: str
    status: PhoneStatus
    locale: str | None = None
    lines: list[Line] = field(default_factory=list)
    awaiting_digits: int | None = None
    secret_input: bool = False
    timeout_s: float | None = None
    waiting_since: float | None = None
    """When the menu now waiting for keys was put to her (with ``timeout_s``, when it times out)."""
    steps: int = 0

    def to_json(self) -> str:
        data = asdict(self)
        data["status"] = self.status.value
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str) -> SimulatedCall:
        data = json.loads(raw)
        data["status"] = PhoneStatus(data["status"])
        data["lines"] = [Line(**line) for line in data["lines"]]
        return cls(**data)

    def heard(self) -> list[str]:
        return [line.text for line in self.lines if line.kind == "say"]


class UnknownSimulatedCall(LookupError):
    error_id = "simulator_unknown_call"


def _render(call: SimulatedCall, turn: CallTurn, at: float) -> SimulatedCall:
    call.awaiting_digits = None
    call.secret_input = False
    call.timeout_s = None
    for action in turn.actions:
        _render_one(call, turn, action)
    call.waiting_since = at if call.status is PhoneStatus.WAITING_FOR_KEYS else None
    return call


def _say(call: SimulatedCall, action: Say) -> None:
    call.lines.append(
        Line("say", prompt_text(action.message_id, action.locale, action.params), action.locale)
    )


def _render_one(call: SimulatedCall, turn: CallTurn, action: Action) -> None:
    match action:
        case Say():
            _say(call, action)
        case Play():
            call.lines.append(Line("play", f"[{action.prompt}]"))
        case SetLocale():
            call.locale = action.locale
        case Gather():
            for prompt in action.prompts:
                _render_one(call, turn, prompt)
            call.status = PhoneStatus.WAITING_FOR_KEYS
            call.awaiting_digits = action.num_digits
            call.secret_input = action.secret
            call.timeout_s = action.timeout_s
        case Record():
            call.lines.append(Line("notice", "[recording]"))
        case Enqueue():
            call.status = PhoneStatus.ON_HOLD
            call.lines.append(Line("notice", "[on hold: an agent will answer]"))
        case Escalate(connect_caller=True):
            call.status = PhoneStatus.ON_HOLD
            call.lines.append(Line("notice", "[on hold: the urgent team is being called]"))
        case Escalate():
            pass  # duress: the call goes on sounding normal while the ladder runs
        case Dial():
            call.status = PhoneStatus.TRANSFERRED
            number = turn.dial_number(action) or "the fallback number"
            call.lines.append(Line("notice", f"[transferred to {number}]"))
        case Join():
            call.status = PhoneStatus.CONNECTED
            call.lines.append(Line("notice", "[joined to the caller's call]"))
        case Hangup():
            call.status = PhoneStatus.ENDED
            call.lines.append(Line("notice", "[call ended]"))
        case _:
            assert_never(action)


class SimulatedPhones:
    """The simulator's side of the switchboard, with state in Redis."""

    channel = Channel.SIMULATOR

    def __init__(self, live: redis.Redis, switchboard: Callable[[], Switchboard]) -> None:
        """``switchboard`` is read when a call steps: routing reaches these phones (overflow,
        agents joining) through the same object, and routing is built before the switchboard."""
        self._live = live
        self._switchboard = switchboard

    # -- reading ------------------------------------------------------------------------------

    def get(self, call_id: str) -> SimulatedCall:
        raw = self._live.get(key("sim", call_id))
        if raw is None:
            raise UnknownSimulatedCall(call_id)
        call = SimulatedCall.from_json(str(raw))
        if self._live.llen(key("sim", call_id, "inbox")):
            return self._save(call)
        return call

    def current(self, call_id: str, now: float | None = None) -> SimulatedCall:
        """The call as her phone shows it now. A menu she leaves unanswered past its timeout
        counts as silence, as a real phone's does (Twilio's ``<Gather timeout>``, the SIP
        edge's timer): a silent caller falls through to a person, never waits forever. The
        pages showing the call ask for it every few seconds, which is the simulator's clock;
        one of them sends the silence."""
        call = self.get(call_id)
        at = now or time.time()
        if (
            call.status is PhoneStatus.WAITING_FOR_KEYS
            and call.timeout_s
            and call.waiting_since is not None
            and at >= call.waiting_since + call.timeout_s
            and self._live.set(key("sim", call_id, "timeout", str(call.steps)), 1, nx=True, ex=60)
        ):
            return self.stay_silent(call_id, at)
        return call

    def transcript(self, call_id: str) -> dict[str, Any]:
        """The call as the caller lives it: its status and every line she heard or saw."""
        call = self.current(call_id)
        return {"status": call.status.value, "lines": [asdict(line) for line in call.lines]}

    def is_over(self, call_id: str, external_id: str) -> bool | None:
        """The phone's word on a call (the reconciler's ``CallPresence``): over when it hung
        up or its state is gone."""
        try:
            return self.get(call_id).status is PhoneStatus.ENDED
        except UnknownSimulatedCall:
            return True

    def ringing(self) -> list[str]:
        return sorted(str(item) for item in self._live.smembers(key("sim", "ringing")))

    def _save(self, call: SimulatedCall) -> SimulatedCall:
        call.steps += 1
        self._apply_inbox(call)
        self._live.set(key("sim", call.call_id), call.to_json(), ex=TTL_S)
        return call

    def _post(
        self, call_id: str, status: str | None, text: str, *, line_kind: str = "notice"
    ) -> None:
        """Something done to the call from elsewhere (routing, an agent), applied in order the
        next time the call is saved, so a step in progress never overwrites it."""
        name = key("sim", call_id, "inbox")
        item = {"status": status, "kind": line_kind, "text": text}
        self._live.rpush(name, json.dumps(item))
        self._live.expire(name, TTL_S)

    def _apply_inbox(self, call: SimulatedCall) -> None:
        name = key("sim", call.call_id, "inbox")
        with self._live.pipeline() as pipe:
            pipe.lrange(name, 0, -1)
            pipe.delete(name)
            items, _ = pipe.execute()
        for raw in items:
            item = json.loads(raw)
            if call.status is PhoneStatus.ENDED and item["status"] != PhoneStatus.ENDED.value:
                continue
            if item["status"]:
                call.status = PhoneStatus(item["status"])
            call.lines.append(Line(item["kind"], item["text"]))

    # -- the caller's side --------------------------------------------------------------------

    def dial(
        self, line_number: str, from_number: str | None, now: float | None = None
    ) -> SimulatedCall:
        at = now or time.time()
        turn = self._switchboard().start(
            channel=Channel.SIMULATOR,
            external_id=secrets.token_hex(12),
            to_number=line_number,
            from_number=from_number or None,
            at=at,
        )
        return self._save(_render(SimulatedCall(turn.call_id, PhoneStatus.IN_IVR), turn, at))

    def press(self, call_id: str, digits: str, now: float | None = None) -> SimulatedCall:
        return self._send(call_id, EventKind.DIGITS, now, digits=digits)

    def stay_silent(self, call_id: str, now: float | None = None) -> SimulatedCall:
        return self._send(call_id, EventKind.SILENCE, now)

    def hang_up(self, call_id: str, now: float | None = None) -> SimulatedCall:
        call = self._send(call_id, EventKind.HANGUP, now)
        call.status = PhoneStatus.ENDED
        self._live.srem(key("sim", "ringing"), call_id)
        return self._save(call)

    def _send(
        self, call_id: str, kind: EventKind, now: float | None, **payload: Any
    ) -> SimulatedCall:
        call = self.get(call_id)
        if call.status is PhoneStatus.ENDED:
            return call
        event = CallEvent(kind=kind, call_id=call_id, at=now or time.time(), **payload)
        turn = self._switchboard().handle(event, idempotency_key=f"sim:{call_id}:{call.steps}")
        self._bring_in(turn)
        return self._waiting(self._save(_render(call, turn, event.at)), turn, event.at)

    # -- outbound calls (check-ins) -----------------------------------------------------------

    def place_call(self, call_id: str, to_number: str, caller_id: str | None = None) -> str:
        """The simulator's dialer: the called phone starts ringing; returns its id."""
        call = SimulatedCall(call_id, PhoneStatus.RINGING)
        call.lines.append(Line("notice", "[ringing]"))
        self._save(call)
        self._live.sadd(key("sim", "ringing"), call_id)
        return f"sim-{call_id}"

    def cancel(self, call_id: str) -> None:
        """Stop ringing a call nobody answered (the check-in's ring timeout)."""
        try:
            call = self.get(call_id)
        except UnknownSimulatedCall:
            return
        self._live.srem(key("sim", "ringing"), call_id)
        if call.status is PhoneStatus.RINGING:
            call.status = PhoneStatus.ENDED
            call.lines.append(Line("notice", "[missed call]"))
            self._save(call)

    def answer(
        self, call_id: str, *, machine: bool = False, now: float | None = None
    ) -> SimulatedCall:
        call = self.get(call_id)
        if call.status is not PhoneStatus.RINGING:
            return call  # it stopped ringing (cancelled) or was answered already
        self._live.srem(key("sim", "ringing"), call_id)
        call.status = PhoneStatus.IN_IVR
        at = now or time.time()
        turn = self._switchboard().answered(call_id, at, machine=machine)
        self._bring_in(turn)
        return self._waiting(self._save(_render(call, turn, at)), turn, at)

    def _waiting(self, call: SimulatedCall, turn: CallTurn, at: float) -> SimulatedCall:
        """She is on hold, what came before read at once: a callback waiting for that is put
        through now (its agent's connection is posted to her phone)."""
        if any(isinstance(action, Enqueue) for action in turn.actions):
            self._switchboard().caller_waiting(call.call_id, at)
            return self.get(call.call_id)
        return call

    def _bring_in(self, turn: CallTurn) -> None:
        """A ``Join``: the caller it joins hears the urgent-team member come on the line."""
        if turn.join_call and any(isinstance(action, Join) for action in turn.actions):
            self._post(
                turn.join_call, PhoneStatus.CONNECTED.value, "[connected to the urgent team]"
            )

    # -- what routing and agents do to a simulated call -----------------------------------------

    def redirect_to_number(self, call_id: str, number: str) -> None:
        self._post(call_id, PhoneStatus.TRANSFERRED.value, f"[transferred to {number}]")

    def connect_agent(self, call_id: str, agent_name: str) -> None:
        """Posted, not applied: the agent may be put through while her own step (a callback
        she just answered) is still being saved."""
        self._post(call_id, PhoneStatus.CONNECTED.value, f"[connected to {agent_name}]")

    def end_by_agent(self, call_id: str) -> SimulatedCall:
        self._live.srem(key("sim", "ringing"), call_id)
        self._post(call_id, PhoneStatus.ENDED.value, "[the agent ended the call]")
        return self.get(call_id)

    def note(self, call_id: str, kind: str, text: str, status: PhoneStatus | None = None) -> None:
        """Something the caller notices on the line (hold music, a third person joining)."""
        self._post(call_id, status.value if status else None, text, line_kind=kind)
