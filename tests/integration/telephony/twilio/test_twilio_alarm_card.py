"""Her device calls over Twilio after its alarm: the caller card shows where she is, found
from the stored alarm (no simulator in the way); an alarm older than 30 minutes is not hers
any more for the card."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.switchboard import call_id_for
from store.alarms import DeviceAlarm
from store.models import Device
from store.records import AuditEntry, Call
from store.vocabulary import Channel
from tests.harness.hotline import Hotline
from tests.harness.signin import sign_in
from tests.harness.twilio_driver import TwilioDriver
from tests.integration.checkins.helpers import alarm_body, signed_headers


def _alarm(
    app: Flask, sessions: sessionmaker[Session], hotline: Hotline, minutes_ago: float
) -> str:
    with sessions() as db:
        device = db.get(Device, hotline.device_id)
        assert device is not None
        serial = device.serial
    body = alarm_body(f"T-{time.time_ns()}", serial)
    answer = app.test_client().post(
        "/api/devices/alarm", data=body, headers=signed_headers(serial, hotline.device_secret, body)
    )
    assert answer.status_code == 202
    with sessions() as db, db.begin():
        alarm = db.scalar(
            select(DeviceAlarm).where(DeviceAlarm.beneficiary_id == hotline.beneficiary_id)
        )
        assert alarm is not None
        alarm.received_at = datetime.fromtimestamp(time.time() - minutes_ago * 60, UTC)
        return alarm.id


@pytest.mark.parametrize(("minutes_ago", "shown"), [(10, True), (31, False)])
def test_her_device_calling_over_twilio_after_an_alarm_shows_its_location_on_the_card(
    app: Flask, phone: TwilioDriver, hotline: Hotline, minutes_ago: float, shown: bool
) -> None:
    sessions = app.extensions["amparo"].sessions
    alarm_id = _alarm(app, sessions, hotline, minutes_ago)
    call = phone.call(hotline.line_number, hotline.device_number)
    assert call.where == "queued"
    call_id = call_id_for(Channel.TWILIO, call.sid)
    with sessions() as db:
        stored = db.get(Call, call_id)
        assert stored is not None and stored.channel == "twilio"
    client = app.test_client()
    sign_in(client, sessions, hotline.agents["boss"])
    card = client.get(f"/console/api/calls/{call_id}/card").json
    assert card is not None
    with sessions() as db:
        viewed = db.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "alarm_location_viewed", AuditEntry.subject_id == call_id
            )
        ).all()
    if not shown:
        assert card["alarm"]["location"] is None and viewed == []
        return
    where = card["alarm"]["location"]
    assert (where["latitude"], where["longitude"]) == (40.4168, -3.7038)
    assert where["map_url"].startswith("https://www.openstreetmap.org/?mlat=40.416800")
    assert card["alarm"]["alarm_type"] == "assault"
    assert [entry.detail for entry in viewed] == [{"alarm_id": alarm_id}]
