"""Validation of flow files: the shipped JSON Schema first, then the safety rules it can't express.

Semantic rules (DESIGN.md safety rules 1 and 2):

* state names are unique and every transition target exists;
* exactly one trigger, the initial state, and nothing transitions back into it;
* each state type has exactly the transitions it needs (a gather always has ``timeout`` and
  ``invalid``; a PIN gather ``pin_ok``, ``pin_wrong`` and ``pin_duress``);
* every state is reachable and can reach a human (enqueue, escalate, dial) or a hangup;
* no loop runs without waiting for the caller;
* on inbound and alarm flows no ``timeout`` path ends in a hangup;
* on every menu gather, "0" leads straight (without another question) to a human;
* no string looks like a template: flows never run code.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from ivr_flows.definition import (
    CALLBACK_OFFER_EVENT,
    END_TYPES,
    HUMAN_TYPES,
    TRIGGER_EVENTS,
    Flow,
    StateDef,
    StateType,
    flow_from_dict,
)
from ivr_flows.errors import FlowProblem
from store.vocabulary import Direction

_FIXED_EVENTS: Mapping[StateType, frozenset[str]] = {
    StateType.SAY: frozenset({"next"}),
    StateType.PLAY: frozenset({"next"}),
    StateType.CHOOSE_LOCALE: frozenset({"next"}),
    StateType.SET_LOCALE: frozenset({"next"}),
    StateType.RECORD: frozenset({"next"}),
    StateType.RECORDING_NOTICE: frozenset({"next", "consent"}),
    StateType.TRIAGE: frozenset({"severe", "priority", "standard"}),
    StateType.ENQUEUE: frozenset(),
    StateType.DIAL: frozenset(),
    StateType.JOIN: frozenset(),
    StateType.HANGUP: frozenset(),
}
_PIN_EVENTS = frozenset({"pin_ok", "pin_wrong", "pin_duress", "timeout", "invalid"})
_TAKE_EVENTS = frozenset({"join", "dial", "already_taken", "timeout", "invalid"})
_SILENCE_GUARDED = frozenset({Direction.INBOUND, Direction.ALARM})


@cache
def schema() -> dict[str, Any]:
    text = resources.files("ivr_flows").joinpath("flow.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def validate_document(
    name: str,
    document: object,
    *,
    known_message_ids: Collection[str] | None = None,
    known_locales: Collection[str] | None = None,
) -> tuple[Flow | None, list[FlowProblem]]:
    """Check a parsed flow document; return the flow (if it has no problems) and the problems."""
    problems = _schema_problems(document)
    problems.extend(_template_problems(document))
    if problems or not isinstance(document, dict):
        return None, problems
    problems.extend(_duplicate_names(document))
    flow = flow_from_dict(name, document)
    problems.extend(semantic_problems(flow))
    if known_message_ids is not None:
        problems.extend(_unknown_messages(flow, known_message_ids))
    if known_locales is not None:
        problems.extend(_unknown_locales(flow, known_locales))
    return (None if problems else flow), problems


def _state_name_at(document: object, path: Iterable[object]) -> str | None:
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "states" and isinstance(parts[1], int):
        if isinstance(document, dict):
            states = document.get("states")
            if isinstance(states, list) and parts[1] < len(states):
                state = states[parts[1]]
                name = state.get("name") if isinstance(state, dict) else None
                if isinstance(name, str):
                    return name
        return f"#{parts[1]}"
    return None


def _schema_problems(document: object) -> list[FlowProblem]:
    problems = []
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.path)))
    for error in errors:
        where = "/".join(str(part) for part in error.path)
        problems.append(
            FlowProblem(
                error_id="flow.schema",
                message=f"{where or '(top)'}: {error.message}",
                state=_state_name_at(document, error.path),
            )
        )
    return problems


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _template_problems(document: object) -> list[FlowProblem]:
    for text in _strings(document):
        if "{{" in text or "{%" in text or "${" in text:
            return [
                FlowProblem(
                    "flow.template",
                    f"template syntax {text[:30]!r}: flows are data and never run code",
                )
            ]
    return []


def _duplicate_names(document: Mapping[str, Any]) -> list[FlowProblem]:
    seen: set[str] = set()
    problems = []
    for raw in document["states"]:
        if raw["name"] in seen:
            problems.append(
                FlowProblem("flow.duplicate_state", "state name used more than once", raw["name"])
            )
        seen.add(raw["name"])
    return problems


def semantic_problems(flow: Flow) -> list[FlowProblem]:
    """Every safety rule the schema cannot express, each named by its state."""
    problems = _structure_problems(flow)
    if any(p.error_id in {"flow.unknown_target", "flow.no_trigger"} for p in problems):
        return problems
    problems.extend(_graph_problems(flow))
    return problems


def _structure_problems(flow: Flow) -> list[FlowProblem]:
    problems: list[FlowProblem] = []
    triggers = [s.name for s in flow.states.values() if s.type is StateType.TRIGGER]
    initial = flow.states.get(flow.initial_state)
    if initial is None or initial.type is not StateType.TRIGGER:
        problems.append(
            FlowProblem("flow.no_trigger", "initial_state must name the flow's trigger state")
        )
    for extra in triggers:
        if extra != flow.initial_state:
            problems.append(FlowProblem("flow.no_trigger", "a flow has one trigger", extra))
    for state in flow.states.values():
        seen: set[str] = set()
        for transition in state.transitions:
            if transition.event in seen:
                problems.append(
                    FlowProblem(
                        "flow.duplicate_transition",
                        f"event {transition.event!r} has two transitions",
                        state.name,
                    )
                )
            seen.add(transition.event)
            target = flow.states.get(transition.next)
            if target is None:
                problems.append(
                    FlowProblem(
                        "flow.unknown_target",
                        f"transition {transition.event!r} goes to unknown state "
                        f"{transition.next!r}",
                        state.name,
                    )
                )
            elif target.type is StateType.TRIGGER:
                problems.append(
                    FlowProblem(
                        "flow.into_trigger",
                        f"transition {transition.event!r} goes back to the trigger",
                        state.name,
                    )
                )
        problems.extend(_transition_set_problems(state))
    return problems


def _transition_set_problems(state: StateDef) -> list[FlowProblem]:
    events = set(state.events)
    props = state.properties
    required: set[str]
    allowed: set[str]
    if state.type is StateType.TRIGGER:
        required, allowed = set(), set(TRIGGER_EVENTS)
        if not events:
            return [
                FlowProblem("flow.missing_transition", "the trigger starts nothing", state.name)
            ]
    elif state.type is StateType.GATHER:
        if props.input == "pin":
            required = allowed = set(_PIN_EVENTS)
        elif props.input == "take":
            required = allowed = set(_TAKE_EVENTS)
        else:
            keys = {e for e in events if e.startswith("keypress:")}
            required = {"timeout", "invalid"}
            allowed = required | keys | ({"too_many_invalid"} if props.max_invalid else set())
            if props.max_invalid:
                required.add("too_many_invalid")
            if not keys:
                return [
                    FlowProblem("flow.missing_transition", "a menu needs keypress:N", state.name)
                ]
            long_keys = [k for k in keys if len(k.split(":", 1)[1]) > props.num_digits]
            if long_keys:
                return [
                    FlowProblem(
                        "flow.unexpected_transition",
                        f"{sorted(long_keys)} longer than num_digits {props.num_digits}",
                        state.name,
                    )
                ]
            for key in props.answers:
                if f"keypress:{key}" not in events:
                    return [
                        FlowProblem(
                            "flow.missing_transition",
                            f"answer key {key!r} has no keypress:{key} transition",
                            state.name,
                        )
                    ]
            if props.question and not props.answers:
                return [FlowProblem("flow.schema", "a question needs answers", state.name)]
    elif state.type is StateType.ESCALATE:
        required = allowed = set() if props.connect_caller else {"next"}
    elif state.type is StateType.TRIAGE:
        required = set(_FIXED_EVENTS[state.type])
        allowed = required | {CALLBACK_OFFER_EVENT}
    else:
        required = allowed = set(_FIXED_EVENTS[state.type])
    problems = []
    for event in sorted(required - events):
        problems.append(
            FlowProblem(
                "flow.missing_transition",
                f"{state.type.value} needs a {event!r} transition",
                state.name,
            )
        )
    for event in sorted(events - allowed):
        problems.append(
            FlowProblem(
                "flow.unexpected_transition",
                f"{state.type.value} cannot have a {event!r} transition",
                state.name,
            )
        )
    return problems


def _automatic(state: StateDef) -> bool:
    """States the engine passes through without waiting for the caller."""
    if state.type in {StateType.GATHER, StateType.TRIGGER}:
        return False
    if state.type is StateType.ESCALATE:
        return not state.properties.connect_caller
    return state.type not in END_TYPES


def _automatic_closure(flow: Flow, start: str) -> set[str]:
    """States reachable from ``start`` without the caller doing anything (start included)."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        state = flow.states[name]
        if _automatic(state):
            stack.extend(t.next for t in state.transitions)
    return seen


def _graph_problems(flow: Flow) -> list[FlowProblem]:
    problems: list[FlowProblem] = []
    reachable: set[str] = set()
    stack = [flow.initial_state]
    while stack:
        name = stack.pop()
        if name not in reachable:
            reachable.add(name)
            stack.extend(t.next for t in flow.states[name].transitions)
    for name in flow.states:
        if name not in reachable:
            problems.append(FlowProblem("flow.unreachable", "no path leads here", name))

    ends = {n for n, s in flow.states.items() if s.type in END_TYPES}
    can_end = set(ends)
    changed = True
    while changed:
        changed = False
        for name, state in flow.states.items():
            if name not in can_end and any(t.next in can_end for t in state.transitions):
                can_end.add(name)
                changed = True
    for name in flow.states:
        if name not in can_end:
            problems.append(
                FlowProblem(
                    "flow.no_safe_end",
                    "cannot reach a human (enqueue, escalate, dial) or a hangup",
                    name,
                )
            )

    problems.extend(_automatic_loops(flow))

    for state in flow.states.values():
        if state.type is not StateType.GATHER:
            continue
        timeout_target = state.target("timeout")
        if flow.direction in _SILENCE_GUARDED and timeout_target:
            closure = _automatic_closure(flow, timeout_target)
            if any(flow.states[n].type is StateType.HANGUP for n in closure):
                problems.append(
                    FlowProblem(
                        "flow.silence_hangup",
                        "a silent caller would be hung up on: timeout must lead to a human",
                        state.name,
                    )
                )
        if state.properties.input == "menu":
            zero = state.target("keypress:0")
            if zero is None:
                problems.append(
                    FlowProblem(
                        "flow.zero_not_human", "'0' must lead to a human at every menu", state.name
                    )
                )
                continue
            closure = _automatic_closure(flow, zero)
            stops = {n for n in closure if not _automatic(flow.states[n])}
            if not stops or any(flow.states[n].type not in HUMAN_TYPES for n in stops):
                problems.append(
                    FlowProblem(
                        "flow.zero_not_human",
                        "'0' must lead straight to a human (enqueue, escalate or dial)",
                        state.name,
                    )
                )
    return problems


def _automatic_loops(flow: Flow) -> list[FlowProblem]:
    """A cycle through automatic states only would spin without ever waiting for the caller."""
    problems = []
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(flow.states, white)
    reported: set[str] = set()

    def visit(name: str) -> None:
        colour[name] = grey
        state = flow.states[name]
        if _automatic(state):
            for transition in state.transitions:
                nxt = transition.next
                if colour[nxt] == grey and _automatic(flow.states[nxt]) and nxt not in reported:
                    reported.add(nxt)
                    problems.append(
                        FlowProblem(
                            "flow.automatic_loop",
                            "a loop that never waits for the caller",
                            nxt,
                        )
                    )
                elif colour[nxt] == white:
                    visit(nxt)
        colour[name] = black

    for name in flow.states:
        if colour[name] == white:
            visit(name)
    return problems


def _unknown_messages(flow: Flow, known: Collection[str]) -> list[FlowProblem]:
    problems = []
    for state in flow.states.values():
        ids = [p.message_id for p in state.properties.messages]
        if state.properties.invalid_message:
            ids.append(state.properties.invalid_message)
        for message_id in ids:
            if message_id not in known:
                problems.append(
                    FlowProblem(
                        "flow.unknown_message",
                        f"message {message_id!r} is not in the prompts catalog",
                        state.name,
                    )
                )
    return problems


def _unknown_locales(flow: Flow, known: Collection[str]) -> list[FlowProblem]:
    problems = []
    for state in flow.states.values():
        locales = [p.locale for p in state.properties.messages if p.locale]
        if state.properties.locale:
            locales.append(state.properties.locale)
        for locale in locales:
            if locale not in known:
                problems.append(
                    FlowProblem(
                        "flow.unknown_locale", f"locale {locale!r} is not supported", state.name
                    )
                )
    return problems
