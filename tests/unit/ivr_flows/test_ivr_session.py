"""Call state in Redis, and the replay of a call's event log."""

from __future__ import annotations

import json

import redis

from ivr_flows import load_builtin
from ivr_flows.actions import Escalate
from ivr_flows.events import CallerContext, CallEvent, EventKind, PinResult, RecordingDecision
from ivr_flows.session import SESSION_TTL_S, advance, delete, load, replay, save, session_key
from ivr_flows.state import Outcome
from store.vocabulary import Channel, RiskLevel


def _inbound_log(call_id: str) -> list[CallEvent]:
    start = CallEvent(
        EventKind.STARTED,
        call_id,
        100.0,
        from_number="+33612345678",
        channel=Channel.SIP,
        caller=CallerContext(line_locale="es", stored_risk=RiskLevel.MEDIO, beneficiary_id="b-9"),
        recording=RecordingDecision(record=True, policy="p1", notice_message_id="recording.notice"),
    )
    keys = ["3", "7", "2", "2", "2", "0"]
    return [start] + [
        CallEvent(EventKind.DIGITS, call_id, 104.0 + 4 * i, digits=key)
        for i, key in enumerate(keys)
    ]


def test_state_is_stored_per_call_with_a_ttl(redis_client: redis.Redis) -> None:
    flow = load_builtin("inbound_triage")
    event = _inbound_log("c-ttl")[0]
    state, _actions, _outcomes = advance(redis_client, flow, event)
    assert session_key("c-ttl") == "amparo:ivr:c-ttl"
    assert load(redis_client, "c-ttl") == state
    assert 0 < redis_client.ttl(session_key("c-ttl")) <= SESSION_TTL_S
    stored = redis_client.get(session_key("c-ttl"))
    assert isinstance(stored, str) and "+33612345678" not in stored


def test_replaying_the_event_log_rebuilds_the_stored_state(redis_client: redis.Redis) -> None:
    flow = load_builtin("inbound_triage")
    durable_log: list[str] = []
    for event in _inbound_log("c-replay"):
        durable_log.append(json.dumps(event.to_dict()))  # persisted before acknowledging
        advance(redis_client, flow, event)
    live = load(redis_client, "c-replay")
    assert live is not None and live.ended
    rebuilt = replay(flow, [CallEvent.from_dict(json.loads(line)) for line in durable_log])
    assert rebuilt == live
    assert rebuilt.risk is RiskLevel.ALTO  # "not safe to talk" raised medio to alto


def test_a_lost_session_is_rebuilt_by_replay_and_the_call_goes_on(
    redis_client: redis.Redis,
) -> None:
    flow = load_builtin("checkin_outbound")
    events = [
        CallEvent(EventKind.ANSWERED, "c-lost", 1.0, caller=CallerContext(preferred_locale="uk")),
        CallEvent(EventKind.DIGITS, "c-lost", 5.0, pin_result=PinResult.DURESS),
    ]
    for event in events:
        advance(redis_client, flow, event)
    delete(redis_client, "c-lost")
    assert load(redis_client, "c-lost") is None
    rebuilt = replay(flow, events)
    assert rebuilt is not None
    save(redis_client, rebuilt)
    state, actions, outcomes = advance(
        redis_client, flow, CallEvent(EventKind.DIGITS, "c-lost", 9.0, digits="9")
    )
    assert isinstance(actions[-1], Escalate) and state.locale == "uk"
    assert outcomes == (Outcome.HELP_NOW,)
    assert [o.value for o in state.outcomes] == ["duress", "help_now"]


def test_replaying_an_empty_log_gives_no_state() -> None:
    assert replay(load_builtin("device_alarm"), []) is None
