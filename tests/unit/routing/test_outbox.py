"""Events are delivered at least once, even when a process dies between two steps."""

from __future__ import annotations

import logging
from typing import Any

import pytest

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
            "req_lang": "es",
            "specs": "",
            "req_specs": "",
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


def test_given_a_log_that_keeps_failing_then_each_port_hears_the_event_once_and_it_is_given_up(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    from routing import Router
    from routing.events import MAX_DELIVERY_ATTEMPTS
    from routing.ports import MemoryCallControl, MemoryNotifier

    harness = make_harness()
    flaky = FlakyLog()
    notifier = MemoryNotifier()
    patient = RouterConfig(offer_timeout_seconds=1000.0)  # one offer for the whole test
    harness.router = Router(harness.client, patient, flaky, notifier, MemoryCallControl())
    harness.agent("a1")
    harness.call("c1")
    assert harness.client.zcard(routing_key("outbox")) == 2
    with caplog.at_level(logging.ERROR, logger="routing.events"):
        for _ in range(MAX_DELIVERY_ATTEMPTS + 2):
            harness.advance(10)
    assert [offer[:2] for offer in notifier.offers] == [("a1", "c1")], "offered once, not per retry"
    given_up = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
    assert any("(enqueued) given up" in m for m in given_up)
    assert any("(offered) given up" in m for m in given_up)
    assert all("log not delivered" in m for m in given_up)
    # Given up means gone: out of the outbox, with no attempt count or done-set left behind.
    pending = {str(m) for m in harness.client.zrange(routing_key("outbox"), 0, -1)}
    counted = set(harness.client.hkeys(routing_key("outbox", "attempts")))
    assert counted <= pending
    assert flaky.entries == []


def test_given_a_log_that_recovers_then_only_the_log_is_retried(make_harness: MakeHarness) -> None:
    from routing import Router
    from routing.ports import MemoryCallControl, MemoryNotifier

    harness = make_harness()
    flaky = FlakyLog()
    notifier = MemoryNotifier()
    patient = RouterConfig(offer_timeout_seconds=1000.0)
    harness.router = Router(harness.client, patient, flaky, notifier, MemoryCallControl())
    harness.agent("a1")
    harness.call("c1")
    harness.advance(10)
    harness.advance(10)
    flaky.fail = False
    harness.advance(10)
    assert [kind for _, kind, _ in flaky.entries] == ["enqueued", "offered"]
    assert len(notifier.offers) == 1
    assert harness.client.zcard(routing_key("outbox")) == 0
    assert harness.client.hlen(routing_key("outbox", "attempts")) == 0
