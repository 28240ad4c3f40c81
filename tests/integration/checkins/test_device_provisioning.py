"""Panic-button devices registered by a system or from the command line: the secret shown once
and stored encrypted, its signed alarms accepted; a rotated secret replaces the old one at
once; a revoked device's alarms are refused and kept for audit; bad serials refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from checkins.cli import devices_cli, systems_cli
from checkins.context import CheckinContext
from runtime import Runtime
from store.alarms import RejectedDeviceMessage
from store.clock import ManualClock
from store.models import Device
from store.records import AuditEntry
from tests.harness.hotline import Hotline
from tests.integration.checkins.helpers import alarm_body, signed_headers
from tests.integration.checkins.provisioning import (
    call,
    spanish_mobile,
    system_key,
    system_named,
)


@pytest.fixture
def client(runtime: Runtime, ctx: CheckinContext) -> FlaskClient:
    return create_app(runtime=runtime).test_client()


@pytest.fixture
def key(ctx: CheckinContext) -> str:
    return system_key(ctx.sessions, "provisioning")


def new_serial() -> str:
    return "ATP-" + spanish_mobile()[4:]


def register(client: FlaskClient, key: str, hotline: Hotline, serial: str) -> Any:
    body = {
        "serial": serial,
        "beneficiary_id": hotline.beneficiary_id,
        "number": spanish_mobile().removeprefix("+34"),
    }
    return call(client, "POST", "/api/devices", key, body)


def alarm(client: FlaskClient, clock: ManualClock, serial: str, secret: str, alarm_id: str) -> Any:
    body = alarm_body(alarm_id, serial)
    headers = signed_headers(serial, secret, body, clock.now().timestamp())
    return client.post("/api/devices/alarm", data=body, headers=headers)


def refused_for(ctx: CheckinContext, serial: str) -> int:
    with ctx.sessions() as db:
        return int(
            db.scalar(
                select(func.count())
                .select_from(RejectedDeviceMessage)
                .where(RejectedDeviceMessage.device_ref == serial)
            )
            or 0
        )


def test_a_registered_device_gets_its_secret_once_stored_encrypted_and_its_alarm_is_accepted(
    client: FlaskClient,
    runtime: Runtime,
    ctx: CheckinContext,
    clock: ManualClock,
    hotline: Hotline,
    key: str,
) -> None:
    serial = new_serial()
    answer = register(client, key, hotline, serial)
    assert answer.status_code == 201 and answer.json["serial"] == serial
    secret = answer.json["secret"]
    assert answer.headers["Cache-Control"] == "no-store"
    with runtime.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT secret, number FROM devices WHERE serial = :s"), {"s": serial}
        ).one()
    assert secret not in str(raw)
    assert alarm(client, clock, serial, secret, "P-1").status_code == 202
    with ctx.sessions() as db:
        entry = db.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "device_added")
            .order_by(AuditEntry.id.desc())
        )
    assert entry is not None and entry.actor_type == "system" and secret not in str(entry.detail)


def test_rotating_gives_a_new_secret_and_the_old_one_stops_working(
    client: FlaskClient, ctx: CheckinContext, clock: ManualClock, hotline: Hotline, key: str
) -> None:
    serial = new_serial()
    old = register(client, key, hotline, serial).json["secret"]
    rotated = call(client, "POST", f"/api/devices/{serial}/rotate", key)
    assert rotated.status_code == 200 and rotated.json["serial"] == serial
    new = rotated.json["secret"]
    assert new != old
    refused = alarm(client, clock, serial, old, "R-1")
    assert refused.status_code == 401 and refused.json["error_id"] == "device_signature_invalid"
    assert alarm(client, clock, serial, new, "R-2").status_code == 202


def test_a_revoked_device_alarms_are_refused_and_kept_for_audit(
    client: FlaskClient, ctx: CheckinContext, clock: ManualClock, hotline: Hotline, key: str
) -> None:
    serial = new_serial()
    secret = register(client, key, hotline, serial).json["secret"]
    revoked = call(client, "DELETE", f"/api/devices/{serial}", key)
    assert revoked.status_code == 200 and revoked.json == {"serial": serial, "revoked": True}
    assert call(client, "DELETE", f"/api/devices/{serial}", key).status_code == 200
    answer = alarm(client, clock, serial, secret, "V-1")
    assert answer.status_code == 401 and refused_for(ctx, serial) == 1
    again = call(client, "POST", f"/api/devices/{serial}/rotate", key)
    assert again.status_code == 409 and again.json["error_id"] == "device_revoked"
    with ctx.sessions() as db:
        device = db.scalar(select(Device).where(Device.serial == serial))
        assert device is not None and not device.active and device.secret != secret


@pytest.mark.parametrize(
    "serial", ["", "x" * 65, "has space", "-leading", "ñandú", "a/b", 12, None]
)
def test_a_serial_that_is_not_1_to_64_safe_characters_is_refused_400(
    client: FlaskClient, hotline: Hotline, key: str, serial: Any
) -> None:
    body = {"serial": serial, "beneficiary_id": hotline.beneficiary_id, "number": "612345678"}
    answer = call(client, "POST", "/api/devices", key, body)
    assert answer.status_code == 400 and answer.json["error_id"] == "device_serial_invalid"


def test_a_bad_serial_in_the_path_is_400_and_an_unknown_one_404(
    client: FlaskClient, key: str
) -> None:
    bad = call(client, "POST", "/api/devices/bad%20serial/rotate", key)
    assert bad.status_code == 400 and bad.json["error_id"] == "device_serial_invalid"
    unknown = call(client, "DELETE", "/api/devices/NO-SUCH-DEVICE", key)
    assert unknown.status_code == 404 and unknown.json["error_id"] == "unknown_device"


def test_a_taken_serial_or_number_is_409_an_unknown_beneficiary_404_and_nothing_is_written(
    client: FlaskClient, ctx: CheckinContext, hotline: Hotline, key: str
) -> None:
    serial = new_serial()
    assert register(client, key, hotline, serial).status_code == 201
    taken = register(client, key, hotline, serial)
    assert taken.status_code == 409 and taken.json["error_id"] == "device_serial_taken"
    for number in (hotline.device_number, hotline.beneficiary_number):
        body = {"serial": new_serial(), "beneficiary_id": hotline.beneficiary_id, "number": number}
        answer = call(client, "POST", "/api/devices", key, body)
        assert answer.status_code == 409 and answer.json["error_id"] == "device_number_taken"
    body = {"serial": new_serial(), "beneficiary_id": "0" * 32, "number": spanish_mobile()}
    unknown = call(client, "POST", "/api/devices", key, body)
    assert unknown.status_code == 404 and unknown.json["error_id"] == "unknown_beneficiary"
    missing = call(client, "POST", "/api/devices", key, {"serial": new_serial()})
    assert missing.status_code == 400
    with ctx.sessions() as db:
        assert db.scalar(select(Device.id).where(Device.serial == body["serial"])) is None


def test_devices_need_the_provisioning_scope(
    client: FlaskClient, ctx: CheckinContext, hotline: Hotline
) -> None:
    notifier = system_key(ctx.sessions, "notifications")
    answer = register(client, notifier, hotline, new_serial())
    assert answer.status_code == 403 and answer.json["error_id"] == "api_scope_missing"


def opener(
    sessions: sessionmaker[Session],
) -> Callable[[], tuple[sessionmaker[Session], Callable[[], None]]]:
    return lambda: (sessions, lambda: None)


def test_amparo_devices_adds_lists_rotates_and_revokes_without_showing_personal_data(
    ctx: CheckinContext, clock: ManualClock, hotline: Hotline, runtime: Runtime
) -> None:
    runner = CliRunner()
    command = devices_cli(opener(ctx.sessions))
    serial = new_serial()
    number = spanish_mobile()
    added = runner.invoke(
        command, ["add", serial, "--beneficiary", hotline.beneficiary_id, "--number", number]
    )
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    client = create_app(runtime=runtime).test_client()
    assert alarm(client, clock, serial, secret, "C-1").status_code == 202
    listed = runner.invoke(command, ["list"])
    assert listed.exit_code == 0
    [line] = [row for row in listed.output.splitlines() if row.startswith(serial)]
    assert line.split("\t")[1:3] == [hotline.beneficiary_id, "active"]
    assert secret not in listed.output and number[3:] not in listed.output
    assert hotline.device_secret not in listed.output and "Test Beneficiary" not in listed.output
    rotated = runner.invoke(command, ["rotate", serial])
    assert rotated.exit_code == 0 and secret not in rotated.output
    assert runner.invoke(command, ["revoke", serial]).exit_code == 0
    assert "revoked" in runner.invoke(command, ["list"]).output
    bad = runner.invoke(command, ["add", "bad serial", "--beneficiary", "x", "--number", "1"])
    assert bad.exit_code != 0 and "device_serial_invalid" in bad.output


def test_amparo_systems_add_takes_scopes_and_keeps_notifications_by_default(
    ctx: CheckinContext,
) -> None:
    runner = CliRunner()
    command = systems_cli(opener(ctx.sessions))
    both = f"both-{new_serial()}"
    plain = f"plain-{new_serial()}"
    answer = runner.invoke(
        command, ["add", both, "--scope", "notifications", "--scope", "provisioning"]
    )
    assert answer.exit_code == 0, answer.output
    assert runner.invoke(command, ["add", plain]).exit_code == 0
    assert system_named(ctx.sessions, both).scopes == ["notifications", "provisioning"]
    assert system_named(ctx.sessions, plain).scopes == ["notifications"]
    unknown = runner.invoke(command, ["add", f"x-{new_serial()}", "--scope", "everything"])
    assert unknown.exit_code != 0
