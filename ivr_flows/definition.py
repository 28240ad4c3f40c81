"""Flow definitions as frozen data, in Twilio Studio's shape.

A flow is ``initial_state`` plus ``states[{name, type, properties, transitions[{event, next}]}]``.
State types form a closed set (:class:`StateType`); properties are plain values. Nothing in a
flow is evaluated: there are no expressions, templates or code, so a flow file can only choose
among behaviours the engine already has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ivr_flows.state import CallFlag, Outcome
from store.vocabulary import Direction, RiskLevel


class StateType(StrEnum):
    TRIGGER = "trigger"  # entry: transitions on started / alarm / answered / machine
    SAY = "say"
    PLAY = "play"
    CHOOSE_LOCALE = "choose_locale"  # announce the locale chosen from the caller's context
    SET_LOCALE = "set_locale"  # switch to a fixed locale (language menu)
    RECORDING_NOTICE = "recording_notice"  # follow the recording policy decision
    RECORD = "record"  # start recording (after consent)
    GATHER = "gather"  # wait for keys
    TRIAGE = "triage"  # assess the keypad screen: severe / priority / standard
    ENQUEUE = "enqueue"
    ESCALATE = "escalate"
    DIAL = "dial"
    JOIN = "join"  # an urgent-team member joins the live call her alert is about
    HANGUP = "hangup"


HUMAN_TYPES = frozenset({StateType.ENQUEUE, StateType.ESCALATE, StateType.DIAL, StateType.JOIN})
END_TYPES = HUMAN_TYPES | {StateType.HANGUP}
TRIGGER_EVENTS = frozenset({"started", "alarm", "answered", "machine"})
CALLBACK_OFFER_EVENT = "standard_callback_offer"
"""A triage's standard result while the line offers callbacks (``CallEvent.callback_offer``)."""


@dataclass(frozen=True)
class PromptRef:
    """A prompt to speak: its catalog key, an optional fixed locale, and static parameters."""

    message_id: str
    locale: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StateProperties:
    messages: tuple[PromptRef, ...] = ()
    prompt: str | None = None
    locale: str | None = None
    input: str = "menu"
    num_digits: int = 1
    timeout_s: float | None = None
    finish_on_key: str | None = None
    question: str | None = None
    answers: Mapping[str, str] = field(default_factory=dict)
    invalid_message: str | None = None
    max_invalid: int | None = None
    queue: str | None = None
    team: str | None = None
    reason: str | None = None
    connect_caller: bool = True
    target: str | None = None
    flags: frozenset[CallFlag] = frozenset()
    raise_risk_to: RiskLevel | None = None
    outcome: Outcome | None = None


@dataclass(frozen=True)
class Transition:
    event: str
    next: str


@dataclass(frozen=True)
class StateDef:
    name: str
    type: StateType
    properties: StateProperties
    transitions: tuple[Transition, ...]

    def target(self, event: str) -> str | None:
        for transition in self.transitions:
            if transition.event == event:
                return transition.next
        return None

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(transition.event for transition in self.transitions)

    @property
    def is_pin(self) -> bool:
        return self.type is StateType.GATHER and self.properties.input == "pin"

    @property
    def is_take(self) -> bool:
        """A key that takes an escalation: routing's verdict comes back as the event."""
        return self.type is StateType.GATHER and self.properties.input == "take"


@dataclass(frozen=True)
class Flow:
    name: str
    description: str
    direction: Direction
    initial_state: str
    states: Mapping[str, StateDef]
    version: int = 1

    def state(self, name: str) -> StateDef:
        return self.states[name]

    @property
    def trigger(self) -> StateDef:
        return self.states[self.initial_state]

    def message_ids(self) -> set[str]:
        """Every prompt key the flow can speak (for catalog checks)."""
        ids: set[str] = set()
        for state in self.states.values():
            ids.update(prompt.message_id for prompt in state.properties.messages)
            if state.properties.invalid_message:
                ids.add(state.properties.invalid_message)
        return ids


def _prompts(raw: object) -> tuple[PromptRef, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        PromptRef(
            message_id=str(item["message_id"]),
            locale=item.get("locale"),
            params={str(k): str(v) for k, v in (item.get("params") or {}).items()},
        )
        for item in raw
    )


def properties_from_dict(raw: Mapping[str, Any]) -> StateProperties:
    """Typed properties from a state's (schema-valid) ``properties`` object."""
    risk = raw.get("raise_risk_to")
    outcome = raw.get("outcome")
    timeout = raw.get("timeout")
    max_invalid = raw.get("max_invalid")
    return StateProperties(
        messages=_prompts(raw.get("messages")),
        prompt=raw.get("prompt"),
        locale=raw.get("locale"),
        input=str(raw.get("input", "menu")),
        num_digits=int(raw.get("num_digits", 1)),
        timeout_s=None if timeout is None else float(timeout),
        finish_on_key=raw.get("finish_on_key"),
        question=raw.get("question"),
        answers={str(k): str(v) for k, v in (raw.get("answers") or {}).items()},
        invalid_message=raw.get("invalid_message"),
        max_invalid=None if max_invalid is None else int(max_invalid),
        queue=raw.get("queue"),
        team=raw.get("team"),
        reason=raw.get("reason"),
        connect_caller=bool(raw.get("connect_caller", True)),
        target=raw.get("target"),
        flags=frozenset(CallFlag(flag) for flag in raw.get("flags") or ()),
        raise_risk_to=None if risk is None else RiskLevel(risk),
        outcome=None if outcome is None else Outcome(outcome),
    )


def flow_from_dict(name: str, document: Mapping[str, Any]) -> Flow:
    """Build a :class:`Flow` from a document that already passed the JSON Schema."""
    states: dict[str, StateDef] = {}
    for raw in document["states"]:
        state = StateDef(
            name=str(raw["name"]),
            type=StateType(raw["type"]),
            properties=properties_from_dict(raw.get("properties") or {}),
            transitions=tuple(
                Transition(event=str(t["event"]), next=str(t["next"]))
                for t in raw.get("transitions") or ()
            ),
        )
        states.setdefault(state.name, state)
    return Flow(
        name=name,
        description=str(document.get("description", "")),
        direction=Direction(document["direction"]),
        initial_state=str(document["initial_state"]),
        states=states,
        version=int(document.get("version", 1)),
    )
