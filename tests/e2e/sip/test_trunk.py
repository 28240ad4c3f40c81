"""The carrier side of ``amparo sip``: registering with a trunk's registrar (digest
authentication, un-registering on stop), sending a caller to the line's overflow number through
the trunk when the agent who accepted her does not answer, and handing a caller back with REFER
when no trunk is configured to dial the overflow number through."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from store.live_state import key
from store.models import Agent
from store.records import CallEvent as StoredEvent
from telephony.sip import commands
from telephony.sip.commands import SipRedirector
from tests.e2e.sip.peers import SipProcess, parse_sipp, run_sipp, sipp_phone
from tests.harness.hotline import Hotline


def registration_of(client: redis.Redis, process_id: str, timeout_s: float = 20.0) -> str:
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        state = str(client.hget(commands.process_key(process_id), "registration") or "")
        if state not in ("", "pending"):
            return state
        time.sleep(0.3)
    return state


def test_the_process_registers_with_the_trunk_using_digest_auth_and_unregisters_on_stop(
    start_sip: Callable[..., SipProcess],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    registrar, port = sipp_phone("registrar", sipp_dir, timeout_s=120)
    try:
        sip = start_sip(
            AMPARO_SIP_REGISTRAR=f"sip:127.0.0.1:{port}",
            AMPARO_SIP_USER="amparo-trunk",
            AMPARO_SIP_PASSWORD="trunk-s3cret",
        )
        assert registration_of(redis_client, sip.process_id) == "registered"
        assert sip.terminate() == 0  # the un-REGISTER is the registrar's last message
        out, _ = registrar.communicate(timeout=60)
    finally:
        if registrar.poll() is None:
            registrar.kill()
    result = parse_sipp(registrar.returncode, out.decode(errors="replace"))
    assert result.returncode == 0, result.output[-3000:]
    assert "trunk-s3cret" not in sip.log()


def test_a_wrong_trunk_password_shows_in_the_heartbeat(
    start_sip: Callable[..., SipProcess],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    registrar, port = sipp_phone("registrar", sipp_dir, timeout_s=60)
    try:
        sip = start_sip(
            AMPARO_SIP_REGISTRAR=f"sip:127.0.0.1:{port}",
            AMPARO_SIP_USER="amparo-trunk",
            AMPARO_SIP_PASSWORD="not-the-password",
        )
        assert registration_of(redis_client, sip.process_id) == "failed 403"
        assert "trunk registration failed: 403" in sip.log()
    finally:
        registrar.kill()
        registrar.communicate(timeout=10)


def test_without_a_trunk_an_overflow_hands_the_caller_back_with_refer(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    sip = start_sip()  # no AMPARO_SIP_TRUNK, no registrar
    caller = run_sipp("caller_refer", sip.address, hotline.line_number, sipp_dir, background=True)
    assert isinstance(caller, subprocess.Popen)
    try:
        call_id = None
        deadline = time.monotonic() + 40
        while call_id is None and time.monotonic() < deadline:
            for name in redis_client.scan_iter(match=key("sip", "call", "*")):
                call_id = str(name).rsplit(":", 1)[1]
            time.sleep(0.3)
        assert call_id is not None
        time.sleep(2)

        SipRedirector(redis_client).redirect_to_number(call_id, "+34900000002")
        out, _ = caller.communicate(timeout=90)
    finally:
        if caller.poll() is None:
            caller.kill()
    result = parse_sipp(caller.returncode, out.decode(errors="replace"))
    assert result.returncode == 0, result.output[-3000:]  # REFER to the number, 202, BYE
    deadline = time.monotonic() + 10
    events: list[StoredEvent] = []
    while time.monotonic() < deadline:
        events = events_of(db_sessions, call_id)
        if any(event.kind == "hangup" for event in events):
            break
        time.sleep(0.3)
    assert ("sip_transferred", {"reason": "overflow"}) in [(e.kind, e.data) for e in events]


def test_when_the_accepting_agents_phone_is_busy_the_caller_goes_to_the_overflow_number(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    agent_phone, agent_port = sipp_phone("agent_busy", sipp_dir, timeout_s=90)
    number, number_port = sipp_phone("number_answer", sipp_dir, timeout_s=90)
    with db_sessions() as db, db.begin():
        db.execute(
            update(Agent)
            .where(Agent.id == hotline.agents["ana"])
            .values(sip_uri=f"sip:ana@127.0.0.1:{agent_port}")
        )
    try:
        sip = start_sip(AMPARO_SIP_TRUNK=f"127.0.0.1:{number_port}")
        caller = run_sipp(
            "caller_to_queue", sip.address, hotline.line_number, sipp_dir, background=True
        )
        assert isinstance(caller, subprocess.Popen)
        call_id = None
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            call_id = next(
                (
                    str(name).rsplit(":", 1)[1]
                    for name in redis_client.scan_iter(match=key("sip", "call", "*"))
                ),
                None,
            )
            if call_id and "outcome" in [e.kind for e in events_of(db_sessions, call_id)]:
                break
            time.sleep(0.3)
        assert call_id is not None, "the caller never reached the queue"

        # She accepted in the console (what the console's SipBridge sends).
        assert commands.request_bridge(redis_client, call_id, hotline.agents["ana"])

        agent_out, _ = agent_phone.communicate(timeout=60)
        number_out, _ = number.communicate(timeout=90)
        caller.communicate(timeout=60)
    finally:
        for peer in (agent_phone, number):
            if peer.poll() is None:
                peer.kill()
    assert parse_sipp(agent_phone.returncode, agent_out.decode(errors="replace")).returncode == 0
    answered = parse_sipp(number.returncode, number_out.decode(errors="replace"))
    assert answered.returncode == 0, answered.output[-3000:]  # bridged, then BYE from Amparo
    assert caller.returncode == 0  # she was never hung up on
    deadline = time.monotonic() + 10
    seen: list[tuple[str, dict[str, object]]] = []
    while time.monotonic() < deadline:
        seen = [(e.kind, e.data) for e in events_of(db_sessions, call_id)]
        if any(kind == "sip_caller_hung_up" for kind, _ in seen):
            break
        time.sleep(0.3)
    kinds = [kind for kind, _ in seen]
    assert ("sip_bridge_failed", {"to": hotline.agents["ana"], "status": 486}) in seen
    assert ("overflow", {"reason": "agent_unanswered"}) in seen
    assert kinds.index("sip_bridge_failed") < kinds.index("sip_bridged")
    assert "sip_caller_hung_up" in kinds


def events_of(sessions: sessionmaker[Session], call_id: str) -> list[StoredEvent]:
    with sessions() as db:
        return list(
            db.scalars(
                select(StoredEvent).where(StoredEvent.call_id == call_id).order_by(StoredEvent.seq)
            )
        )
