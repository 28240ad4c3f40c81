"""A check-in call dialled through Twilio that nobody answers: the final status callback
(busy, no-answer...) concludes the attempt at once, with that outcome, and the ladder goes on;
stale callbacks and answered calls do not count as unanswered."""

from __future__ import annotations

import json
import logging
import secrets
import time as wall_clock
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse

from app import create_app
from checkins import jobs
from checkins.context import CheckinContext
from checkins.scheduling import attempt_job_id
from routing import AgentState
from runtime import Runtime, build_runtime
from settings import Settings
from store.clock import ManualClock
from store.records import CallEvent as StoredEvent
from store.records import CheckinAttempt
from store.vocabulary import RiskLevel
from tests.harness.hotline import Hotline, make_hotline
from tests.harness.twilio_driver import ACCOUNT_SID, DrivenCall, FlaskTransport, TwilioDriver
from tests.integration.checkins.calls import ALL_DAY, let_it_ring, start_slot
from tests.integration.checkins.helpers import (
    attempts_of,
    deactivate_other_plans,
    drain,
    future_monday,
    scheduled_job_ids,
)
from tests.integration.telephony.twilio.conftest import (
    NEUTRAL_CALLER_ID,
    PUBLIC_BASE_URL,
    twilio_settings,
)

CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls"


@dataclass
class PlacedCall:
    sid: str
    form: dict[str, str]


class TwilioRestStandIn(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's REST API as the ``twilio`` client sees it: creating a call answers 201 with a
    new CallSid; updating one (cancelling the ringing) answers 200. Each request is noted."""

    def __init__(self) -> None:
        super().__init__()
        self.placed: list[PlacedCall] = []
        self.updated: list[tuple[str, dict[str, str]]] = []

    def request(
        self, method: str, url: str, *args: Any, data: Any = None, **kwargs: Any
    ) -> TwilioResponse:
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
        form = {str(k): str(v) for k, v in dict(data or {}).items()}
        if method.upper() == "POST" and path == f"{CALLS}.json":
            sid = "CA" + secrets.token_hex(16)
            self.placed.append(PlacedCall(sid, form))
            body = {"sid": sid, "account_sid": ACCOUNT_SID, "status": "queued"}
            return TwilioResponse(201, _json(body))
        if method.upper() == "POST" and path.startswith(f"{CALLS}/"):
            sid = path.rsplit("/", 1)[-1].removesuffix(".json")
            self.updated.append((sid, form))
            body = {"sid": sid, "account_sid": ACCOUNT_SID, "status": form.get("Status", "")}
            return TwilioResponse(200, _json(body))
        return TwilioResponse(404, _json({"code": 20404, "message": "not found"}))


def _json(body: dict[str, Any]) -> str:
    return json.dumps(body)


@dataclass
class Dialled:
    runtime: Runtime
    ctx: CheckinContext
    clock: ManualClock
    rest: TwilioRestStandIn
    phone: TwilioDriver


@pytest.fixture
def hotline(db_sessions: sessionmaker[Session]) -> Hotline:
    deactivate_other_plans(db_sessions)  # the test database lives for the whole session
    return make_hotline(db_sessions)


@pytest.fixture
def dialled(settings: Settings, hotline: Hotline, redis_client: redis.Redis) -> Iterator[Dialled]:
    """A runtime that dials check-ins through Twilio (its REST API stood in for), whose
    check-in context runs on a test clock with its jobs installed for burst workers."""
    runtime = build_runtime(twilio_settings(settings, outbound_cps=50.0))
    runtime.router.set_agent_state(hotline.agents["ana"], AgentState.BREAK, wall_clock.time())
    rest = TwilioRestStandIn()
    voice = runtime.twilio_voice
    assert voice is not None
    voice.client.http_client = rest
    clock = ManualClock(datetime.combine(future_monday(), time(10, 0), tzinfo=UTC))
    ctx = runtime.checkins
    ctx.clock = clock
    jobs.install(ctx)
    app: Flask = create_app(runtime=runtime)
    phone = TwilioDriver(FlaskTransport(app.test_client()), PUBLIC_BASE_URL)
    try:
        yield Dialled(runtime, ctx, clock, rest, phone)
    finally:
        runtime.close()


def ringing(dialled: Dialled, hotline: Hotline) -> tuple[CheckinAttempt, DrivenCall]:
    """A high-risk check-in is due: Twilio is asked to ring her; the call as Twilio sees it."""
    attempt = start_slot(dialled.ctx, dialled.clock, hotline, risk=RiskLevel.ALTO, windows=ALL_DAY)
    assert attempt.call_id is not None and attempt.outcome is None
    placed = dialled.rest.placed[-1]
    assert placed.form["To"] == hotline.beneficiary_number
    assert dialled.runtime.twilio_calls.sid_for(attempt.call_id) == placed.sid
    call = DrivenCall(
        dialled.phone,
        to=hotline.beneficiary_number,
        from_=NEUTRAL_CALLER_ID,
        status_url=placed.form["StatusCallback"],
        fallback_url=placed.form["FallbackUrl"],
        direction="outbound-api",
        sid=placed.sid,
    )
    return attempt, call


def attempt_row(dialled: Dialled, attempt_id: str) -> CheckinAttempt:
    with dialled.ctx.sessions() as db:
        row = db.get(CheckinAttempt, attempt_id)
    assert row is not None
    return row


def carrier_statuses(dialled: Dialled, call_id: str) -> list[tuple[str, bool]]:
    with dialled.runtime.sessions() as db:
        events = db.scalars(
            select(StoredEvent)
            .where(StoredEvent.call_id == call_id, StoredEvent.kind == "carrier_status")
            .order_by(StoredEvent.seq)
        )
        return [(str(e.data["status"]), bool(e.data["stale"])) for e in events]


def test_a_busy_line_concludes_the_attempt_at_once_and_the_ladder_goes_on(
    dialled: Dialled, hotline: Hotline
) -> None:
    attempt, call = ringing(dialled, hotline)
    reply = call.send_status("busy", sequence=1)
    assert reply is not None and reply.status == 200
    first = attempt_row(dialled, attempt.id)
    assert first.outcome == "busy" and first.ended_at is not None
    first_try, second = attempts_of(dialled.ctx.sessions, hotline.beneficiary_id)
    assert first_try.id == attempt.id
    assert second.attempt_no == 2 and second.outcome is None and second.call_id is None
    # The high-risk ladder: the second try 10 minutes after the first.
    assert first.started_at is not None
    assert second.scheduled_at - first.started_at == timedelta(minutes=10)
    assert attempt_job_id(second.id, second.scheduled_at) in scheduled_job_ids(dialled.ctx.jobs)

    call.send_status("busy", sequence=1)  # Twilio retries the callback: nothing more happens
    let_it_ring(dialled.ctx, dialled.clock)  # the ring-timeout job finds it concluded
    assert attempt_row(dialled, attempt.id).outcome == "busy"
    assert len(attempts_of(dialled.ctx.sessions, hotline.beneficiary_id)) == 2
    assert dialled.rest.updated == [], "no ringing left to cancel"

    dialled.clock.set(second.scheduled_at)
    drain(dialled.ctx.jobs, dialled.clock)
    assert attempt_row(dialled, second.id).call_id is not None
    assert len(dialled.rest.placed) == 2, "the second try is dialled through Twilio"


def test_no_answer_concludes_the_attempt_as_no_answer(dialled: Dialled, hotline: Hotline) -> None:
    attempt, call = ringing(dialled, hotline)
    reply = call.send_status("no-answer", sequence=1)
    assert reply is not None and reply.status == 200
    assert attempt_row(dialled, attempt.id).outcome == "no_answer"
    assert [a.attempt_no for a in attempts_of(dialled.ctx.sessions, hotline.beneficiary_id)] == [
        1,
        2,
    ]


def test_a_stale_unanswered_callback_concludes_nothing(dialled: Dialled, hotline: Hotline) -> None:
    attempt, call = ringing(dialled, hotline)
    assert attempt.call_id is not None
    call.send_status("ringing", sequence=2)
    reply = call.send_status("busy", sequence=1)  # older than what Twilio already reported
    assert reply is not None and reply.status == 200
    assert carrier_statuses(dialled, attempt.call_id) == [("ringing", False), ("busy", True)]
    assert attempt_row(dialled, attempt.id).outcome is None
    assert len(attempts_of(dialled.ctx.sessions, hotline.beneficiary_id)) == 1
    let_it_ring(dialled.ctx, dialled.clock)  # the ring timeout remains the safety net
    assert attempt_row(dialled, attempt.id).outcome == "no_answer"


def test_the_completed_callback_of_an_answered_call_is_not_an_unanswered_one(
    dialled: Dialled, hotline: Hotline
) -> None:
    attempt, call = ringing(dialled, hotline)
    answered = dialled.phone.answer_outbound(
        call.sid,
        call.driver.url(f"/twilio/voice/outbound-answered?{urlencode({'call': attempt.call_id})}"),
        to=hotline.beneficiary_number,
        from_=NEUTRAL_CALLER_ID,
    )
    assert answered.where == "gather"
    reply = call.send_status("completed", sequence=3)  # she hung up during the greeting
    assert reply is not None and reply.status == 200
    outcome = attempt_row(dialled, attempt.id).outcome
    assert outcome == "caller_hung_up", "the IVR's outcome, not an unanswered one"


def test_a_failing_report_is_logged_and_twilio_still_gets_its_answer(
    dialled: Dialled,
    hotline: Hotline,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_args: object) -> bool:
        raise RuntimeError(f"database down while looking at {hotline.beneficiary_number}")

    monkeypatch.setattr("runtime.report_unanswered", broken)
    attempt, call = ringing(dialled, hotline)
    assert attempt.call_id is not None
    with caplog.at_level(logging.ERROR, logger="telephony.twilio.services"):
        reply = call.send_status("busy", sequence=1)
    assert reply is not None and reply.status == 200
    assert carrier_statuses(dialled, attempt.call_id) == [("busy", False)]
    messages = [r.getMessage() for r in caplog.records if r.name == "telephony.twilio.services"]
    assert any(attempt.call_id in m and "RuntimeError" in m for m in messages)
    assert not [m for m in messages if hotline.beneficiary_number in m]
    # The attempt still ends (the switchboard's hangup) and the ladder goes on.
    assert attempt_row(dialled, attempt.id).outcome == "caller_hung_up"
    assert len(attempts_of(dialled.ctx.sessions, hotline.beneficiary_id)) == 2
