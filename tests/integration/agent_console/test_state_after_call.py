"""State after the call, from the console: an agent on a call asks for a break (or to go
offline) and takes it when the call and its wrap-up end; an admin deactivating her mid-call
leaves her offline after it. The caller is never cut off and no offer reaches her between."""

from __future__ import annotations

import json
import time

import redis
from flask import Flask

from routing.channels import agent_channel
from routing.state import routing_key
from runtime import Runtime
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import Account, SignedIn, sign_in

LOW_RISK = ("1", "1", "2", "2", "2", "2")


def _caller(runtime: Runtime, hotline: Hotline) -> str:
    phones = runtime.simulator
    call = phones.dial(hotline.line_number, None)
    for digit in LOW_RISK:
        call = phones.press(call.call_id, digit)
    assert call.status is PhoneStatus.ON_HOLD
    return call.call_id


def _on_a_call(runtime: Runtime, hotline: Hotline, agent: SignedIn) -> str:
    assert agent.post("/console/api/state", {"state": "available"}).status_code == 200
    call_id = _caller(runtime, hotline)
    accepted = agent.post(f"/console/api/offers/{call_id}/accept")
    assert (accepted.json or {}).get("bridged") is True, accepted.json
    return call_id


def _wrap_up_ends(runtime: Runtime) -> None:
    router = runtime.router
    router.sweep(time.time() + router.config.wrap_up_seconds + 1)


def _kinds(listener: redis.client.PubSub, quiet: float = 0.5) -> list[str]:
    """Kinds published on the channel so far (until it has been quiet for a moment)."""
    kinds = []
    last = time.monotonic()
    while time.monotonic() - last < quiet:
        message = listener.get_message(timeout=0.1)
        if message is not None and message["type"] == "message":
            kinds.append(str(json.loads(message["data"])["kind"]))
            last = time.monotonic()
    return kinds


def _routing(redis_client: redis.Redis, agent_id: str) -> list[object]:
    return list(redis_client.hmget(routing_key("agent", agent_id), ["state", "after_call"]))


def test_an_agent_on_a_call_asks_for_a_break_and_gets_it_after_the_call(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, redis_client: redis.Redis
) -> None:
    call_id = _on_a_call(runtime, hotline, agent)
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(agent_channel(agent.account.agent_id))

    asked = agent.post("/console/api/state", {"state": "break"})

    assert asked.status_code == 200, asked.json
    assert asked.json == {"state": "on_call", "after_call": "break"}
    me = agent.get("/console/api/me").json
    assert (me["state"], me["after_call"], me["call_id"]) == ("on_call", "break", call_id)
    assert runtime.simulator.get(call_id).status is PhoneStatus.CONNECTED
    assert _kinds(listener) == ["agent_state_after_call"], "her console hears it"

    ended = agent.post(f"/console/api/calls/{call_id}/end", {"disposition": "information"})
    assert ended.status_code == 200, ended.json
    me = agent.get("/console/api/me").json
    assert (me["state"], me["after_call"]) == ("wrap_up", "break")
    waiting = _caller(runtime, hotline)
    _wrap_up_ends(runtime)

    me = agent.get("/console/api/me").json
    assert (me["state"], me["after_call"], me["offer"]) == ("break", None, None)
    assert _kinds(listener) == ["completed", "agent_state_changed"], "no offer between"
    assert redis_client.hget(routing_key("call", waiting), "status") == "waiting"
    listener.close()

    back = agent.post("/console/api/state", {"state": "available"})
    assert back.json == {"state": "offered", "after_call": None}


def test_available_during_the_call_cancels_the_break_asked_for(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    call_id = _on_a_call(runtime, hotline, agent)
    assert agent.post("/console/api/state", {"state": "offline"}).json["after_call"] == "offline"

    changed_mind = agent.post("/console/api/state", {"state": "available"})

    assert changed_mind.json == {"state": "on_call", "after_call": None}
    ended = agent.post(f"/console/api/calls/{call_id}/end", {"disposition": "information"})
    assert ended.status_code == 200
    waiting = _caller(runtime, hotline)
    _wrap_up_ends(runtime)
    me = agent.get("/console/api/me").json
    assert (me["state"], me["offer"]["call"]) == ("offered", waiting)


def test_an_admin_deactivating_an_agent_mid_call_leaves_her_offline_after_wrap_up(
    app: Flask,
    runtime: Runtime,
    hotline: Hotline,
    accounts: dict[str, Account],
    admin: SignedIn,
    redis_client: redis.Redis,
) -> None:
    ana = sign_in(app, accounts["ana"])
    agent_id = ana.account.agent_id
    call_id = _on_a_call(runtime, hotline, ana)
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(agent_channel(agent_id))

    done = admin.post(f"/admin/api/agents/{agent_id}/deactivate")

    assert done.status_code == 200, done.json
    assert (done.json["routing_state"], done.json["routing_after_call"]) == ("on_call", "offline")
    assert _routing(redis_client, agent_id) == ["on_call", "offline"]
    assert runtime.simulator.get(call_id).status is PhoneStatus.CONNECTED

    runtime.simulator.hang_up(call_id)
    assert _routing(redis_client, agent_id) == ["wrap_up", "offline"]
    waiting = _caller(runtime, hotline)
    _wrap_up_ends(runtime)

    assert _routing(redis_client, agent_id) == ["offline", None]
    assert "offered" not in _kinds(listener)
    assert redis_client.hget(routing_key("call", waiting), "status") == "waiting"
    listener.close()


def test_the_console_and_the_wallboard_show_the_state_after_the_call(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, supervisor: SignedIn
) -> None:
    _on_a_call(runtime, hotline, agent)
    agent.post("/console/api/state", {"state": "break"})

    page = agent.client.get("/console", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Break after this call" in page and "Offline after this call" in page

    board = supervisor.client.get(
        "/supervisor/api/board", headers={"Accept": "application/json", "Accept-Language": "es"}
    ).json
    assert board is not None
    [row] = [a for a in board["agents"] if a["agent_id"] == agent.account.agent_id]
    assert (row["state"], row["after_call"]) == ("on_call", "break")
    assert row["after_call_label"] == "Pausa tras esta llamada"
    fragment = supervisor.client.get("/supervisor/board", headers={"Accept-Language": "en"})
    assert 'On a call · <span class="after-call">Break after this call</span>' in fragment.text
