"""When her call ends under the agent: the console learns the caller is gone, offers only the
outcome, and the urgent-team rings that sought a person for her close (those asked of the team
beyond the call stay)."""

from __future__ import annotations

import json
import time

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from routing import views
from routing.channels import agent_channel
from runtime import Runtime
from store.records import Call, Escalation
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import SignedIn

SEVERE = ("1", "1", "1")
LOW_RISK = ("1", "1", "2", "2", "2", "2")


def _caller(runtime: Runtime, hotline: Hotline, keys: tuple[str, ...]) -> str:
    call = runtime.simulator.dial(hotline.line_number, None)
    for digit in keys:
        call = runtime.simulator.press(call.call_id, digit)
    assert call.status is PhoneStatus.ON_HOLD
    return call.call_id


def _accepted(runtime: Runtime, hotline: Hotline, agent: SignedIn, keys: tuple[str, ...]) -> str:
    assert agent.post("/console/api/state", {"state": "available"}).status_code == 200
    call_id = _caller(runtime, hotline, keys)
    assert agent.get("/console/api/me").json["offer"]["call"] == call_id
    assert agent.post(f"/console/api/offers/{call_id}/accept").status_code == 200
    return call_id


def _published(listener: redis.client.PubSub, kind: str) -> dict[str, object]:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.5)
        if message is not None and message["type"] == "message":
            body = dict(json.loads(message["data"]))
            if body.get("kind") == kind:
                return body
    raise AssertionError(f"no {kind} published")


def _ringing(redis_client: redis.Redis, call_id: str) -> list[str]:
    return sorted(
        e.reason for e in views.open_escalations(redis_client, time.time()) if e.call_id == call_id
    )


def test_given_a_caller_who_hangs_up_mid_call_then_her_agent_sees_her_gone_and_only_the_outcome(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, redis_client: redis.Redis
) -> None:
    call_id = _accepted(runtime, hotline, agent, LOW_RISK)
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(agent_channel(agent.account.agent_id))
    before = agent.get("/console/api/me").json
    assert (before["call_id"], before["call_ended"]) == (call_id, False)

    runtime.simulator.hang_up(call_id)

    assert _published(listener, "completed")["call"] == call_id
    listener.close()
    me = agent.get("/console/api/me").json
    assert (me["state"], me["call_id"], me["call_ended"]) == ("wrap_up", call_id, True)
    assert me["wrap_until"] > me["now"]
    held = agent.post(f"/console/api/calls/{call_id}/hold", {"on": True})
    assert (held.status_code, held.json["error_id"]) == (409, "console.caller_gone")
    moved = agent.post(f"/console/api/calls/{call_id}/transfer", {"queue": "general"})
    assert (moved.status_code, moved.json["error_id"]) == (409, "console.caller_gone")
    ended = agent.post(
        f"/console/api/calls/{call_id}/end", {"disposition": "caller_hung_up", "notes": ""}
    )
    assert ended.status_code == 200, ended.json
    assert agent.get("/console/api/me").json["call_id"] is None


def test_given_a_severe_call_accepted_then_its_ring_closes_and_the_agents_own_request_outlives_it(
    runtime: Runtime,
    hotline: Hotline,
    agent: SignedIn,
    redis_client: redis.Redis,
    db_sessions: sessionmaker[Session],
) -> None:
    call_id = _accepted(runtime, hotline, agent, SEVERE)
    assert _ringing(redis_client, call_id) == []
    asked = agent.post(f"/console/api/calls/{call_id}/escalate")
    assert asked.status_code == 200, asked.json
    assert _ringing(redis_client, call_id) == ["agent_request"]

    runtime.simulator.hang_up(call_id)

    assert _ringing(redis_client, call_id) == ["agent_request"], "the team must still act"
    with db_sessions() as db:
        rows = {
            row.reason: row
            for row in db.scalars(select(Escalation).where(Escalation.call_id == call_id))
        }
    assert rows["severe_screen"].closed_reason == "answered"
    assert rows["severe_screen"].acknowledged_by is None
    assert rows["agent_request"].closed_at is None


def test_given_a_severe_caller_who_hangs_up_before_anyone_then_her_ladder_keeps_ringing(
    runtime: Runtime, hotline: Hotline, redis_client: redis.Redis
) -> None:
    call_id = _caller(runtime, hotline, SEVERE)
    assert _ringing(redis_client, call_id) == ["severe_screen"]

    runtime.simulator.hang_up(call_id)

    assert _ringing(redis_client, call_id) == ["severe_screen"]


def test_given_a_severe_caller_sent_to_the_overflow_number_when_her_call_ends_her_ring_closes(
    runtime: Runtime,
    hotline: Hotline,
    redis_client: redis.Redis,
    db_sessions: sessionmaker[Session],
) -> None:
    """She reached a person at the overflow number: once her call is over, the screen's ring
    closes as ``call_ended`` (nobody is recorded as acknowledging it), and the boards drop it."""
    call_id = _caller(runtime, hotline, SEVERE)
    assert _ringing(redis_client, call_id) == ["severe_screen"]
    assert runtime.router.sweep(time.time() + 3600) is not None  # past the queue's longest wait
    assert _ringing(redis_client, call_id) == ["severe_screen"], "rings while she is on the line"

    runtime.simulator.hang_up(call_id)

    assert _ringing(redis_client, call_id) == []
    with db_sessions() as db:
        [ring] = db.scalars(select(Escalation).where(Escalation.call_id == call_id)).all()
    assert (ring.closed_reason, ring.acknowledged_by) == ("call_ended", None)
    with db_sessions() as db:
        row = db.get(Call, call_id)
        assert row is not None and row.status == "overflowed"
