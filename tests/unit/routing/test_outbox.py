"""Events are delivered at least once, even when a process dies between two steps."""

from __future__ import annotations

from typing import Any

from routing import RouterConfig
from routing.invariants import find_violations
from routing.lua import ScriptRunner
from routing.state import AGENT_CHANNEL_PREFIX, routing_key
from tests.unit.routing.conftest import Harness, MakeHarness


def test_given_delivered_events_then_the_outbox_is_empty(harness: Harness) -> None:
    harness.agent("a1")
    harness.call("c1")
    assert harness.client.zcard(routing_key("outbox")) == 0
    assert harness.log.kinds("c1") == ["enqueued", "offered"]


def test_given_a_process_dying_after_an_offer_then_the_call_is_offered_again_and_logged(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.clock.advance(1)
    harness.agent("a2")
    runner = ScriptRunner(harness.client, RouterConfig().script_settings(AGENT_CHANNEL_PREFIX))
    reply = runner.run(
        "enqueue",
        harness.now,
        {
            "call": "c1",
            "queue": "default",
            "lang": "es",
            "specs": "",
            "flags": "",
            "line": "l",
            "callback": False,
            "risk": "medio",
            "risk_rank": 2,
            "priority": 180,
            "rate": 1.0,
            "widen": [],
            "max_wait": 900,
            "escalation": False,
        },
    )
    assert reply.status == "enqueued"
    assert harness.log.kinds("c1") == []
    harness.advance(9)
    assert harness.log.kinds("c1") == []
    harness.advance(1)
    assert harness.log.kinds("c1") == ["enqueued", "offered"]
    harness.advance(5)
    assert harness.call_field("c1", "agent") == "a2"
    assert harness.log.kinds("c1")[-2:] == ["offer_timed_out", "offered"]
    assert find_violations(harness.client, harness.now) == []


class FlakyLog:
    def __init__(self) -> None:
        self.fail = True
        self.entries: list[tuple[str, str, int]] = []

    def append(self, call_id: str, kind: str, data: dict[str, Any], at: float) -> None:
        if self.fail:
            raise RuntimeError("database unavailable")
        self.entries.append((call_id, kind, data["event_id"]))


def test_given_a_failing_call_log_then_the_offer_still_reaches_the_agent_and_the_log_catches_up(
    make_harness: MakeHarness,
) -> None:
    from routing import Router
    from routing.ports import MemoryCallControl, MemoryNotifier

    harness = make_harness()
    flaky = FlakyLog()
    notifier = MemoryNotifier()
    router = Router(harness.client, RouterConfig(), flaky, notifier, MemoryCallControl())
    harness.router = router
    harness.agent("a1")
    harness.call("c1")
    assert notifier.offers[0][:2] == ("a1", "c1")
    assert harness.client.zcard(routing_key("outbox")) == 2
    flaky.fail = False
    harness.advance(10)
    assert [kind for _, kind, _ in flaky.entries] == ["enqueued", "offered"]
    assert harness.client.zcard(routing_key("outbox")) == 0
