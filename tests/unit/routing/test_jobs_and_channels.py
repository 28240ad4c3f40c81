"""The sweeper's entry points, and offers published for the console's server-sent events."""

from __future__ import annotations

import json
import threading

import redis

from routing.jobs import sweep_forever, sweep_once
from routing.state import AGENT_CHANNEL_PREFIX
from tests.unit.routing.conftest import Harness


def test_an_offer_is_published_on_the_agents_channel(harness: Harness) -> None:
    pubsub = harness.client.pubsub()
    pubsub.subscribe(AGENT_CHANNEL_PREFIX + "a1")
    pubsub.get_message(timeout=1)
    harness.agent("a1")
    harness.call("c1")
    message = pubsub.get_message(timeout=1)
    pubsub.close()
    assert message is not None
    assert AGENT_CHANNEL_PREFIX == "amparo:events:agent:"
    event = json.loads(message["data"])
    assert (event["kind"], event["call"], event["agent"]) == ("offered", "c1", "a1")
    assert "from" not in event["data"] and "number" not in json.dumps(event)


def test_sweep_once_fires_due_timers(harness: Harness) -> None:
    harness.agent("a1")
    harness.call("c1")
    harness.clock.advance(16)
    report = sweep_once(harness.router, harness.clock)
    assert report is not None and report.fired == 1
    assert harness.agent_field("a1", "missed") == "1"


def test_sweep_once_survives_a_redis_outage(harness: Harness) -> None:
    class Broken:
        def sweep(self, now: float) -> None:
            raise redis.ConnectionError("down")

    assert sweep_once(Broken(), harness.clock) is None  # type: ignore[arg-type]


def test_sweep_forever_stops_when_told(harness: Harness) -> None:
    stop = threading.Event()
    thread = threading.Thread(
        target=sweep_forever, args=(harness.router, harness.clock, stop, 0.01)
    )
    thread.start()
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
