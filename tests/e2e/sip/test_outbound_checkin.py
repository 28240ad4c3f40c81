"""Calls out through the trunk, answered (or not) by SIPp phones.

Check-ins go the way they go in production: the planner plans a slot, a real rq worker runs the
attempt's job, the job opens the call and hands it to the SIP edge (``SipDialer``), and the
``amparo sip`` process rings her through the trunk. Answered: PIN by RFC 2833 (checked against
her hash, never logged), the check-in menu, and the polite end she chose ("call me later").
Busy: the attempt is concluded at once from the SIP status, not after the ring timeout. Still
ringing at the ring timeout: the ring-timeout job cancels it (CANCEL on the wire).

Also: an overflow that sends a waiting caller to the line's number, bridged."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from checkins import jobs, planner
from checkins.context import CheckinContext
from runtime import build_runtime
from settings import Settings
from store.clock import ManualClock
from store.live_state import key
from store.records import CheckinAttempt
from store.vocabulary import RiskLevel
from telephony.sip.commands import SipRedirector
from tests.e2e.sip.peers import SipProcess, events_of, held_call, run_sipp, sipp_phone
from tests.harness.hotline import Hotline
from tests.integration.checkins.calls import ALL_DAY
from tests.integration.checkins.helpers import (
    add_plan,
    attempts_of,
    deactivate_other_plans,
    drain,
    scheduled_job_ids,
)

# It reads the whole database: what earlier tests left must not count.
pytestmark = pytest.mark.usefixtures("empty_database")


CHECKIN_CALLER_ID = "+34910000099"


@pytest.fixture
def checkins(
    settings: Settings, hotline: Hotline, db_sessions: sessionmaker[Session]
) -> Iterator[CheckinContext]:
    """This process as an rq worker of a SIP deployment: check-ins ring through the SIP edge."""
    deactivate_other_plans(db_sessions)
    runtime = build_runtime(settings.with_overrides(sip_listen="127.0.0.1:5060"))
    try:
        context = runtime.checkins
        context.clock = ManualClock(datetime.now(UTC))
        jobs.install(context)
        yield context
    finally:
        runtime.close()


def plan_and_dial(ctx: CheckinContext, hotline: Hotline) -> CheckinAttempt:
    """A plan due now; the planner plans it and a real rq worker runs the attempt's job."""
    assert isinstance(ctx.clock, ManualClock)
    add_plan(
        ctx.sessions,
        hotline.beneficiary_id,
        ctx.clock.now(),
        risk_level=RiskLevel.MEDIO,
        safe_call_windows=ALL_DAY,
    )
    planner.plan_due(ctx)
    drain(ctx.jobs, ctx.clock)
    attempt = attempts_of(ctx.sessions, hotline.beneficiary_id)[-1]
    assert attempt.call_id is not None and attempt.dialed_at is not None, (
        f"not dialled: outcome {attempt.outcome}, started {attempt.started_at}, "
        f"scheduled {attempt.scheduled_at} (clock {ctx.clock.now()}), "
        f"jobs waiting {scheduled_job_ids(ctx.jobs)}"
    )
    assert ctx.dialer.channel.value == "sip"
    return attempt


def concluded(ctx: CheckinContext, attempt_id: str, timeout_s: float = 20.0) -> CheckinAttempt:
    deadline = time.monotonic() + timeout_s
    while True:
        with ctx.sessions() as db:
            attempt = db.get(CheckinAttempt, attempt_id)
            assert attempt is not None
            if attempt.outcome is not None or time.monotonic() > deadline:
                return attempt
        time.sleep(0.3)


@pytest.mark.slow
def test_a_checkin_rung_by_the_job_through_the_trunk_checks_the_pin_and_ends_politely(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    checkins: CheckinContext,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    with sipp_phone("checkin_answer", sipp_dir) as phone:
        start_sip(AMPARO_SIP_TRUNK=phone.trunk)
        attempt = plan_and_dial(checkins, hotline)
        result = phone.result(timeout=150)
    assert result.returncode == 0, result.output[-3000:]

    done = concluded(checkins, attempt.id)
    assert done.outcome == "call_later"
    events = events_of(db_sessions, str(attempt.call_id))
    kinds = [event.kind for event in events]
    assert sorted(kinds[:2]) == ["dialing", "sip_dialled"]
    assert "answered" in kinds and kinds.count("digits") == 2
    pin_event = next(event for event in events if event.kind == "digits")
    assert pin_event.data.get("pin_checked") is True and "digits" not in pin_event.data
    assert "call_later" in [e.data.get("outcome") for e in events if e.kind == "outcome"]


@pytest.mark.slow
def test_a_busy_phone_concludes_the_attempt_at_once_and_shows_the_checkin_caller_id(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    checkins: CheckinContext,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    checkins.caller_id = CHECKIN_CALLER_ID
    with sipp_phone("checkin_busy", sipp_dir, timeout_s=60) as phone:
        start_sip(AMPARO_SIP_TRUNK=phone.trunk)
        attempt = plan_and_dial(checkins, hotline)
        result = phone.result(timeout=90)
    assert result.returncode == 0, result.output[-3000:]  # the From showed the caller id

    # Well inside the 45-second ring timeout, which never ran (the test clock stands still).
    done = concluded(checkins, attempt.id, timeout_s=15)
    assert done.outcome == "busy"
    unanswered = [e for e in events_of(db_sessions, str(attempt.call_id)) if "unans" in e.kind]
    assert [(e.kind, e.data) for e in unanswered] == [
        ("sip_unanswered", {"status": 486, "reason": "busy"})
    ]
    # The ladder goes on: her next attempt is planned.
    assert len(attempts_of(db_sessions, hotline.beneficiary_id)) == 2


@pytest.mark.slow
def test_a_phone_still_ringing_at_the_ring_timeout_is_cancelled(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    checkins: CheckinContext,
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    with sipp_phone("checkin_ring", sipp_dir, timeout_s=90) as phone:
        sip = start_sip(AMPARO_SIP_TRUNK=phone.trunk)
        attempt = plan_and_dial(checkins, hotline)
        assert held_call(redis_client, timeout_s=30) == attempt.call_id
        assert redis_client.get(key("sip", "call", str(attempt.call_id))) == sip.process_id
        time.sleep(1)  # ringing

        # The ring timeout passes: the ring-timeout job runs on a real rq worker.
        assert isinstance(checkins.clock, ManualClock)
        checkins.clock.advance(checkins.ring_timeout + timedelta(seconds=1))
        drain(checkins.jobs, checkins.clock)

        result = phone.result(timeout=60)
    assert result.returncode == 0, result.output[-3000:]  # CANCEL received, 487 sent, ACKed
    assert concluded(checkins, attempt.id).outcome == "no_answer"


def test_an_overflow_sends_a_waiting_caller_to_the_number_through_the_trunk(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    with sipp_phone("number_answer", sipp_dir, timeout_s=90) as number:
        sip = start_sip(AMPARO_SIP_TRUNK=number.trunk)
        caller = run_sipp(
            "caller_to_queue", sip.address, hotline.line_number, sipp_dir, background=True
        )
        assert isinstance(caller, subprocess.Popen)
        call_id = held_call(redis_client)
        time.sleep(3)

        # What routing's sweeper does when a queue's wait is too long (SipRedirector).
        SipRedirector(redis_client).redirect_to_number(call_id, "+34900000002")

        answered = number.result(timeout=120)
        caller.communicate(timeout=60)
    assert answered.returncode == 0, answered.output[-3000:]
    kinds = [e.kind for e in events_of(db_sessions, call_id, until="sip_caller_hung_up")]
    assert "sip_bridged" in kinds and "sip_caller_hung_up" in kinds
