"""The switchboard with real Redis, the real database, the real IVR and the real router."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from ivr_flows import load, load_builtin
from ivr_flows.actions import Dial, Enqueue, Escalate, Gather, Hangup, Say
from ivr_flows.definition import Flow
from ivr_flows.events import CallEvent, EventKind
from routing import AgentState, views
from runtime import Runtime
from store import live_state
from store.models import Beneficiary, Line
from store.records import Call, Escalation
from store.records import CallEvent as StoredEvent
from store.vocabulary import Channel, RiskLevel
from tests.harness.hotline import Hotline, staff_line

T0 = 1_800_000_000.0
TEST_FLOWS = Path(__file__).parents[2] / "data" / "flows" / "good"


def press(runtime: Runtime, call_id: str, digits: str, at: float) -> tuple[object, ...]:
    event = CallEvent(kind=EventKind.DIGITS, call_id=call_id, at=at, digits=digits)
    return runtime.switchboard.handle(event, idempotency_key=f"{call_id}:{at}").actions


def test_a_low_risk_caller_is_triaged_queued_and_offered_to_an_available_agent(
    runtime: Runtime, hotline: Hotline
) -> None:
    board = runtime.switchboard
    router = runtime.router
    agent = hotline.agents["ana"]
    router.set_agent_state(agent, AgentState.AVAILABLE, T0)

    turn = board.start(
        channel=Channel.SIMULATOR,
        external_id="sim-1",
        to_number=hotline.line_number,
        from_number="+34 699 000 111",
        at=T0,
    )
    assert isinstance(turn.actions[-1], Gather)
    at = T0
    actions: tuple[object, ...] = ()
    for key in ("1", "1", "2", "2", "2", "2"):
        at += 5
        actions = press(runtime, turn.call_id, key, at)
    end = actions[-1]
    assert isinstance(end, Enqueue)
    assert end.risk in (RiskLevel.NO_APRECIADO, RiskLevel.BAJO, RiskLevel.MEDIO)

    with runtime.sessions() as db:
        call = db.get(Call, turn.call_id)
        assert call is not None and call.status == "queued"
        kinds = [
            e.kind
            for e in db.scalars(
                select(StoredEvent)
                .where(StoredEvent.call_id == turn.call_id)
                .order_by(StoredEvent.seq)
            )
        ]
    assert kinds[0] == "started"
    assert kinds.count("digits") == 6
    assert kinds[-3:] == ["enqueued", "offered", "outcome"]
    offered = views.agents_by_state(runtime.redis, at)[AgentState.OFFERED]
    assert [(p.agent_id, p.call_id) for p in offered] == [(agent, turn.call_id)]


def test_a_retried_event_acts_once_and_returns_the_same_actions(
    runtime: Runtime, hotline: Hotline
) -> None:
    board = runtime.switchboard
    turn = board.start(
        channel=Channel.TWILIO,
        external_id="CA-retry",
        to_number=hotline.line_number,
        from_number=None,
        at=T0,
    )
    again = board.start(
        channel=Channel.TWILIO,
        external_id="CA-retry",
        to_number=hotline.line_number,
        from_number=None,
        at=T0 + 1,
    )
    assert again.call_id == turn.call_id
    assert again.actions == turn.actions
    first = press(runtime, turn.call_id, "1", T0 + 5)
    second = press(runtime, turn.call_id, "1", T0 + 5)
    assert first == second
    with runtime.sessions() as db:
        digits = db.scalars(
            select(StoredEvent).where(
                StoredEvent.call_id == turn.call_id, StoredEvent.kind == "digits"
            )
        ).all()
    assert len(digits) == 1


def test_a_call_from_a_device_number_skips_the_menu_and_escalates(
    runtime: Runtime, hotline: Hotline
) -> None:
    turn = runtime.switchboard.start(
        channel=Channel.SIMULATOR,
        external_id="sim-device",
        to_number=hotline.line_number,
        from_number=hotline.device_number,
        at=T0,
    )
    assert not any(isinstance(action, Gather) for action in turn.actions)
    end = turn.actions[-1]
    assert isinstance(end, Escalate)
    with runtime.sessions() as db:
        escalation = db.get(Escalation, f"call:{turn.call_id}")
        assert escalation is not None and escalation.team_id == hotline.team_id


def test_a_silent_caller_is_never_hung_up_on(runtime: Runtime, hotline: Hotline) -> None:
    board = runtime.switchboard
    turn = board.start(
        channel=Channel.SIMULATOR,
        external_id="sim-silent",
        to_number=hotline.line_number,
        from_number=None,
        at=T0,
    )
    actions = board.handle(
        CallEvent(kind=EventKind.SILENCE, call_id=turn.call_id, at=T0 + 30),
        idempotency_key="silence-1",
    ).actions
    assert not any(isinstance(action, Hangup) for action in actions)
    assert isinstance(actions[-1], (Escalate, Enqueue, Dial))


def test_an_unknown_line_or_a_failure_sends_the_caller_to_the_fallback(
    runtime: Runtime, hotline: Hotline
) -> None:
    board = runtime.switchboard
    turn = board.start(
        channel=Channel.SIMULATOR,
        external_id="sim-unknown",
        to_number="+34 910 000 000",
        from_number=None,
        at=T0,
    )
    assert turn.fallback and isinstance(turn.actions[-1], Dial)
    lost = board.handle(CallEvent(kind=EventKind.DIGITS, call_id="nope", at=T0, digits="1"))
    assert lost.fallback and isinstance(lost.actions[-1], Dial)


def test_a_caller_who_cannot_talk_safely_waits_like_a_severe_caller(
    runtime: Runtime, hotline: Hotline
) -> None:
    with runtime.sessions() as db, db.begin():
        known = db.get(Beneficiary, hotline.beneficiary_id)
        assert known is not None
        known.risk_level = RiskLevel.ALTO
    board = runtime.switchboard
    staff_line(runtime.router, hotline, "ana", at=T0)
    # She is known at alto risk and answers no to everything: alto at alto's usual priority.
    known_caller = board.start(
        channel=Channel.SIMULATOR,
        external_id="sim-known",
        to_number=hotline.line_number,
        from_number=hotline.beneficiary_number,
        at=T0,
    )
    # An unknown caller who cannot talk safely: alto too, but with top priority.
    unsafe = board.start(
        channel=Channel.SIMULATOR,
        external_id="sim-unsafe",
        to_number=hotline.line_number,
        from_number=None,
        at=T0 + 1,
    )
    at = T0 + 1
    for key in ("1", "1", "2", "2", "2", "2"):
        at += 1
        known_end = press(runtime, known_caller.call_id, key, at)[-1]
    for key in ("1", "2", "2", "2", "2", "2"):
        at += 1
        unsafe_end = press(runtime, unsafe.call_id, key, at)[-1]
    assert isinstance(known_end, Enqueue) and known_end.risk is RiskLevel.ALTO
    assert isinstance(unsafe_end, Enqueue) and unsafe_end.risk is RiskLevel.ALTO
    runtime.router.set_agent_state(hotline.agents["ana"], AgentState.AVAILABLE, at + 1)
    offered = views.agents_by_state(runtime.redis, at + 1)[AgentState.OFFERED]
    assert [p.call_id for p in offered] == [unsafe.call_id]


# -- Redis loses a call's meta hash: the call goes on in the flow it was opened with ------------


def lose_call_meta(runtime: Runtime, call_id: str) -> None:
    """What a Redis restart or an eviction leaves: the call's line/flow hash is gone (the IVR
    session may survive, or be rebuilt)."""
    assert runtime.redis.delete(live_state.key("call", call_id)) == 1


def prompts_of(actions: tuple[object, ...]) -> list[str]:
    gathers = [action for action in actions if isinstance(action, Gather)]
    assert gathers, f"the caller is not asked anything: {actions}"
    return [p.message_id for p in gathers[-1].prompts if isinstance(p, Say)]


def stored_flow(runtime: Runtime, call_id: str) -> str | None:
    with runtime.sessions() as db:
        call = db.get(Call, call_id)
        assert call is not None
        return call.flow


def test_a_check_in_call_stays_in_the_check_in_flow_when_redis_loses_the_call(
    runtime: Runtime, hotline: Hotline
) -> None:
    board = runtime.switchboard
    call_id = board.open_outbound(
        line_id=hotline.line_id,
        beneficiary_id=hotline.beneficiary_id,
        to_number=hotline.beneficiary_number,
        channel=Channel.SIMULATOR,
        at=T0,
    )
    assert stored_flow(runtime, call_id) == "checkin_outbound"
    lose_call_meta(runtime, call_id)
    answered = board.answered(call_id, T0 + 10)
    assert not answered.fallback
    assert prompts_of(answered.actions) == ["checkin.enter_code"]
    # The meta is back in Redis: her next events do not each go to the database.
    assert runtime.redis.hget(live_state.key("call", call_id), "flow") == "checkin_outbound"
    assert runtime.redis.ttl(live_state.key("call", call_id)) > 0
    # Her PIN is still checked as a PIN (only the result reaches the engine): on to the menu.
    menu = press(runtime, call_id, "2468", T0 + 20)
    assert prompts_of(menu) == ["checkin.menu"]


def test_an_inbound_call_stays_in_its_line_s_flow_when_redis_loses_the_call(
    runtime: Runtime, hotline: Hotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def flows_with_a_test_one(name: str) -> Flow:
        if name == "one_question_inbound":
            return load(TEST_FLOWS / "one_question_inbound.json")
        return load_builtin(name)

    monkeypatch.setattr("calls.step.load_builtin", flows_with_a_test_one)
    set_line_flow(runtime, hotline, "one_question_inbound")
    try:
        inbound_call_survives_losing_its_meta(runtime, hotline)
    finally:
        # The database is shared by the session's tests: a line on a test-only flow would
        # be exported by `amparo config export` and refused on the way back.
        set_line_flow(runtime, hotline, "inbound_triage")


def set_line_flow(runtime: Runtime, hotline: Hotline, flow: str) -> None:
    with runtime.sessions() as db, db.begin():
        line = db.get(Line, hotline.line_id)
        assert line is not None
        line.flow = flow


def inbound_call_survives_losing_its_meta(runtime: Runtime, hotline: Hotline) -> None:
    board = runtime.switchboard
    turn = board.start(
        channel=Channel.SIMULATOR,
        external_id="sim-line-flow",
        to_number=hotline.line_number,
        from_number=None,
        at=T0,
    )
    assert prompts_of(turn.actions) == ["triage.danger_now"]
    assert stored_flow(runtime, turn.call_id) == "one_question_inbound"
    lose_call_meta(runtime, turn.call_id)
    end = press(runtime, turn.call_id, "2", T0 + 5)[-1]
    assert isinstance(end, Enqueue)


def test_a_call_stored_before_calls_kept_their_flow_still_gets_a_flow_when_redis_loses_it(
    runtime: Runtime, hotline: Hotline
) -> None:
    board = runtime.switchboard
    turn = board.start(
        channel=Channel.SIMULATOR,
        external_id="sim-older-row",
        to_number=hotline.line_number,
        from_number=None,
        at=T0,
    )
    with runtime.sessions() as db, db.begin():
        call = db.get(Call, turn.call_id)
        assert call is not None
        call.flow = None
    lose_call_meta(runtime, turn.call_id)
    after_language = board.handle(
        CallEvent(kind=EventKind.DIGITS, call_id=turn.call_id, at=T0 + 5, digits="1"),
        idempotency_key=f"{turn.call_id}:language",
    )
    assert not after_language.fallback
    assert isinstance(after_language.actions[-1], Gather)


def _waiting_caller(runtime: Runtime, hotline: Hotline, external_id: str) -> str:
    """A caller on hold: every agent of the line is on a break (in, but taking no call)."""
    for agent in hotline.agents.values():
        runtime.router.set_agent_state(agent, AgentState.BREAK, T0)
    turn = runtime.switchboard.start(
        channel=Channel.SIMULATOR,
        external_id=external_id,
        to_number=hotline.line_number,
        from_number="+34 699 000 222",
        at=T0,
    )
    press(runtime, turn.call_id, "1", T0 + 5)
    assert isinstance(press(runtime, turn.call_id, "0", T0 + 10)[-1], Enqueue)
    return turn.call_id


def _hang_up(runtime: Runtime, call_id: str, at: float) -> str:
    event = CallEvent(kind=EventKind.HANGUP, call_id=call_id, at=at)
    runtime.switchboard.handle(event, idempotency_key=f"{call_id}:hangup")
    with runtime.sessions() as db:
        call = db.get(Call, call_id)
        assert call is not None and call.ended_at is not None
        return call.status


def test_a_caller_routing_sent_to_the_overflow_number_is_stored_as_overflowed(
    runtime: Runtime, hotline: Hotline
) -> None:
    call_id = _waiting_caller(runtime, hotline, "sim-overflow")
    report = runtime.router.sweep(T0 + 3600)  # past the queue's longest wait
    assert report is not None
    assert _hang_up(runtime, call_id, T0 + 3700) == "overflowed"  # after the overflow number


def test_a_caller_who_hangs_up_on_hold_is_stored_as_abandoned(
    runtime: Runtime, hotline: Hotline
) -> None:
    call_id = _waiting_caller(runtime, hotline, "sim-abandon")
    assert _hang_up(runtime, call_id, T0 + 30) == "abandoned"
