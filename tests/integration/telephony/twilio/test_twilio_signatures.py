"""Only Twilio may drive a call: signatures checked against the public URL, retries act once."""

from __future__ import annotations

import hashlib
import json

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import create_app
from calls.switchboard import call_id_for
from runtime import Runtime, build_runtime
from settings import Settings
from store.records import Call
from store.records import CallEvent as StoredEvent
from store.vocabulary import Channel
from telephony.twilio.links import CALLBACK_OVERRIDES, HoldMode, Leg, Links
from tests.harness.hotline import Hotline
from tests.harness.twilio_driver import (
    AUTH_TOKEN,
    DrivenCall,
    FlaskTransport,
    TwilioDriver,
)
from tests.integration.telephony.twilio.conftest import PUBLIC_BASE_URL, twilio_settings

INCOMING = f"{PUBLIC_BASE_URL}/twilio/voice/incoming"


def incoming_params(phone: TwilioDriver, hotline: Hotline, sid: str) -> dict[str, str]:
    call = DrivenCall(
        phone,
        to=hotline.line_number,
        from_="+34699000222",
        status_url=None,
        fallback_url=None,
        sid=sid,
    )
    return call._params("ringing")


def calls_stored(runtime: Runtime, sid: str) -> int:
    with runtime.sessions() as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(Call)
                .where(Call.id == call_id_for(Channel.TWILIO, sid))
            )
            or 0
        )


def forged(params: dict[str, str], url: str = INCOMING, token: str = AUTH_TOKEN) -> str:
    return TwilioDriver(FlaskTransport(None), PUBLIC_BASE_URL, auth_token=token).sign(url, params)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("valid", 200),
        ("missing", 403),
        ("wrong_token", 403),
        ("wrong_url", 403),
        ("internal_url", 403),
        ("tampered_body", 403),
    ],
)
def test_only_a_request_signed_by_twilio_over_the_public_url_is_served(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime, case: str, expected: int
) -> None:
    sid = f"CA{case:0>32}"[:2] + hashlib.md5(case.encode()).hexdigest()  # noqa: S324
    params = incoming_params(phone, hotline, sid)
    signature = forged(params)
    sent = dict(params)
    sign = True
    if case == "missing":
        sign = False
    elif case == "wrong_token":
        signature = forged(params, token="not-our-token")
    elif case == "wrong_url":
        signature = forged(params, url="https://attacker.example.net/twilio/voice/incoming")
    elif case == "internal_url":
        # Signed for the address behind the proxy, not the public one Twilio requests.
        signature = forged(params, url="http://127.0.0.1:5000/twilio/voice/incoming")
    elif case == "tampered_body":
        sent["From"] = "+34600999999"
    reply = phone.post(INCOMING, sent, signature=signature, sign=sign)
    assert reply.status == expected
    assert calls_stored(runtime, sid) == (1 if expected == 200 else 0), "nothing stored"
    if expected == 403:
        assert "<Response" not in reply.body


def test_a_signed_json_body_is_checked_with_its_sha256(app: Flask) -> None:
    body = json.dumps({"CallSid": "CA" + "1" * 32, "RecordingStatus": "failed"})
    digest = hashlib.sha256(body.encode()).hexdigest()
    url = f"{PUBLIC_BASE_URL}/twilio/voice/recording?bodySHA256={digest}"
    signer = TwilioDriver(FlaskTransport(None), PUBLIC_BASE_URL)
    signature = signer.sign(url, {})
    client = app.test_client()
    ok = client.post(
        f"/twilio/voice/recording?bodySHA256={digest}",
        data=body,
        content_type="application/json",
        headers={"X-Twilio-Signature": signature},
    )
    assert ok.status_code == 200
    tampered = client.post(
        f"/twilio/voice/recording?bodySHA256={digest}",
        data=body.replace("failed", "completed"),
        content_type="application/json",
        headers={"X-Twilio-Signature": signature},
    )
    assert tampered.status_code == 403


def test_without_an_auth_token_every_webhook_is_refused(
    settings: Settings, hotline: Hotline, redis_client: object
) -> None:
    runtime = build_runtime(
        twilio_settings(settings, twilio_auth_token=None, twilio_account_sid=None)
    )
    try:
        phone = TwilioDriver(
            FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL
        )
        sid = "CA" + "7" * 32
        reply = phone.post(INCOMING, incoming_params(phone, hotline, sid))
        assert reply.status == 403
        assert calls_stored(runtime, sid) == 0
    finally:
        runtime.close()


def digit_events(runtime: Runtime, call: DrivenCall) -> int:
    with runtime.sessions() as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(StoredEvent)
                .where(
                    StoredEvent.call_id == call_id_for(Channel.TWILIO, call.sid),
                    StoredEvent.kind == "digits",
                )
            )
            or 0
        )


def test_a_retried_gather_answer_acts_once_and_answers_the_same_document(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime
) -> None:
    call = phone.call(hotline.line_number, "+34699000333").press("2")
    first = phone.exchanges[-1].reply
    again = call.retry_last()
    assert again.status == 200 and again.body == first.body
    assert digit_events(runtime, call) == 1


def test_a_gather_answer_and_its_redirect_for_the_same_turn_act_once(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime
) -> None:
    """Twilio's retry without the same idempotency token (CallSid + turn still match)."""
    call = phone.call(hotline.line_number, "+34699000444").press("1")
    url, params, _token = call.last or ("", {}, "")
    second = phone.post(url, params)  # a fresh idempotency token
    assert second.body == phone.exchanges[-2].reply.body
    silence_url = url + "&silence=1"
    late = phone.post(silence_url, {k: v for k, v in params.items() if k != "Digits"})
    assert late.body == second.body
    assert digit_events(runtime, call) == 1
    with runtime.sessions() as db:
        silences = db.scalar(
            select(func.count())
            .select_from(StoredEvent)
            .where(
                StoredEvent.call_id == call_id_for(Channel.TWILIO, call.sid),
                StoredEvent.kind == "silence",
            )
        )
    assert silences == 0


def test_a_retried_incoming_call_opens_one_call(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime
) -> None:
    call = phone.call(hotline.line_number, "+34699000555")
    first = phone.exchanges[-1].reply.body
    assert call.retry_last().body == first
    assert calls_stored(runtime, call.sid) == 1


def test_callback_urls_ask_twilio_to_retry_within_its_documented_bounds() -> None:
    links = Links(PUBLIC_BASE_URL).for_call("c0ffee" * 5 + "00", None)
    for url in (links.status(), links.status(Leg.AGENT), links.recording()):
        address, _, fragment = url.partition("#")
        assert "#" not in address and fragment
        overrides = dict(pair.split("=") for pair in fragment.split("&"))
        assert overrides["rp"] == "all"  # 5xx, refused connections and timeouts
        assert 1 <= int(overrides["rc"]) <= 5
        assert 100 <= int(overrides["ct"]) <= 10_000
        assert 100 <= int(overrides["rt"]) <= 15_000
        assert int(overrides["rt"]) <= int(overrides["tt"]) <= 15_000
    assert "#" not in links.step() and "#" not in links.queue_wait("es", HoldMode.QUIET)


@pytest.mark.parametrize(("fragment", "expected"), [("", 200), (CALLBACK_OVERRIDES, 200)])
def test_a_callback_signed_with_or_without_its_overrides_fragment_is_accepted(
    phone: TwilioDriver, fragment: str, expected: int
) -> None:
    url = f"{PUBLIC_BASE_URL}/twilio/voice/recording"
    params = {"CallSid": "CA" + "2" * 32, "RecordingStatus": "failed"}
    reply = phone.post(url, params, signature=phone.sign(url + fragment, params))
    assert reply.status == expected


def test_a_callback_signed_with_another_fragment_is_refused(phone: TwilioDriver) -> None:
    url = f"{PUBLIC_BASE_URL}/twilio/voice/recording"
    params = {"CallSid": "CA" + "2" * 32, "RecordingStatus": "failed"}
    reply = phone.post(url, params, signature=phone.sign(url + "#rc=0", params))
    assert reply.status == 403
