"""Supervisors manage her panic-button devices on her page: register one (its secret shown once),
give it a new secret (the old one stops working), revoke it (its alarms are refused). Every act
is audited with the supervisor; agents may not, and a device of another woman is out of reach."""

from __future__ import annotations

import re
import secrets

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Device
from store.records import AuditEntry
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import SignedIn
from tests.integration.checkins.helpers import alarm_body, signed_headers

SECRET = re.compile(r'id="device-secret-value">([^<]+)<')


def _form(page: SignedIn, url: str, **fields: str) -> tuple[int, str]:
    answer = page.client.post(url, data={"csrf_token": page.csrf, **fields})
    return answer.status_code, answer.get_data(as_text=True)


def _alarm(app: Flask, serial: str, secret: str) -> int:
    body = alarm_body(f"page-{secrets.token_hex(4)}", serial)
    answer = app.test_client().post(
        "/api/devices/alarm", data=body, headers=signed_headers(serial, secret, body)
    )
    return int(answer.status_code)


def test_a_supervisor_registers_rotates_and_revokes_her_device_on_her_page(
    app: Flask, supervisor: SignedIn, hotline: Hotline, db_sessions: sessionmaker[Session]
) -> None:
    page = f"/beneficiaries/{hotline.beneficiary_id}"
    serial = f"PAGE-{secrets.token_hex(4)}"
    status, html = _form(supervisor, f"{page}/devices", serial=serial, number="612 777 001")
    assert status == 200
    found = SECRET.search(html)
    assert found is not None
    first = found.group(1)
    assert first not in supervisor.client.get(page).get_data(as_text=True), "shown only once"
    assert _alarm(app, serial, first) == 202

    status, html = _form(supervisor, f"{page}/devices/{serial}/rotate")
    rotated = SECRET.search(html)
    assert status == 200 and rotated is not None and rotated.group(1) != first
    assert _alarm(app, serial, first) == 401
    assert _alarm(app, serial, rotated.group(1)) == 202

    answer = supervisor.client.post(
        f"{page}/devices/{serial}/revoke", data={"csrf_token": supervisor.csrf}
    )
    assert answer.status_code == 303
    assert _alarm(app, serial, rotated.group(1)) == 401
    with db_sessions() as db:
        acts = db.scalars(
            select(AuditEntry.action).where(
                AuditEntry.actor_id == supervisor.account.agent_id,
                AuditEntry.action.startswith("device_"),
            )
        ).all()
    assert sorted(acts) == ["device_added", "device_revoked", "device_secret_rotated"]


def test_a_taken_serial_is_answered_400_on_her_page_and_nothing_is_written(
    supervisor: SignedIn, hotline: Hotline
) -> None:
    page = f"/beneficiaries/{hotline.beneficiary_id}"
    with_serial = f"PAGE-{secrets.token_hex(4)}"
    assert _form(supervisor, f"{page}/devices", serial=with_serial, number="612 777 002")[0] == 200
    status, html = _form(supervisor, f"{page}/devices", serial=with_serial, number="612 777 003")
    assert status == 400 and 'id="device-error"' in html and "device-secret-value" not in html


def test_agents_cannot_and_another_womans_device_is_out_of_reach(
    agent: SignedIn, supervisor: SignedIn, hotline: Hotline, db_sessions: sessionmaker[Session]
) -> None:
    page = f"/beneficiaries/{hotline.beneficiary_id}"
    assert _form(agent, f"{page}/devices", serial="X-1", number="612 777 004")[0] == 403
    with db_sessions() as db:
        device = db.get(Device, hotline.device_id)
        assert device is not None
        serial = device.serial
    other = f"/beneficiaries/{'0' * 32}/devices/{serial}/revoke"
    assert _form(supervisor, other)[0] == 404
