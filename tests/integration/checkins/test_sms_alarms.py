"""A text to the line from a device or a registered beneficiary is an alarm; the answer is
always an empty TwiML response."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from app import create_app
from checkins.context import CheckinContext
from routing.views import open_escalations
from runtime import Runtime
from settings import Settings
from store.alarms import DeviceAlarm, RejectedDeviceMessage
from tests.harness.hotline import Hotline

TOKEN = "test-twilio-auth-token"
BASE = "https://amparo.example.org"
EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


@pytest.fixture
def client(settings: Settings, runtime: Runtime, ctx: CheckinContext) -> FlaskClient:
    runtime.settings = settings.with_overrides(
        twilio_auth_token=TOKEN, public_base_url=BASE, outbound_cps=50.0
    )
    return create_app(runtime=runtime).test_client()


def text_message(client: FlaskClient, sender: str, body: str, sid: str, token: str = TOKEN) -> Any:
    form = {"MessageSid": sid, "From": sender, "To": "+34910000000", "Body": body}
    signature = RequestValidator(token).compute_signature(f"{BASE}/twilio/sms/incoming", form)
    return client.post("/twilio/sms/incoming", data=form, headers={"X-Twilio-Signature": signature})


def alarms_of(ctx: CheckinContext, hotline: Hotline) -> list[DeviceAlarm]:
    with ctx.sessions() as db:
        return list(
            db.scalars(
                select(DeviceAlarm).where(DeviceAlarm.beneficiary_id == hotline.beneficiary_id)
            )
        )


def test_a_text_from_the_device_with_a_location_is_an_assault_alarm_answered_with_nothing(
    runtime: Runtime, ctx: CheckinContext, client: FlaskClient, hotline: Hotline
) -> None:
    answer = text_message(client, hotline.device_number, "SOS 40.4168,-3.7038", "SM0001")
    assert answer.status_code == 200 and answer.data == EMPTY
    [alarm] = alarms_of(ctx, hotline)
    assert (alarm.source, alarm.alarm_type, alarm.device_id) == (
        "sms",
        "assault",
        hotline.device_id,
    )
    assert float(alarm.latitude or 0) == pytest.approx(40.4168)
    ladders = open_escalations(runtime.redis, ctx.clock.now().timestamp())
    assert f"alarm:{alarm.id}" in [ladder.escalation_id for ladder in ladders]


def test_a_maps_link_from_her_own_phone_with_a_keyword_sets_the_alarm_type(
    ctx: CheckinContext, client: FlaskClient, hotline: Hotline
) -> None:
    body = "Prealarma https://maps.google.com/?q=40.41%2C-3.70"
    assert text_message(client, hotline.beneficiary_number, body, "SM0002").status_code == 200
    [alarm] = alarms_of(ctx, hotline)
    assert alarm.alarm_type == "prealarm"
    assert float(alarm.longitude or 0) == pytest.approx(-3.70)


def test_the_same_text_delivered_twice_is_one_alarm(
    ctx: CheckinContext, client: FlaskClient, hotline: Hotline
) -> None:
    for _ in range(2):
        text_message(client, hotline.device_number, "geo:40.1,-3.2", "SM0003")
    assert len(alarms_of(ctx, hotline)) == 1


def test_a_badly_signed_request_is_refused(
    ctx: CheckinContext, client: FlaskClient, hotline: Hotline
) -> None:
    answer = text_message(client, hotline.device_number, "40.1,-3.2", "SM0004", token="wrong")
    assert answer.status_code == 403
    assert alarms_of(ctx, hotline) == []


def test_a_text_from_an_unknown_number_is_kept_for_audit_and_nothing_else(
    ctx: CheckinContext, client: FlaskClient, hotline: Hotline
) -> None:
    answer = text_message(client, "+34699000111", "40.1,-3.2", "SM0005")
    assert answer.status_code == 200 and answer.data == EMPTY
    assert alarms_of(ctx, hotline) == []
    with ctx.sessions() as db:
        kept = db.scalars(
            select(RejectedDeviceMessage).where(
                RejectedDeviceMessage.reason == "sms_unknown_sender"
            )
        ).all()
    assert kept and kept[-1].raw_body == "40.1,-3.2"
