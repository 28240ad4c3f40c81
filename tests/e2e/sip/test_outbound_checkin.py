"""An outbound check-in through the trunk, answered by a SIPp phone: neutral caller id, PIN by
RFC 2833 (checked against the beneficiary's hash, never logged), the check-in menu, and an
explicit, polite end chosen by her ("call me later")."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.records import Call
from store.records import CallEvent as StoredEvent
from telephony.sip import commands
from tests.e2e.sip.peers import SCENARIOS, SipProcess, free_port, free_port_pair, parse_sipp
from tests.harness.hotline import Hotline


@pytest.mark.slow
def test_a_checkin_call_through_the_trunk_checks_the_pin_and_ends_politely(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    phone_port = free_port()
    phone = subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(SCENARIOS / "checkin_answer.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(phone_port),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(free_port_pair()),
            "-m",
            "1",
            "-nostdin",
            "-trace_err",
            "-timeout",
            "120s",
            "-timeout_error",
        ],
        cwd=sipp_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        start_sip(AMPARO_SIP_TRUNK=f"127.0.0.1:{phone_port}")

        assert commands.request_checkin(redis_client, hotline.beneficiary_id, "test-slot:1")
        assert not commands.request_checkin(redis_client, hotline.beneficiary_id, "test-slot:1")

        out, _ = phone.communicate(timeout=150)
    finally:
        if phone.poll() is None:
            phone.kill()
    result = parse_sipp(phone.returncode, out.decode(errors="replace"))
    assert result.returncode == 0, result.output[-3000:]

    with db_sessions() as db:
        call = db.scalars(
            select(Call).where(
                Call.beneficiary_id == hotline.beneficiary_id, Call.direction == "checkin"
            )
        ).one()
        deadline = time.monotonic() + 10
        while True:
            events = db.scalars(
                select(StoredEvent).where(StoredEvent.call_id == call.id).order_by(StoredEvent.seq)
            ).all()
            if any(e.kind == "outcome" for e in events) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
            db.expire_all()
    kinds = [event.kind for event in events]
    assert kinds[0] == "answered"
    assert kinds.count("digits") == 2
    pin_event = next(event for event in events if event.kind == "digits")
    assert pin_event.data.get("pin_checked") is True and "digits" not in pin_event.data
    assert "call_later" in [e.data.get("outcome") for e in events if e.kind == "outcome"]
