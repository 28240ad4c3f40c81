"""Property tests: random event sequences through every built-in flow keep the safety rules.

* no dead end: a call always waits at a question, or has reached a human or an explicit end;
* no hang-up after silence on inbound and alarm flows;
* risk and priority are never lowered, and never below a known beneficiary's stored level;
* "0" at any menu reaches a human;
* replaying the event log rebuilds the state; state, events and actions survive JSON.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr_flows import BUILTIN_FLOWS, load_builtin, step
from ivr_flows.actions import (
    Action,
    Enqueue,
    Escalate,
    Gather,
    Hangup,
    action_from_dict,
    is_terminal,
    reaches_human,
)
from ivr_flows.definition import Flow, StateType
from ivr_flows.events import (
    CallerContext,
    CallEvent,
    EventKind,
    Location,
    PinResult,
    RecordingDecision,
    TakeResult,
)
from ivr_flows.session import replay
from ivr_flows.state import CallState
from store.vocabulary import AlarmType, Direction, RiskLevel

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TRIGGER_KIND = {
    Direction.INBOUND: EventKind.STARTED,
    Direction.ALARM: EventKind.ALARM,
    Direction.CHECKIN: EventKind.ANSWERED,
    Direction.TEAM_ALERT: EventKind.ANSWERED,
    Direction.CALLBACK: EventKind.ANSWERED,
}
KEYS = list("0123456789*#")

contexts = st.builds(
    CallerContext,
    line_locale=st.sampled_from(["es", "en", "ca", "xx"]),
    beneficiary_id=st.none() | st.just("b-1"),
    stored_risk=st.none() | st.sampled_from(list(RiskLevel)),
    preferred_locale=st.none() | st.sampled_from(["fr", "ar", "zh", "gl", "tlh"]),
    number_locale_hint=st.none() | st.sampled_from(["ro", "uk"]),
)
recordings = st.none() | st.builds(
    RecordingDecision,
    record=st.booleans(),
    policy=st.sampled_from(["default", "consent"]),
    notice_message_id=st.none() | st.just("recording.notice"),
    consent_required=st.booleans(),
)
LIKELY_KEYS = ["1", "2"] * 5 + ["0", "3", "4", "9", "7", "*", "#"]


@st.composite
def later_event(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly keys a caller would press, sometimes silence, noise and stray events."""
    kind = draw(
        st.sampled_from(
            ["key"] * 12 + ["typed", "pin", "pin", "take", "silence", "speech", "other"]
        )
    )
    if kind == "key":
        return {
            "kind": EventKind.DIGITS,
            "digits": draw(st.sampled_from(LIKELY_KEYS)),
            "callback_offer": draw(st.booleans()),
        }
    if kind == "typed":
        digits = draw(st.text(alphabet="0123456789*#", max_size=5))
        return {"kind": EventKind.DIGITS, "digits": digits}
    if kind == "pin":
        result = draw(st.none() | st.sampled_from(list(PinResult)))
        return {"kind": EventKind.DIGITS, "digits": "", "pin_result": result}
    if kind == "take":
        taken = draw(st.none() | st.sampled_from(list(TakeResult)))
        return {"kind": EventKind.DIGITS, "digits": "1", "take_result": taken}
    if kind == "silence":
        return {"kind": EventKind.SILENCE}
    if kind == "speech":
        return {"kind": EventKind.SPEECH, "speech": "hola"}
    other = draw(st.sampled_from([EventKind.HANGUP, EventKind.ALARM, EventKind.STARTED]))
    return {"kind": other, "alarm_type": AlarmType.ASSAULT if other is EventKind.ALARM else None}


@st.composite
def calls(draw: st.DrawFn, flow: Flow) -> list[CallEvent]:
    first_kind = TRIGGER_KIND[flow.direction]
    if flow.direction in {Direction.CHECKIN, Direction.TEAM_ALERT, Direction.CALLBACK}:
        first_kind = draw(
            st.sampled_from([EventKind.ANSWERED, EventKind.ANSWERED, EventKind.MACHINE])
        )
    first = CallEvent(
        kind=first_kind,
        call_id="prop-call",
        at=1000.0,
        caller=draw(contexts),
        recording=draw(recordings),
        alarm_type=draw(st.none() | st.sampled_from(list(AlarmType))),
        location=Location(40.0, -3.0) if first_kind is EventKind.ALARM else None,
        from_number=draw(st.none() | st.sampled_from(["+40721000000", "+8613800000000", "bad"])),
    )
    rest = draw(st.lists(later_event(), max_size=25))
    # Hang-ups are rare in life; keep sequences long enough to explore the flow.
    rest = [
        payload
        for i, payload in enumerate(rest)
        if payload["kind"] is not EventKind.HANGUP or i > 8
    ]
    events = [first]
    for index, payload in enumerate(rest, start=1):
        events.append(CallEvent(call_id="prop-call", at=1000.0 + 5 * index, **payload))
    return events


def _check_serialization(state: CallState, event: CallEvent, actions: tuple[Action, ...]) -> None:
    assert CallState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert CallEvent.from_dict(json.loads(json.dumps(event.to_dict()))) == event
    for action in actions:
        assert action_from_dict(json.loads(json.dumps(action.to_dict()))) == action


def _waiting_at_menu(flow: Flow, state: CallState) -> bool:
    if state.ended or state.current is None:
        return False
    current = flow.states[state.current]
    return current.type is StateType.GATHER and not current.is_pin and not current.is_take


def run_and_check(flow: Flow, events: list[CallEvent]) -> None:
    state: CallState | None = None
    stored = events[0].caller.stored_risk if events[0].caller else None
    started = False
    heard: list[Action] = []
    for event in events:
        before = state
        state, actions = step(flow, state, event)
        again = step(flow, before, event)
        assert again == (state, actions), "step is a pure function"
        _check_serialization(state, event, actions)
        heard.extend(actions)

        ends = [a for a in actions if is_terminal(a)]
        assert len(ends) <= 1 and (not ends or actions[-1] is ends[0])
        if ends:
            assert state.ended

        # no dead end
        if not state.ended:
            started = started or state.current is not None
            if started:
                assert state.current is not None
                assert flow.states[state.current].type is StateType.GATHER
        waiting_before = before is not None and not before.ended and before.current is not None
        if waiting_before and event.kind in {EventKind.DIGITS, EventKind.SILENCE, EventKind.SPEECH}:
            assert actions, "the caller always hears or reaches something"
            assert isinstance(actions[-1], Gather) or is_terminal(actions[-1])
        if before is not None and not before.ended and state.ended:
            assert ends or event.kind is EventKind.HANGUP

        # never hung up on after silence; an inbound caller only by her own choice, when she
        # pressed 2 at the callback offer of a surge
        chose_callback = (
            event.kind is EventKind.DIGITS
            and event.digits == "2"
            and before is not None
            and before.current == "offer_callback"
        )
        if flow.direction in {Direction.INBOUND, Direction.ALARM} and not chose_callback:
            assert not any(isinstance(a, Hangup) for a in actions)
        if event.kind is EventKind.SILENCE and flow.direction is not Direction.TEAM_ALERT:
            # (a team member who never presses the key is not a caller: her alert ends)
            assert not any(isinstance(a, Hangup) for a in actions)

        # risk only rises
        if before is not None:
            assert state.risk.rank >= before.risk.rank
            assert state.priority >= before.priority
        if stored is not None:
            assert state.risk.rank >= stored.rank
            for action in actions:
                if isinstance(action, Enqueue | Escalate):
                    assert action.risk.rank >= stored.rank

        # "0" reaches a human from any menu
        if _waiting_at_menu(flow, state):
            zero = CallEvent(EventKind.DIGITS, event.call_id, event.at + 1, digits="0")
            _after, zero_actions = step(flow, state, zero)
            assert any(reaches_human(a) for a in zero_actions), state.current

    assert replay(flow, events) == state
    # never act twice: one end per call, one alert that leaves the caller where she is
    assert sum(1 for a in heard if is_terminal(a)) <= 1
    assert sum(1 for a in heard if isinstance(a, Escalate) and not a.connect_caller) <= 1


@pytest.mark.parametrize("name", BUILTIN_FLOWS)
def test_random_calls_keep_the_safety_rules(name: str) -> None:
    flow = load_builtin(name)

    @PROPERTY_SETTINGS
    @given(calls(flow))
    def check(events: list[CallEvent]) -> None:
        run_and_check(flow, events)

    check()
