"""State after the call: break or offline asked for during a call is taken when the call (and
its wrap-up) ends, with no offer in between; available cancels it; a change in wrap-up applies
at once."""

from __future__ import annotations

import json
import time

import redis

from routing import AgentState, RouterConfig
from routing.invariants import find_violations
from routing.state import AGENT_CHANNEL_PREFIX, routing_key
from routing.views import agents_by_state
from store.vocabulary import RiskLevel
from tests.unit.routing.conftest import STAFFED_OR_NOT, Harness, MakeHarness


def _on_call(harness: Harness, agent_id: str = "a1", call_id: str = "c1") -> None:
    harness.agent(agent_id)
    harness.call(call_id)
    assert harness.router.accept(call_id, agent_id, harness.now).status == "answered"


def _offered_to(harness: Harness, agent_id: str) -> list[str]:
    return [call_id for agent, call_id, _ in harness.notifier.offers if agent == agent_id]


def _published(listener: redis.client.PubSub) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.1)
        if message is None:
            if found:
                break
            continue
        if message["type"] == "message":
            found.append(dict(json.loads(message["data"])))
    return found


def test_break_asked_for_on_a_call_is_kept_and_the_call_goes_on(harness: Harness) -> None:
    _on_call(harness)
    listener = harness.client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(AGENT_CHANNEL_PREFIX + "a1")

    result = harness.router.set_agent_state("a1", AgentState.BREAK, harness.now)

    assert result.ok and result.status == "after_call"
    assert dict(result.result) == {"state": "on_call", "after_call": "break", "call": "c1"}
    assert [e.kind for e in result.events] == ["agent_state_after_call"]
    assert result.events[0].data["after_call"] == "break"
    assert harness.agent_field("a1", "state") == "on_call"
    assert harness.agent_field("a1", "after_call") == "break"
    assert harness.call_field("c1", "status") == "answered"
    published = _published(listener)
    assert [(m["kind"], m["data"]) for m in published] == [
        (
            "agent_state_after_call",
            {"state": "on_call", "after_call": "break", "previous": "", "call": "c1"},
        )
    ]
    listener.close()
    again = harness.router.set_agent_state("a1", AgentState.BREAK, harness.now)
    assert again.status == "after_call" and again.events == (), "asking twice changes nothing"
    assert find_violations(harness.client, harness.now) == []


def test_after_wrap_up_she_goes_on_break_and_a_waiting_caller_is_not_offered_to_her(
    harness: Harness,
) -> None:
    _on_call(harness)
    harness.router.set_agent_state("a1", AgentState.BREAK, harness.now)
    harness.call("c2", risk=RiskLevel.ALTO)
    harness.clock.advance(60)
    ended = harness.router.hangup("c1", harness.now)
    assert ended.offers == ()
    assert harness.agent_field("a1", "state") == "wrap_up"
    assert harness.agent_field("a1", "after_call") == "break", "still pending in wrap-up"
    assert find_violations(harness.client, harness.now) == []

    harness.clock.advance(30)
    swept = harness.router.sweep(harness.now)

    changed = [e for e in swept.events if e.kind == "agent_state_changed"]
    assert [(e.agent_id, dict(e.data)) for e in changed] == [
        ("a1", {"from": "wrap_up", "to": "break", "reason": "after_call"})
    ]
    assert swept.events and not [e for e in swept.events if e.kind == "offered"]
    assert harness.agent_field("a1", "state") == "break"
    assert harness.agent_field("a1", "after_call") is None
    assert harness.call_field("c2", "status") == "waiting"
    assert _offered_to(harness, "a1") == ["c1"]
    assert find_violations(harness.client, harness.now) == []

    back = harness.router.set_agent_state("a1", AgentState.AVAILABLE, harness.now)
    assert [(e.agent_id, e.call_id) for e in back.offers] == [("a1", "c2")]


def test_without_wrap_up_an_admin_s_offline_applies_when_the_call_ends(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness(
        RouterConfig(default_queue=STAFFED_OR_NOT.default_queue, wrap_up_seconds=0)
    )
    _on_call(harness)
    pending = harness.router.set_agent_state("a1", AgentState.OFFLINE, harness.now)
    assert (pending.status, pending.result["after_call"]) == ("after_call", "offline")
    harness.call("c2")

    ended = harness.router.hangup("c1", harness.now)

    assert ended.status == "completed" and ended.offers == ()
    changed = ended.of_kind("agent_state_changed")
    assert [dict(e.data) for e in changed] == [
        {"from": "on_call", "to": "offline", "reason": "after_call"}
    ]
    assert harness.agent_field("a1", "state") == "offline"
    assert harness.agent_field("a1", "after_call") is None
    assert not harness.client.sismember(routing_key("present", "default"), "a1")
    assert harness.call_field("c2", "status") == "waiting"
    assert find_violations(harness.client, harness.now) == []


def test_available_on_the_call_cancels_the_pending_break(harness: Harness) -> None:
    _on_call(harness)
    harness.router.set_agent_state("a1", AgentState.BREAK, harness.now)

    cancelled = harness.router.set_agent_state("a1", AgentState.AVAILABLE, harness.now)

    assert (cancelled.status, dict(cancelled.result)) == (
        "after_call",
        {"state": "on_call", "after_call": "", "call": "c1"},
    )
    assert [dict(e.data) for e in cancelled.of_kind("agent_state_after_call")] == [
        {"state": "on_call", "after_call": "", "previous": "break", "call": "c1"}
    ]
    assert harness.agent_field("a1", "after_call") is None
    nothing = harness.router.set_agent_state("a1", AgentState.AVAILABLE, harness.now)
    assert (nothing.status, nothing.events) == ("after_call", ())
    harness.call("c2")
    harness.router.hangup("c1", harness.now)
    harness.advance(30)
    assert harness.agent_field("a1", "state") == "offered"
    assert harness.call_field("c2", "agent") == "a1"


def test_offline_replaces_a_pending_break(harness: Harness) -> None:
    _on_call(harness)
    harness.router.set_agent_state("a1", AgentState.BREAK, harness.now)
    changed = harness.router.set_agent_state("a1", AgentState.OFFLINE, harness.now)
    assert changed.result["after_call"] == "offline"
    assert changed.events[0].data["previous"] == "break"
    harness.router.hangup("c1", harness.now)
    harness.advance(30)
    assert harness.agent_field("a1", "state") == "offline"


def test_a_change_during_wrap_up_applies_at_once_and_drops_the_pending_state(
    harness: Harness,
) -> None:
    _on_call(harness)
    harness.router.set_agent_state("a1", AgentState.BREAK, harness.now)
    harness.router.hangup("c1", harness.now)
    harness.call("c2")
    assert harness.agent_field("a1", "state") == "wrap_up"

    now = harness.router.set_agent_state("a1", AgentState.AVAILABLE, harness.now)

    assert now.status == "changed"
    assert [(e.agent_id, e.call_id) for e in now.offers] == [("a1", "c2")]
    assert harness.agent_field("a1", "after_call") is None
    assert harness.client.zscore(routing_key("timers"), "wrap|a1") is None
    assert find_violations(harness.client, harness.now) == []


def test_an_admin_s_offline_during_wrap_up_wins_over_her_pending_break(harness: Harness) -> None:
    _on_call(harness)
    harness.router.set_agent_state("a1", AgentState.BREAK, harness.now)
    harness.router.hangup("c1", harness.now)
    assert harness.router.set_agent_state("a1", AgentState.OFFLINE, harness.now).ok
    assert harness.agent_field("a1", "state") == "offline"
    assert harness.agent_field("a1", "after_call") is None
    harness.advance(60)
    assert harness.agent_field("a1", "state") == "offline"


def test_a_change_off_a_call_clears_a_stale_pending_state(harness: Harness) -> None:
    harness.agent("a1")
    harness.client.hset(routing_key("agent", "a1"), "after_call", "break")
    assert find_violations(harness.client, harness.now) == [
        "agent a1 is available with break still pending after a call"
    ]
    unchanged = harness.router.set_agent_state("a1", AgentState.AVAILABLE, harness.now)
    assert unchanged.status == "unchanged"
    assert harness.agent_field("a1", "after_call") is None


def test_registering_again_keeps_a_pending_state_during_the_call_and_clears_a_stale_one(
    harness: Harness,
) -> None:
    _on_call(harness)
    harness.router.set_agent_state("a1", AgentState.OFFLINE, harness.now)
    harness.agent("a1", languages=("es", "ar"), available=False)
    assert harness.agent_field("a1", "after_call") == "offline", "a process restart keeps it"
    harness.router.hangup("c1", harness.now)
    harness.agent("a1", languages=("es",), available=False)
    assert harness.agent_field("a1", "after_call") == "offline", "kept through wrap-up"
    harness.advance(30)
    assert harness.agent_field("a1", "state") == "offline"

    harness.agent("a2", available=False)
    harness.client.hset(routing_key("agent", "a2"), "after_call", "break")
    harness.agent("a2", available=False)
    assert harness.agent_field("a2", "after_call") is None


def test_the_supervisors_view_shows_the_state_after_the_call(harness: Harness) -> None:
    _on_call(harness)
    harness.agent("a2")
    harness.router.set_agent_state("a1", AgentState.OFFLINE, harness.now)
    states = agents_by_state(harness.client, harness.now)
    [on_call] = states[AgentState.ON_CALL]
    assert (on_call.agent_id, on_call.after_call) == ("a1", AgentState.OFFLINE)
    assert states[AgentState.AVAILABLE][0].after_call is None
