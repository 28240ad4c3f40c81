"""Signed callbacks that cannot be what Twilio sends get 400 with an error id (a retry cannot
mend them); a well-formed one we cannot take gets 503 (Twilio retries), and voice webhooks
still send the caller to the overflow whatever they carry."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from calls.switchboard import call_id_for
from runtime import Runtime, build_runtime
from settings import Settings
from store.vocabulary import Channel
from tests.harness.hotline import Hotline
from tests.harness.services import RedisProcess
from tests.harness.twilio_driver import TwilioDriver
from tests.integration.telephony.twilio.conftest import PUBLIC_BASE_URL, twilio_settings
from tests.integration.telephony.twilio.test_twilio_fail_safe import driver_for

STATUS = f"{PUBLIC_BASE_URL}/twilio/voice/status"
RECORDING = f"{PUBLIC_BASE_URL}/twilio/voice/recording"


def call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def status_params(sid: str, **changes: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": sid,
        "CallStatus": "completed",
        "SequenceNumber": "3",
        "CallbackSource": "call-progress-events",
    }
    params.update(changes)
    return {name: value for name, value in params.items() if value is not None}


@pytest.mark.parametrize(
    ("url", "changes", "error_id"),
    [
        (STATUS, {"CallSid": None}, "twilio.call_sid_missing"),
        (STATUS, {"CallSid": ""}, "twilio.call_sid_missing"),
        (STATUS, {"CallSid": "CA' OR 1=1 --"}, "twilio.call_sid_invalid"),
        (STATUS, {"CallSid": "CA" + "f" * 200}, "twilio.call_sid_invalid"),
        (STATUS, {"CallStatus": None}, "twilio.call_status_invalid"),
        (STATUS, {"CallStatus": "exploded"}, "twilio.call_status_invalid"),
        (STATUS, {"SequenceNumber": "three"}, "twilio.sequence_invalid"),
        (STATUS, {"SequenceNumber": "-4"}, "twilio.sequence_invalid"),
        (STATUS, {"SequenceNumber": "9" * 40}, "twilio.sequence_invalid"),
        (f"{STATUS}?leg=martian", {}, "twilio.leg_invalid"),
        (f"{STATUS}?call={'x' * 300}", {}, "twilio.call_invalid"),
        (RECORDING, {"CallSid": None, "RecordingStatus": "completed"}, "twilio.call_sid_missing"),
        (
            RECORDING,
            {"RecordingStatus": "completed", "RecordingSid": "RE-nope"},
            "twilio.recording_sid_invalid",
        ),
    ],
)
def test_a_signed_callback_twilio_never_sends_gets_400_and_its_error_id(
    phone: TwilioDriver, url: str, changes: dict[str, str | None], error_id: str
) -> None:
    reply = phone.post(url, status_params(call_sid(), **changes))
    assert reply.status == 400
    body = json.loads(reply.body)
    assert body["error_id"] == error_id and body["message"]


def test_a_well_formed_status_callback_is_taken(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime
) -> None:
    call = phone.call(hotline.line_number, "+34699555111")
    reply = call.send_status("ringing")
    assert reply is not None and reply.status == 200


@pytest.fixture
def redis_down_runtime(
    settings: Settings, hotline: Hotline, redis_process: RedisProcess
) -> Iterator[Runtime]:
    runtime = build_runtime(twilio_settings(settings, redis_url=redis_process.url))
    try:
        yield runtime
    finally:
        runtime.close()


def test_with_redis_down_a_good_callback_gets_503_and_a_malformed_one_still_400(
    redis_down_runtime: Runtime, redis_process: RedisProcess
) -> None:
    phone = driver_for(redis_down_runtime)
    redis_process.stop()
    sid = call_sid()
    good = phone.post(f"{STATUS}?call={call_id_for(Channel.TWILIO, sid)}", status_params(sid))
    assert good.status == 503  # "we are down, retry"
    bad = phone.post(STATUS, status_params(sid, CallStatus="exploded"))
    assert bad.status == 400


def test_a_voice_webhook_without_a_call_sid_still_reaches_the_overflow(
    phone: TwilioDriver, hotline: Hotline
) -> None:
    reply = phone.post(
        f"{PUBLIC_BASE_URL}/twilio/voice/incoming",
        {"AccountSid": "AC" + "0" * 32, "To": hotline.line_number, "From": "+34699555222"},
    )
    assert reply.status == 200 and "<Dial" in reply.body
