"""Events, actions and call state survive JSON exactly; the action set is closed."""

from __future__ import annotations

import json

import pytest

from ivr_flows.actions import (
    ACTION_KINDS,
    Action,
    Dial,
    Enqueue,
    Escalate,
    Gather,
    Hangup,
    Play,
    Record,
    Say,
    SetLocale,
    action_from_dict,
    is_terminal,
)
from ivr_flows.errors import ActionInvalid, EventInvalid, StateInvalid
from ivr_flows.events import (
    CallerContext,
    CallEvent,
    EventKind,
    Location,
    PinResult,
    RecordingDecision,
)
from ivr_flows.state import CallFlag, CallState, Outcome
from store.vocabulary import AlarmType, Channel, RiskLevel

ACTIONS: list[Action] = [
    Say("triage.injured", "uk", {"digit": "1"}),
    Play("hold_music"),
    Gather(1, 8.0, None, (Say("triage.injured", "es"), Play("tone"))),
    Gather(8, 10.0, "#", (Say("checkin.enter_code", "es"),), secret=True),
    Enqueue("general", 100, RiskLevel.ALTO, frozenset({CallFlag.CANNOT_TALK}), "ar", {"a": "b"}),
    Escalate(
        "urgent",
        "device_alarm",
        RiskLevel.EXTREMO,
        100,
        frozenset({CallFlag.DEVICE_ALARM}),
        "es",
        True,
        AlarmType.PREALARM,
        Location(43.26, -2.93, 30.0),
    ),
    Escalate("urgent", "duress_code", RiskLevel.EXTREMO, 100, connect_caller=False),
    Dial("fallback", "ivr_fallback"),
    Record("default"),
    SetLocale("gl"),
    Hangup("call_later"),
]


def test_the_action_set_is_the_closed_set_of_the_design() -> None:
    assert {
        "say",
        "play",
        "gather",
        "enqueue",
        "escalate",
        "dial",
        "join",
        "record",
        "set_locale",
        "hangup",
    } == ACTION_KINDS


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.kind)
def test_every_action_survives_json(action: Action) -> None:
    data = json.loads(json.dumps(action.to_dict()))
    assert action_from_dict(data) == action


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(ActionInvalid):
        action_from_dict({"action": "run_shell", "command": "id"})


def test_only_ends_are_terminal_and_a_duress_alert_is_not_one() -> None:
    assert [a.kind for a in ACTIONS if is_terminal(a)] == ["enqueue", "escalate", "dial", "hangup"]


def test_a_full_event_survives_json_and_logs_no_personal_data() -> None:
    event = CallEvent(
        kind=EventKind.STARTED,
        call_id="CA123",
        at=1_700_000_000.25,
        digits="1234",
        speech="ayuda",
        from_number="+34600111222",
        to_number="+34900000016",
        channel=Channel.TWILIO,
        caller=CallerContext("eu", "b-1", RiskLevel.MEDIO, "eu", "es"),
        recording=RecordingDecision(True, "p", "recording.notice", True),
        alarm_type=AlarmType.ASSAULT,
        location=Location(1.5, 2.5),
        pin_result=PinResult.DURESS,
    )
    assert CallEvent.from_dict(json.loads(json.dumps(event.to_dict()))) == event
    logged = json.dumps(event.log_fields())
    for secret in ("600111222", "900000016", "1234", "ayuda", "1.5", "duress"):
        assert secret not in logged
    for secret in ("600111222", "ayuda", "1.5"):
        assert secret not in repr(event)


def test_an_unreadable_event_is_refused_with_its_error_id() -> None:
    with pytest.raises(EventInvalid) as failure:
        CallEvent.from_dict({"kind": "teleport", "call_id": "x", "at": 1})
    assert failure.value.error_id == "ivr.event_invalid"


def test_call_state_survives_json() -> None:
    state = CallState(
        call_id="c",
        flow="inbound_triage",
        locale="zh",
        current="q_injured",
        risk=RiskLevel.ALTO,
        stored_risk=RiskLevel.BAJO,
        priority=100,
        flags=frozenset({CallFlag.SILENT, CallFlag.CHECKIN}),
        answers=(("safe_to_talk", "no"),),
        outcomes=(Outcome.DURESS,),
        invalid_count=2,
        recording_policy="p",
        recording_notice="recording.notice",
        events_seen=3,
        started_at=1.0,
        last_event_at=9.5,
    )
    assert CallState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    with pytest.raises(StateInvalid):
        CallState.from_dict({"flow": "x"})
