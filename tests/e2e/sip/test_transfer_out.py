"""Transfers of a SIP caller to an outside service, with ``amparo sip`` and SIPp phones (the
caller, the agent's phone, and the service behind the trunk). Cold: answered, the caller is
joined to the service and the agent's leg released; busy, the caller is back with her agent.
Warm: the agent talks with the service first, then hands her over or takes her back. Either
way she is never hung up on, and the agent's console is told at each step."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.control import TransferNotAnswered
from routing.channels import agent_channel
from telephony.sip.commands import SipBridge
from tests.e2e.sip.peers import SipProcess, events_of, kinds, sipp_phone, wait_until
from tests.e2e.sip.test_call_control import agent_phone, bridged_caller
from tests.harness.hotline import Hotline

SERVICE = "+34900123456"
RECORDED = "caller_recorded_with_agent"
"""Her line's policy records her: the recording pauses while a service is on the call."""
OUTCOMES = ("transferred_out", "transfer_failed", "transfer_consulting", "transfer_returned")


def told(console: redis.client.PubSub) -> str | None:
    """The next transfer outcome on the agent's console, if one came."""
    message = console.get_message(timeout=0.2)
    while message is not None:
        if message["type"] == "message":
            kind = str(json.loads(message["data"]).get("kind"))
            if kind in OUTCOMES:
                return kind
        message = console.get_message(timeout=0.2)
    return None


def test_an_answered_transfer_joins_the_caller_to_the_service_and_releases_the_agent(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    with (
        agent_phone(db_sessions, hotline, sipp_dir) as phone,
        sipp_phone("number_answer", sipp_dir, timeout_s=90) as service,
    ):
        sip = start_sip(AMPARO_SIP_TRUNK=service.trunk)
        caller, call_id = bridged_caller(
            RECORDED, sip, hotline, db_sessions, redis_client, sipp_dir, until="enqueued"
        )
        console = redis_client.pubsub()
        console.subscribe(agent_channel(hotline.agents["ana"]))
        SipBridge(redis_client).transfer_out(call_id, SERVICE)
        outcome = wait_until(lambda: told(console), 20, "the agent was not told")
        assert phone.result(timeout=30).returncode == 0  # Amparo's BYE to the agent's phone
        out, _ = caller.communicate(timeout=60)  # her own BYE after 30 s
        answered = service.result(timeout=30)  # then Amparo's BYE to the service
    assert outcome == "transferred_out"
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]  # never hung up on
    assert answered.returncode == 0, answered.output[-3000:]
    seen = [(e.kind, e.data) for e in events_of(db_sessions, call_id, "hangup")]
    order = [kind for kind, _ in seen]
    assert ("sip_bridged", {"to": "number:transfer"}) in seen
    # The SIP process's workers write events of one moment in any order; seconds apart, in turn.
    moment = {"sip_transfer_ringing", "sip_person_released", "sip_transferred_out"}
    assert moment <= set(order)
    assert max(order.index(kind) for kind in moment) < order.index("sip_caller_hung_up")
    assert "sip_person_dropped" not in order, "a released agent is not a dropped one"
    # Her call is recorded (the line's policy), and the recording pauses for the service.
    assert order.index("sip_recording_paused") < order.index("sip_transferred_out")
    assert "sip_recording_resumed" not in order
    assert SERVICE not in sip.log() and SERVICE not in str(seen)


def test_a_busy_service_leaves_the_caller_with_her_agent_and_the_agent_is_told(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    with (
        agent_phone(db_sessions, hotline, sipp_dir) as phone,
        sipp_phone("agent_busy", sipp_dir) as service,
    ):
        sip = start_sip(AMPARO_SIP_TRUNK=service.trunk)
        caller, call_id = bridged_caller(
            RECORDED, sip, hotline, db_sessions, redis_client, sipp_dir, until="enqueued"
        )
        console = redis_client.pubsub()
        console.subscribe(agent_channel(hotline.agents["ana"]))
        SipBridge(redis_client).transfer_out(call_id, SERVICE)
        outcome = wait_until(lambda: told(console), 20, "the agent was not told")
        assert service.result(timeout=30).returncode == 0
        out, _ = caller.communicate(timeout=60)  # her own BYE after 30 s
        agent = phone.result(timeout=60)  # with her caller to the end, then Amparo's BYE
    assert outcome == "transfer_failed"
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]
    assert agent.returncode == 0, agent.output[-3000:]
    events_of(db_sessions, call_id, "sip_caller_hung_up")
    order = kinds(db_sessions, call_id)
    moment = {"sip_held", "sip_transfer_ringing", "sip_transfer_failed", "sip_resumed"}
    assert moment <= set(order)
    assert max(order.index(kind) for kind in moment) < order.index("sip_caller_hung_up")
    assert "sip_person_released" not in order and "sip_person_hung_up" not in order
    assert "sip_recording_paused" not in order, "no service came on: nothing to pause for"


@pytest.mark.parametrize("hand_over", [True, False], ids=["handed_over", "taken_back"])
def test_a_warm_transfer_consults_the_service_then_hands_her_over_or_takes_her_back(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
    hand_over: bool,
) -> None:
    with (
        agent_phone(db_sessions, hotline, sipp_dir) as phone,
        sipp_phone("number_answer", sipp_dir, timeout_s=90) as service,
    ):
        sip = start_sip(AMPARO_SIP_TRUNK=service.trunk)
        caller, call_id = bridged_caller(
            RECORDED, sip, hotline, db_sessions, redis_client, sipp_dir, until="enqueued"
        )
        console = redis_client.pubsub()
        console.subscribe(agent_channel(hotline.agents["ana"]))
        bridge = SipBridge(redis_client)
        bridge.warm_transfer(call_id, SERVICE)
        with pytest.raises(TransferNotAnswered):
            bridge.complete_transfer(call_id)  # not before the service has answered
        consulting = wait_until(lambda: told(console), 20, "the agent was not told")
        (bridge.complete_transfer if hand_over else bridge.cancel_transfer)(call_id)
        after = wait_until(lambda: told(console), 20, "the agent was not told")
        out, _ = caller.communicate(timeout=60)  # her own BYE after 30 s
        # Amparo's BYEs: handed over, to the agent at once and to the service at her end;
        # taken back, the other way round.
        agent, answered = phone.result(timeout=60), service.result(timeout=60)
    assert consulting == "transfer_consulting"
    assert after == ("transferred_out" if hand_over else "transfer_returned")
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]  # never hung up on
    assert agent.returncode == 0, agent.output[-3000:]
    assert answered.returncode == 0, answered.output[-3000:]
    events_of(db_sessions, call_id, "sip_caller_hung_up")
    order = kinds(db_sessions, call_id)
    outcome = "sip_transferred_out" if hand_over else "sip_transfer_returned"
    assert order.index("sip_transfer_consulting") < order.index(outcome)
    assert order.index(outcome) < order.index("sip_caller_hung_up")
    assert ("sip_person_released" in order) is hand_over
    assert "sip_person_dropped" not in order
    # The recording pauses while the service is on; taken back, it resumes.
    assert order.index("sip_recording_paused") < order.index("sip_transfer_consulting")
    assert ("sip_recording_resumed" in order) is not hand_over
    assert ("sip_resumed" in order) is not hand_over
