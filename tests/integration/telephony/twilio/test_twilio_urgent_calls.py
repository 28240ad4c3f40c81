"""Off the console over Twilio (the real ``twilio`` client on Prism, and the webhook driver
answering as Twilio does): an urgent-team member who is not signed in is phoned, hears a fixed
alert with no personal data, and takes the escalation with 1; she is then put through to the
woman (her device is dialled for an alarm without a call; her live call's conference is
joined otherwise). After the whole ladder the line's urgent number hears the alarm's type and
location. Nothing is ever sent to the woman's phone."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from calls.switchboard import call_id_for
from routing.state import routing_key
from runtime import Runtime
from store.alarms import DeviceAlarm
from store.models import Agent, Device
from store.records import AuditEntry, Call, Escalation
from store.vocabulary import Channel
from tests.harness.hotline import Hotline
from tests.harness.prism import PrismMock
from tests.harness.twilio_driver import DrivenCall, FlaskTransport, TwilioDriver
from tests.integration.checkins.helpers import alarm_body, signed_headers
from tests.integration.telephony.twilio.conftest import (
    ACCOUNT,
    NEUTRAL_CALLER_ID,
    PUBLIC_BASE_URL,
    REJECTED,
    NotingHttpClient,
)

URGENT1_PHONE = "+34600111001"
URGENT2_PHONE = "+34600111002"


@pytest.fixture
def urgent(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline
) -> Iterator[tuple[Runtime, NotingHttpClient, Flask]]:
    runtime, http = rest_runtime
    with runtime.sessions() as db, db.begin():
        for login, number in (("urgent1", URGENT1_PHONE), ("urgent2", URGENT2_PHONE)):
            db.execute(
                update(Agent).where(Agent.id == hotline.agents[login]).values(on_call_number=number)
            )
    runtime.router.set_agent_state(hotline.agents["ana"], "break", time.time())
    yield runtime, http, create_app(runtime=runtime)


def _device_alarm(app: Flask, sessions: sessionmaker[Session], hotline: Hotline) -> str:
    with sessions() as db:
        device = db.get(Device, hotline.device_id)
        assert device is not None
        serial = device.serial
    body = alarm_body(f"A-{time.time_ns()}", serial)
    answer = app.test_client().post(
        "/api/devices/alarm", data=body, headers=signed_headers(serial, hotline.device_secret, body)
    )
    assert answer.status_code == 202
    with sessions() as db:
        alarm = db.scalar(
            select(DeviceAlarm).where(DeviceAlarm.beneficiary_id == hotline.beneficiary_id)
        )
        assert alarm is not None and alarm.escalation_id is not None
        return alarm.escalation_id


def _placed_to(http: NotingHttpClient, number: str) -> list[dict[str, list[str]]]:
    return [
        form
        for method, path, form, status in http.sent
        if (method, path) == ("POST", f"{ACCOUNT}/Calls.json") and form["To"] == [number]
    ]


def _answer(phone: TwilioDriver, form: dict[str, list[str]]) -> DrivenCall:
    """Twilio requests the answered call's URL. (Prism answers every REST request with the same
    example CallSid, so the driver gives each call its own, as Twilio does.)"""
    url = form["Url"][0]
    sid = "CA" + url.split("call=")[1]
    return phone.answer_outbound(sid, url, to=form["To"][0], from_=form["From"][0])


def test_an_alarm_phones_the_member_off_the_console_who_takes_it_and_is_put_through_to_her_device(
    urgent: tuple[Runtime, NotingHttpClient, Flask], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http, app = urgent
    escalation_id = _device_alarm(app, runtime.sessions, hotline)

    [placed] = _placed_to(http, URGENT1_PHONE)
    assert placed["From"] == [NEUTRAL_CALLER_ID]
    assert _placed_to(http, hotline.beneficiary_number) == []
    assert _placed_to(http, hotline.device_number) == []

    phone = TwilioDriver(FlaskTransport(app.test_client()), PUBLIC_BASE_URL)
    alert = _answer(phone, placed)
    assert alert.where == "gather"
    words = " ".join(alert.said())
    assert "Pulse 1" in words
    assert "Test Beneficiary" not in words and "40.4" not in words

    alert.press("1")
    assert alert.where == "dialing"
    assert alert.dialled == [hotline.device_number]
    with runtime.sessions() as db:
        escalation = db.get(Escalation, escalation_id)
        assert escalation is not None
        assert escalation.acknowledged_by == hotline.agents["urgent1"]
        viewed = db.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "beneficiary_file_viewed",
                AuditEntry.actor_id == hotline.agents["urgent1"],
            )
        ).all()
        assert len(viewed) == 1
    ladder = runtime.router.acknowledge(escalation_id, hotline.agents["boss"], time.time())
    assert ladder.status == "already_acknowledged"
    assert REJECTED not in prism.log()


def test_a_member_who_presses_1_after_someone_else_took_it_is_told_so(
    urgent: tuple[Runtime, NotingHttpClient, Flask], hotline: Hotline
) -> None:
    runtime, http, app = urgent
    escalation_id = _device_alarm(app, runtime.sessions, hotline)
    [placed] = _placed_to(http, URGENT1_PHONE)
    runtime.router.acknowledge(escalation_id, hotline.agents["boss"], time.time())
    phone = TwilioDriver(FlaskTransport(app.test_client()), PUBLIC_BASE_URL)
    alert = _answer(phone, placed).press("1")
    assert alert.where == "ended"
    assert any("ya la ha tomado" in said for said in alert.said())
    assert alert.dialled == []


def test_a_member_who_takes_a_live_alarm_call_joins_its_conference(
    urgent: tuple[Runtime, NotingHttpClient, Flask], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http, app = urgent
    phone = TwilioDriver(FlaskTransport(app.test_client()), PUBLIC_BASE_URL)
    her = phone.call(hotline.line_number, hotline.device_number)
    assert her.where == "queued"
    her_call = call_id_for(Channel.TWILIO, her.sid)

    [placed] = _placed_to(http, URGENT1_PHONE)
    alert = _answer(phone, placed).press("1")
    assert alert.where == "conference" and alert.conference == her_call

    moved = [
        form
        for method, path, form, _status in http.sent
        if (method, path) == ("POST", f"{ACCOUNT}/Calls/{her.sid}.json")
    ]
    assert moved and f">{her_call}</Conference>" in moved[-1]["Twiml"][0]
    with runtime.sessions() as db:
        stored = db.get(Call, her_call)
        assert stored is not None
        assert (stored.status, stored.agent_id) == ("on_call", hotline.agents["urgent1"])
    assert runtime.redis.hget(routing_key("call", her_call), "status") == "taken"
    assert REJECTED not in prism.log()


def test_after_the_whole_ladder_the_urgent_number_hears_the_alarm_and_where_she_is(
    urgent: tuple[Runtime, NotingHttpClient, Flask], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http, app = urgent
    _device_alarm(app, runtime.sessions, hotline)
    start = time.time()
    runtime.router.sweep(start + 31)
    assert len(_placed_to(http, URGENT1_PHONE)) == 1, "phoned once, however long it rings"
    assert len(_placed_to(http, URGENT2_PHONE)) == 1
    assert _placed_to(http, "+34900000003") == []
    runtime.router.sweep(start + 31 + 61)  # the top tier rings again every minute
    [placed] = _placed_to(http, "+34900000003")
    assert placed["From"] == [NEUTRAL_CALLER_ID]

    phone = TwilioDriver(FlaskTransport(app.test_client()), PUBLIC_BASE_URL)
    report = _answer(phone, placed)
    said = report.said()
    assert len(said) == 2
    assert "assault" in said[0] and "40.41680" in said[0] and "-3.70380" in said[0]
    assert "13 metros" in said[0] or "12 metros" in said[0]
    assert report.where == "ended"
    assert _placed_to(http, hotline.beneficiary_number) == []
    assert REJECTED not in prism.log()
