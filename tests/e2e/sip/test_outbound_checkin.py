"""Calls out through the trunk, answered by SIPp phones: a check-in (neutral caller id, PIN by
RFC 2833 checked against the beneficiary's hash and never logged, the check-in menu, and an
explicit, polite end chosen by her: "call me later"), and an overflow that sends a waiting
caller to the line's number, bridged."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.live_state import key
from store.records import Call
from store.records import CallEvent as StoredEvent
from telephony.sip import commands
from telephony.sip.commands import SipRedirector
from tests.e2e.sip.peers import (
    SCENARIOS,
    SipProcess,
    free_port,
    free_port_pair,
    parse_sipp,
    run_sipp,
)
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


def test_an_overflow_sends_a_waiting_caller_to_the_number_through_the_trunk(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    number_port = free_port()
    number = subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(SCENARIOS / "number_answer.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(number_port),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(free_port_pair()),
            "-m",
            "1",
            "-nostdin",
            "-trace_err",
            "-timeout",
            "90s",
            "-timeout_error",
        ],
        cwd=sipp_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        sip = start_sip(AMPARO_SIP_TRUNK=f"127.0.0.1:{number_port}")
        caller = run_sipp(
            "caller_to_queue", sip.address, hotline.line_number, sipp_dir, background=True
        )
        assert isinstance(caller, subprocess.Popen)
        call_id = None
        deadline = time.monotonic() + 40
        while call_id is None and time.monotonic() < deadline:
            for name in redis_client.scan_iter(match=key("sip", "call", "*")):
                call_id = str(name).rsplit(":", 1)[1]
            time.sleep(0.3)
        assert call_id is not None
        time.sleep(3)

        # What routing's sweeper does when a queue's wait is too long (SipRedirector).
        SipRedirector(redis_client).redirect_to_number(call_id, "+34900000002")

        out, _ = number.communicate(timeout=120)
        caller.communicate(timeout=60)
    finally:
        for peer in (number,):
            if peer.poll() is None:
                peer.kill()
    answered = parse_sipp(number.returncode, out.decode(errors="replace"))
    assert answered.returncode == 0, answered.output[-3000:]
    deadline = time.monotonic() + 10
    kinds: list[str] = []
    while time.monotonic() < deadline:  # events are written by the SIP process's workers
        with db_sessions() as db:
            kinds = list(
                db.scalars(
                    select(StoredEvent.kind)
                    .where(StoredEvent.call_id == call_id)
                    .order_by(StoredEvent.seq)
                )
            )
        if "sip_caller_hung_up" in kinds:
            break
        time.sleep(0.3)
    assert "sip_bridged" in kinds and "sip_caller_hung_up" in kinds
