"""The caller simulator's page: lines to dial and a device's panic button whose alarm reaches
the caller card with its location and the nearest resources."""

from __future__ import annotations

import math

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agent_console.resources import Resource, ResourceDirectory, haversine_km
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
    nearest = alarm["resources"][0]
    assert nearest["distance_km"] < 1.0
    assert {item["kind"] for item in alarm["resources"]} == {"police", "shelter", "health"}
    assert card["beneficiary"]["id"] == hotline.beneficiary_id
    with db_sessions() as db:
        viewed = db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "alarm_location_viewed", AuditEntry.subject_id == call_id
            )
        )
        assert viewed is not None and viewed.actor_id == supervisor.account.agent_id


def test_haversine_gives_the_madrid_barcelona_distance() -> None:
    assert math.isclose(haversine_km(40.4168, -3.7038, 41.3874, 2.1686), 505, rel_tol=0.01)


def test_the_nearest_resources_keep_two_of_each_kind_nearest_first() -> None:
    def item(name: str, kind: str, lat: float) -> Resource:
        return Resource(name, kind, lat, 0.0)

    directory = ResourceDirectory(
        by_line={"+341": (item("line police", "police", 0.5),)},
        by_jurisdiction={
            "ES": (
                item("far police", "police", 3),
                item("near police", "police", 0.1),
                item("mid police", "police", 1),
                item("shelter", "shelter", 2),
            )
        },
    )
    found = [n.resource.name for n in directory.nearest(0, 0, None, "ES")]
    assert found == ["near police", "mid police", "shelter"]
    assert [n.resource.name for n in directory.nearest(0, 0, "+341", "ES")] == ["line police"]
    assert directory.nearest(0, 0, None, "PE") == []


def test_the_bundled_resources_load_and_unknown_kinds_are_refused() -> None:
    bundled = ResourceDirectory.bundled()
    assert bundled.for_line(None, "ES") and bundled.for_line(None, "PE")
    with pytest.raises(ValueError):
        Resource.from_dict({"name": "x", "kind": "spa", "latitude": 0, "longitude": 0})
