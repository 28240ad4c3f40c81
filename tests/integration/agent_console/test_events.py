"""The console's event stream: Redis pub/sub relayed as server-sent events."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator
from typing import Any

import redis
from flask import Flask

from agent_console.events import channels_for, stream
from routing.channels import ESCALATION_CHANNEL, SUPERVISOR_CHANNEL, agent_channel
from tests.integration.agent_console.console_helpers import SignedIn


def _frames(chunks: list[str]) -> list[dict[str, object]]:
    return [json.loads(c[len("data: ") :]) for c in chunks if c.startswith("data: ")]


def test_a_message_published_by_any_process_reaches_the_open_stream(
    redis_client: redis.Redis,
) -> None:
    channel = agent_channel("a1")
    events = stream(redis_client, [channel], lifetime=3)
    assert isinstance(events, Generator)
    chunks = [next(events), next(events)]  # subscribed: nothing published now can be missed
    publisher = redis.Redis(connection_pool=redis_client.connection_pool)
    message = {"kind": "offered", "call": "c1", "data": {"risk": "alto"}}
    threading.Timer(0.2, lambda: publisher.publish(channel, json.dumps(message))).start()
    chunks.append(next(events))
    events.close()
    assert chunks[0].startswith("retry: ")
    frames = _frames(chunks)
    assert frames[0]["kind"] == "stream_open"
    assert frames[1] == {**message, "channel": "agent"}
    assert redis_client.pubsub_numsub(channel) == [(channel, 0)], "closing unsubscribes"


def test_an_idle_stream_sends_heartbeat_comments_and_ends_after_its_lifetime(
    redis_client: redis.Redis,
) -> None:
    started = time.monotonic()
    chunks = list(stream(redis_client, [agent_channel("a2")], heartbeat=0.3, lifetime=1.5))
    assert ": heartbeat\n\n" in chunks
    assert time.monotonic() - started < 5


def test_supervisors_also_hear_the_supervisors_channel() -> None:
    assert channels_for("a3", "agent") == [agent_channel("a3"), ESCALATION_CHANNEL]
    assert channels_for("s1", "supervisor") == [
        agent_channel("s1"),
        ESCALATION_CHANNEL,
        SUPERVISOR_CHANNEL,
    ]


def test_the_stream_needs_a_signed_in_person(app: Flask, agent: SignedIn) -> None:
    anonymous = app.test_client().get("/console/events")
    assert anonymous.status_code == 401
    assert (anonymous.json or {})["error_id"] == "auth.sign_in_required"
    response = agent.client.get("/console/events")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"].startswith("no-cache")
    first: Any = next(iter(response.response))
    response.close()
    assert str(first if isinstance(first, str) else first.decode()).startswith("retry:")
