"""Routing rebuilds itself when Redis lost its data: agents, waiting callers and ladders come
back from the database, each agent's presence from her open console's heartbeat, within
seconds and without a restart; ``/readyz`` says whether routing's state is there."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from calls.routing_rebuild import UNCONFIRMED_UNTIL_KEY
from routing import views
from routing.state import BUILT_KEY, routing_key
from runtime import Runtime, build_runtime
from settings import Settings
from store.records import Escalation
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import SignedIn

# It reads the whole database: what earlier tests left must not count.
pytestmark = pytest.mark.usefixtures("empty_database")


LOW_RISK = ("1", "1", "2", "2", "2", "2")


def _waiting_caller(runtime: Runtime, hotline: Hotline) -> str:
    call = runtime.simulator.dial(hotline.line_number, None)
    for digit in LOW_RISK:
        call = runtime.simulator.press(call.call_id, digit)
    assert call.status is PhoneStatus.ON_HOLD
    return call.call_id


def _open_ladder(runtime: Runtime, hotline: Hotline, db_sessions: sessionmaker[Session]) -> str:
    escalation_id = f"alarm:rebuild-{hotline.line_id[:8]}"
    now = time.time()
    with db_sessions() as db, db.begin():
        db.add(
            Escalation(
                id=escalation_id,
                team_id=hotline.team_id,
                reason="device_alarm",
                opened_at=datetime.fromtimestamp(now, UTC),
            )
        )
    runtime.router.escalate(escalation_id, hotline.team_id, "device_alarm", now)
    return escalation_id


def _state(client: redis.Redis, agent_id: str) -> str | None:
    return client.hget(routing_key("agent", agent_id), "state")  # type: ignore[return-value]


def test_given_redis_lost_its_data_when_readiness_is_asked_then_routing_is_rebuilt_and_consoles_put_their_agents_back(  # noqa: E501
    runtime: Runtime,
    app: Flask,
    hotline: Hotline,
    agent: SignedIn,
    redis_client: redis.Redis,
    db_sessions: sessionmaker[Session],
) -> None:
    ana = agent.account.agent_id
    assert agent.post("/console/api/state", {"state": "break"}).status_code == 200
    callers = {_waiting_caller(runtime, hotline) for _ in range(2)}
    ladder = _open_ladder(runtime, hotline, db_sessions)
    assert app.test_client().get("/readyz").status_code == 200

    redis_client.flushdb()
    assert not redis_client.exists(BUILT_KEY)

    started = time.monotonic()
    ready = app.test_client().get("/readyz")
    rebuilt_in = time.monotonic() - started

    assert ready.status_code == 200, ready.json
    assert (ready.json or {})["checks"]["routing"] == "ok"
    assert rebuilt_in < 5.0
    assert redis_client.exists(BUILT_KEY)
    waiting = set(redis_client.zrange(routing_key("waiting"), 0, -1))
    assert waiting == callers, "the callers wait again, none overflowed as unstaffed"
    assert views.ladder(redis_client, ladder) is not None, "the alarm's ladder rings again"
    assert _state(redis_client, ana) == "break", (
        "every agent is back, on a break until her console speaks"
    )

    # Her console's heartbeat: the signed-in session survived the loss, and she is available.
    beat = agent.post("/console/api/presence", {"state": "available"})
    assert beat.status_code == 200, beat.json
    assert beat.json == {"restored": True}
    assert _state(redis_client, ana) in {"available", "offered"}
    me = agent.get("/console/api/me").json
    assert me["offer"] is not None and me["offer"]["call"] in callers, (
        "a waiting caller is offered to her"
    )
    again = agent.post("/console/api/presence", {"state": "available"})
    assert again.json == {"restored": False}, "a heartbeat changes nothing once she is known"


def test_given_no_console_speaks_for_an_agent_after_the_grace_then_she_goes_offline(
    runtime: Runtime, hotline: Hotline, redis_client: redis.Redis
) -> None:
    redis_client.flushdb()
    runtime.routing_rebuild.ensure()
    ana = hotline.agents["ana"]
    assert _state(redis_client, ana) == "break"

    redis_client.set(UNCONFIRMED_UNTIL_KEY, str(time.time() - 1))
    assert runtime.routing_rebuild.ensure() is None

    assert _state(redis_client, ana) == "offline"


def test_readyz_names_routing_while_its_state_is_missing_and_cannot_be_rebuilt(
    settings: Settings, redis_client: redis.Redis
) -> None:
    broken = settings.with_overrides(database_url="sqlite:////nonexistent-dir/amparo.sqlite3")
    runtime = build_runtime(broken)
    try:
        response = create_app(runtime=runtime).test_client().get("/readyz")
        assert response.status_code == 503
        assert (response.json or {})["down"] == ["database", "routing"]
    finally:
        runtime.close()


def test_a_session_signed_out_after_the_loss_is_not_opened_again(
    app: Flask, agent: SignedIn, redis_client: redis.Redis
) -> None:
    redis_client.flushdb()
    assert agent.get("/console/api/me").status_code == 200, "adopted after the loss"
    cookie = agent.client.get_cookie("amparo_session")
    assert cookie is not None
    agent.post("/logout")
    copy = app.test_client()
    copy.set_cookie("amparo_session", cookie.value)
    refused = copy.get("/console/api/me", headers={"Accept": "application/json"})
    assert refused.status_code == 401, "a copy of her cookie is worth nothing after sign-out"
