"""The carrier side of ``amparo sip``: registering with a trunk's registrar (digest
authentication, un-registering on stop), and handing a caller back with REFER when no trunk is
configured to dial the overflow number through."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.live_state import key
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
        with db_sessions() as db:
            events = list(
                db.scalars(
                    select(StoredEvent)
                    .where(StoredEvent.call_id == call_id)
                    .order_by(StoredEvent.seq)
                )
            )
        if any(event.kind == "hangup" for event in events):
            break
        time.sleep(0.3)
    assert ("sip_transferred", {"reason": "overflow"}) in [(e.kind, e.data) for e in events]
