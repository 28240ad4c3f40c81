"""The carrier side of ``amparo sip``: registering with a trunk's registrar (digest
authentication, un-registering on stop), sending a caller to the line's overflow number through
the trunk when the agent who accepted her does not answer, and handing a caller back with REFER
when no trunk is configured to dial the overflow number through."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from store.models import Agent
from telephony.sip import commands
from telephony.sip.commands import SipRedirector
from tests.e2e.sip.peers import SipProcess, events_of, held_call, run_sipp, sipp_phone
from tests.e2e.sip.proxy import Kamailio
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


@pytest.mark.parametrize(
    ("password", "registration"),
    [("trunk-s3cret", "registered"), ("not-the-password", "failed 403")],
)
def test_the_process_registers_with_the_trunk_using_digest_auth(
    start_sip: Callable[..., SipProcess],
    redis_client: redis.Redis,
    sipp_dir: Path,
    password: str,
    registration: str,
) -> None:
    with sipp_phone("registrar", sipp_dir, timeout_s=120) as registrar:
        sip = start_sip(
            AMPARO_SIP_REGISTRAR=f"sip:{registrar.trunk}",
            AMPARO_SIP_USER="amparo-trunk",
            AMPARO_SIP_PASSWORD=password,
        )
        assert registration_of(redis_client, sip.process_id) == registration
        assert password not in sip.log()
        if registration != "registered":
            assert "trunk registration failed: 403" in sip.log()
            return
        assert sip.terminate() == 0  # the un-REGISTER is the registrar's last message
        result = registrar.result(timeout=60)
    assert result.returncode == 0, result.output[-3000:]


def test_when_the_accepting_agents_phone_is_busy_the_caller_goes_to_the_overflow_number(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    with (
        sipp_phone("agent_busy", sipp_dir, timeout_s=90) as agent_phone,
        sipp_phone("number_answer", sipp_dir, timeout_s=90) as number,
    ):
        with db_sessions() as db, db.begin():
            db.execute(
                update(Agent)
                .where(Agent.id == hotline.agents["ana"])
                .values(sip_uri=f"sip:ana@{agent_phone.trunk}")
            )
        sip = start_sip(AMPARO_SIP_TRUNK=number.trunk)
        caller = run_sipp(
            "caller_to_queue", sip.address, hotline.line_number, sipp_dir, background=True
        )
        assert isinstance(caller, subprocess.Popen)
        call_id = held_call(redis_client)
        events_of(db_sessions, call_id, until="outcome", timeout_s=40)  # queued

        # She accepted in the console (what the console's SipBridge sends).
        assert commands.request_bridge(redis_client, call_id, hotline.agents["ana"])

        assert agent_phone.result(timeout=60).returncode == 0
        answered = number.result(timeout=90)
        caller.communicate(timeout=60)
    assert answered.returncode == 0, answered.output[-3000:]  # bridged, then BYE from Amparo
    assert caller.returncode == 0  # she was never hung up on
    seen = [(e.kind, e.data) for e in events_of(db_sessions, call_id, "sip_caller_hung_up")]
    kinds = [kind for kind, _ in seen]
    assert ("sip_bridge_failed", {"to": hotline.agents["ana"], "status": 486}) in seen
    assert ("overflow", {"reason": "agent_unanswered"}) in seen
    assert kinds.index("sip_bridge_failed") < kinds.index("sip_bridged")
    assert "sip_caller_hung_up" in kinds


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
        call_id = held_call(redis_client)
        time.sleep(2)
        SipRedirector(redis_client).redirect_to_number(call_id, "+34900000002")
        out, _ = caller.communicate(timeout=90)
    finally:
        if caller.poll() is None:
            caller.kill()
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]  # REFER, 202, BYE
    events = events_of(db_sessions, call_id, until="hangup")
    assert ("sip_transferred", {"reason": "overflow"}) in [(e.kind, e.data) for e in events]


@pytest.mark.skipif(
    not Path("/usr/lib/x86_64-linux-gnu/kamailio/modules/auth_ephemeral.so").exists(),
    reason="Kamailio's registrar for browsers needs kamailio-autheph-modules",
)
def test_when_the_accepting_agents_browser_is_not_registered_the_caller_goes_to_overflow(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
    tmp_path: Path,
) -> None:
    proxy = Kamailio(tmp_path / "kamailio", [])
    with sipp_phone("number_answer", sipp_dir, timeout_s=90) as number:
        sip = start_sip(AMPARO_SIP_TRUNK=number.trunk, AMPARO_WEBRTC_REGISTRAR=proxy.address)
        proxy.processes = [sip.address]
        proxy.start()
        try:
            caller = run_sipp(
                "caller_to_queue", sip.address, hotline.line_number, sipp_dir, background=True
            )
            assert isinstance(caller, subprocess.Popen)
            call_id = held_call(redis_client)
            events_of(db_sessions, call_id, until="outcome", timeout_s=40)  # queued

            # Ana has no fixed SIP address and her browser is not registered with Kamailio.
            assert commands.request_bridge(redis_client, call_id, hotline.agents["ana"])

            answered = number.result(timeout=90)
            caller.communicate(timeout=60)
        finally:
            proxy.stop()
    assert answered.returncode == 0, answered.output[-3000:]
    assert caller.returncode == 0  # she was never hung up on
    seen = [(e.kind, e.data) for e in events_of(db_sessions, call_id, "sip_caller_hung_up")]
    assert ("sip_bridge_failed", {"to": hotline.agents["ana"], "status": 404}) in seen
    assert ("overflow", {"reason": "agent_unanswered"}) in seen
