"""The caller simulator's page: lines to dial and a device's panic button whose alarm reaches
the caller card with its location and the nearest resources."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from routing import views
from runtime import Runtime
from store.records import AuditEntry
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import SignedIn


def test_the_page_and_the_lines_to_dial(app: Flask, hotline: Hotline, agent: SignedIn) -> None:
    client = agent.client
    page = client.get("/simulator")
    assert page.status_code == 200 and 'data-key="#"' in page.get_data(as_text=True)
    lines = (client.get("/simulator/api/lines").json or {})["lines"]
    assert hotline.line_number in [line["number"] for line in lines]


def test_a_panic_button_calls_the_line_and_the_card_shows_where_she_is(
    app: Flask,
    runtime: Runtime,
    hotline: Hotline,
    supervisor: SignedIn,
    agent: SignedIn,
    db_sessions: sessionmaker[Session],
) -> None:
    client = agent.client
    headers = {"X-CSRF-Token": agent.csrf}
    serial = f"DEV-{hotline.line_id}"  # not a device
    assert (
        client.post(
            f"/simulator/api/devices/{serial}/panic",
            json={"latitude": 1, "longitude": 1},
            headers=headers,
        ).status_code
        == 404
    )
    with db_sessions() as db:
        from store.models import Device

        device = db.get(Device, hotline.device_id)
        assert device is not None
        serial = device.serial
    assert (
        client.post(
            f"/simulator/api/devices/{serial}/panic",
            json={"latitude": 91, "longitude": 0},
            headers=headers,
        ).status_code
        == 400
    )
    pressed = client.post(
        f"/simulator/api/devices/{serial}/panic",
        json={"alarm_type": "assault", "latitude": 40.4180, "longitude": -3.7000, "accuracy_m": 12},
        headers=headers,
    )
    assert pressed.status_code == 200, pressed.json
    call_id = (pressed.json or {})["call_id"]
    assert call_id in [e.call_id for e in views.open_escalations(runtime.redis, 10**10)]
    card = supervisor.get(f"/console/api/calls/{call_id}/card").json
    alarm = card["alarm"]
    assert alarm["alarm_type"] == "assault"
    assert alarm["location"]["accuracy_m"] == 12
    assert 0 <= alarm["location"]["age_s"] < 60
    resources = card["resources"]["items"]
    assert card["resources"]["basis"] == "location" and resources[0]["distance_km"] < 1.0
    assert {item["kind"] for item in resources} == {"police", "shelter", "health", "cavi"}
    assert card["beneficiary"]["id"] == hotline.beneficiary_id
    with db_sessions() as db:
        viewed = db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "alarm_location_viewed", AuditEntry.subject_id == call_id
            )
        )
        assert viewed is not None and viewed.actor_id == supervisor.account.agent_id
