"""Status callbacks in any order, recordings handed to the archive, check-in calls answered by a
person or a machine, and the agents' softphone token."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
import redis
from flask import Flask
from sqlalchemy import select

from app import create_app
from calls.switchboard import call_id_for
from locales.prompts import prompt_text
from recordings_policy.jobs import STORE_QUEUE
from runtime import Runtime, build_runtime
from settings import Settings
from store import live_state
from store.records import Call, Recording
from store.records import CallEvent as StoredEvent
from store.vocabulary import Channel
from telephony.twilio.calls import TwilioCalls
from tests.harness.hotline import Hotline
from tests.harness.signin import sign_in
from tests.harness.twilio_driver import FlaskTransport, TwilioDriver
from tests.integration.telephony.twilio.conftest import PUBLIC_BASE_URL, twilio_settings

CALLER = "+34699555000"


def stored_events(runtime: Runtime, call_id: str, kind: str) -> list[StoredEvent]:
    with runtime.sessions() as db:
        return list(
            db.scalars(
                select(StoredEvent)
                .where(StoredEvent.call_id == call_id, StoredEvent.kind == kind)
                .order_by(StoredEvent.seq)
            )
        )


def test_status_callbacks_out_of_order_never_bring_an_ended_call_back(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime
) -> None:
    call = phone.call(hotline.line_number, CALLER).press("1").press("0")
    call_id = call_id_for(Channel.TWILIO, call.sid)
    call.send_status("completed", sequence=3)
    call.send_status("in-progress", sequence=2)  # late, older
    call.send_status("ringing", sequence=1)
    call.send_status("completed", sequence=3)  # re-delivered
    statuses = [
        (e.data["status"], e.data["stale"])
        for e in stored_events(runtime, call_id, "carrier_status")
    ]
    assert statuses == [("completed", False), ("in-progress", True), ("ringing", True)]
    assert len(stored_events(runtime, call_id, "hangup")) == 1
    with runtime.sessions() as db:
        row = db.get(Call, call_id)
        assert row is not None and row.status == "abandoned"


def test_a_finished_recording_is_registered_once_and_its_store_job_queued(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime
) -> None:
    call = phone.call(hotline.line_number, CALLER)
    call_id = call_id_for(Channel.TWILIO, call.sid)
    url = f"{PUBLIC_BASE_URL}/twilio/voice/recording?call={call_id}"
    recording_sid = "RE" + "a1" * 16
    account = f"https://api.twilio.com/2010-04-01/Accounts/{phone.account_sid}"
    params = {
        "AccountSid": phone.account_sid,
        "CallSid": call.sid,
        "RecordingSid": recording_sid,
        "RecordingStatus": "completed",
        "RecordingDuration": "61",
        "RecordingChannels": "2",
        "RecordingSource": "DialVerb",
        "RecordingUrl": f"{account}/Recordings/{recording_sid}",
    }
    assert phone.post(url, params).status == 200
    assert phone.post(url, params).status == 200  # re-delivered
    with runtime.sessions() as db:
        rows = list(db.scalars(select(Recording).where(Recording.call_id == call_id)))
    assert len(rows) == 1 and rows[0].external_id == params["RecordingSid"]
    queue = live_state.job_queue(runtime.jobs, STORE_QUEUE)
    assert queue.count == 1


def test_a_call_the_ivr_decided_to_record_is_marked_for_recording_at_the_bridge(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime
) -> None:
    """ES lines record inbound calls after a notice: nothing is recorded during the keypad
    part, the call is marked so the conversation with a human is recorded."""
    call = phone.call(hotline.line_number, CALLER)
    calls = TwilioCalls(runtime.redis, runtime.sessions)
    call_id = call_id_for(Channel.TWILIO, call.sid)
    assert not calls.recording(call_id)
    call.press("1")
    assert prompt_text("recording.notice", "es") in call.said()
    assert calls.recording(call_id)
    assert calls.sid_for(call_id) == call.sid


# -- outbound check-in calls ---------------------------------------------------------------------


def prepared_checkin(runtime: Runtime, hotline: Hotline) -> str:
    """What the check-ins service does before dialling: open the outbound call."""
    return runtime.switchboard.open_outbound(
        line_id=hotline.line_id,
        beneficiary_id=hotline.beneficiary_id,
        to_number=hotline.beneficiary_number,
        channel=Channel.TWILIO,
        at=time.time(),
    )


@pytest.fixture
def checkin_runtime(
    settings: Settings, hotline: Hotline, redis_client: redis.Redis
) -> Iterator[Runtime]:
    runtime = build_runtime(twilio_settings(settings))
    try:
        yield runtime
    finally:
        runtime.close()


def outbound_url(call_id: str) -> str:
    return f"{PUBLIC_BASE_URL}/twilio/voice/outbound-answered?call={call_id}"


def test_an_answering_machine_is_hung_up_on_without_a_word(
    checkin_runtime: Runtime, hotline: Hotline
) -> None:
    call_id = prepared_checkin(checkin_runtime, hotline)
    phone = TwilioDriver(
        FlaskTransport(create_app(runtime=checkin_runtime).test_client()), PUBLIC_BASE_URL
    )
    call = phone.answer_outbound(
        "CA" + "b2" * 16,
        outbound_url(call_id),
        to=hotline.beneficiary_number,
        from_="+34900000100",
        answered_by="machine_start",
    )
    assert call.where == "ended" and call.heard == []
    assert "machine" in [e.kind for e in checkin_runtime.call_log.events(call_id)]


def test_a_person_answering_hears_the_cover_greeting_and_her_pin_goes_only_to_the_check(
    checkin_runtime: Runtime, hotline: Hotline
) -> None:
    call_id = prepared_checkin(checkin_runtime, hotline)
    phone = TwilioDriver(
        FlaskTransport(create_app(runtime=checkin_runtime).test_client()), PUBLIC_BASE_URL
    )
    call = phone.answer_outbound(
        "CA" + "c3" * 16,
        outbound_url(call_id),
        to=hotline.beneficiary_number,
        from_="+34900000100",
    )
    assert call.where == "gather"
    assert prompt_text("checkin.greeting", "es") in call.said()
    assert call.pending is not None
    call.press("2468")  # her PIN (tests/harness/hotline.py)
    assert prompt_text("checkin.menu", "es") in call.said()
    for event in checkin_runtime.call_log.events(call_id):
        assert "2468" not in str(event.data)


# -- softphone tokens ------------------------------------------------------------------------------


def signed_in(app: Flask, agent_id: str) -> tuple[object, str]:
    client = app.test_client()
    return client, sign_in(client, app.extensions["amparo"].sessions, agent_id)


def test_a_signed_in_agent_gets_a_short_lived_voice_token_for_her_own_identity(
    settings: Settings, hotline: Hotline, redis_client: redis.Redis
) -> None:
    runtime = build_runtime(
        twilio_settings(
            settings,
            twilio_api_key="SK" + "d4" * 16,
            twilio_api_secret="api-secret-for-tests-only-not-a-real-one",
            twilio_twiml_app_sid="AP" + "e5" * 16,
        )
    )
    try:
        app = create_app(runtime=runtime)
        agent = hotline.agents["ana"]
        client, csrf = signed_in(app, agent)
        refused = client.post("/console/api/voice-token")  # type: ignore[attr-defined]
        assert refused.status_code == 400
        reply = client.post("/console/api/voice-token", headers={"X-CSRF-Token": csrf})  # type: ignore[attr-defined]
        assert reply.status_code == 200
        body = reply.json
        claims = jwt.decode(
            body["token"], "api-secret-for-tests-only-not-a-real-one", algorithms=["HS256"]
        )
        assert body["identity"] == agent and claims["grants"]["identity"] == agent
        voice = claims["grants"]["voice"]
        assert voice["incoming"]["allow"] is True
        assert voice["outgoing"]["application_sid"] == "AP" + "e5" * 16
        assert 0 < claims["exp"] - claims["nbf"] <= 3600
        assert reply.headers["Cache-Control"] == "no-store, private"
    finally:
        runtime.close()


def test_voice_tokens_need_a_signed_in_agent_and_a_configured_api_key(
    app: Flask, hotline: Hotline
) -> None:
    anonymous = app.test_client().post("/console/api/voice-token")
    assert anonymous.status_code == 401
    client, csrf = signed_in(app, hotline.agents["ana"])
    reply = client.post("/console/api/voice-token", headers={"X-CSRF-Token": csrf})  # type: ignore[attr-defined]
    assert reply.status_code == 503
    assert reply.json["error_id"] == "twilio_not_configured"
