"""The panic button: signed alarms stored before the answer, acted on once, escalated to the
top of routing with a ladder that climbs after 60 s without a human; refusals kept for audit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, UOWTransaction

from app import create_app
from checkins import alarms
from checkins.context import CheckinContext
from routing.state import routing_key
from routing.views import open_escalations
from runtime import Runtime
from store.alarms import DeviceAlarm, RejectedDeviceMessage
from store.clock import ManualClock
from store.models import Device
from store.records import AuditEntry, Escalation
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline
from tests.integration.checkins.calls import supervisor_alerts
from tests.integration.checkins.helpers import alarm_body, signed_headers

# It reads the whole database: what earlier tests left must not count.
pytestmark = pytest.mark.usefixtures("empty_database")


@pytest.fixture
def client(runtime: Runtime, ctx: CheckinContext) -> FlaskClient:
    return create_app(runtime=runtime).test_client()


@pytest.fixture
def serial(ctx: CheckinContext, hotline: Hotline) -> str:
    with ctx.sessions() as db:
        device = db.get(Device, hotline.device_id)
        assert device is not None
        return device.serial


def send(
    client: FlaskClient,
    clock: ManualClock,
    hotline: Hotline,
    serial: str,
    body: bytes,
    *,
    at: float | None = None,
    secret: str | None = None,
) -> Any:
    headers = signed_headers(
        serial, secret or hotline.device_secret, body, clock.now().timestamp() if at is None else at
    )
    return client.post("/api/devices/alarm", data=body, headers=headers)


def stored(ctx: CheckinContext, hotline: Hotline) -> list[DeviceAlarm]:
    with ctx.sessions() as db:
        return list(
            db.scalars(
                select(DeviceAlarm).where(DeviceAlarm.beneficiary_id == hotline.beneficiary_id)
            )
        )


def refused(ctx: CheckinContext, reason: str) -> int:
    with ctx.sessions() as db:
        return len(
            db.scalars(
                select(RejectedDeviceMessage).where(RejectedDeviceMessage.reason == reason)
            ).all()
        )


def test_a_signed_alarm_is_stored_answered_202_and_escalated_with_its_location(
    runtime: Runtime,
    ctx: CheckinContext,
    client: FlaskClient,
    clock: ManualClock,
    hotline: Hotline,
    serial: str,
) -> None:
    answer = send(client, clock, hotline, serial, alarm_body("A-1", serial))
    assert answer.status_code == 202
    assert answer.json == {"alarm_id": "A-1", "status": "received"}
    [alarm] = stored(ctx, hotline)
    assert alarm.alarm_type == "assault" and alarm.battery == 64 and alarm.escalated_at is not None
    with runtime.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT latitude, longitude FROM device_alarms WHERE id = :id"), {"id": alarm.id}
        ).one()
    assert "40.4168" not in str(raw) and "3.7038" not in str(raw)  # encrypted at rest
    ladders = open_escalations(runtime.redis, clock.now().timestamp())
    assert [(e.escalation_id, e.reason) for e in ladders] == [(f"alarm:{alarm.id}", "device_alarm")]
    alerts = [a for a in supervisor_alerts(runtime) if a["kind"] == "device_alarm"]
    assert alerts and alerts[0]["alarm_id"] == alarm.id and "40.4168" not in json.dumps(alerts)
    where = alarms.read_location(ctx.sessions, alarm.id, agent_id=hotline.agents["urgent1"])
    assert where is not None and where["location"]["lat"] == pytest.approx(40.4168)
    with ctx.sessions() as db:
        reads = db.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "alarm_location_read", AuditEntry.subject_id == alarm.id
            )
        ).all()
    assert len(reads) == 1


def test_when_no_human_acknowledges_within_60_seconds_the_ladder_climbs(
    runtime: Runtime,
    ctx: CheckinContext,
    client: FlaskClient,
    clock: ManualClock,
    hotline: Hotline,
    serial: str,
) -> None:
    send(client, clock, hotline, serial, alarm_body("A-2", serial))
    [alarm] = stored(ctx, hotline)
    started = clock.now().timestamp()
    router = runtime.router

    def tier() -> int:
        [ladder] = open_escalations(runtime.redis, started)
        return ladder.tier

    assert tier() == 1
    router.sweep(started + 59)
    assert tier() == 1
    router.sweep(started + 61)
    assert tier() == 2
    router.acknowledge(f"alarm:{alarm.id}", hotline.agents["urgent2"], started + 70)
    assert open_escalations(runtime.redis, started + 70) == []
    # The ladder's trail is durable under the alarm's own id (38 characters, no call behind
    # it), and every routing event was delivered: nothing is left to redeliver for ever.
    kinds = [event.kind for event in runtime.call_log.events(f"alarm:{alarm.id}")]
    assert kinds[0] == "escalation_started" and kinds[-1] == "escalation_acknowledged"
    assert kinds.count("ring") >= 2
    assert runtime.redis.zcard(routing_key("outbox")) == 0


def test_the_same_alarm_twice_acts_once(
    runtime: Runtime,
    ctx: CheckinContext,
    client: FlaskClient,
    clock: ManualClock,
    hotline: Hotline,
    serial: str,
) -> None:
    body = alarm_body("A-3", serial)
    first = send(client, clock, hotline, serial, body)
    clock.advance(5)
    again = send(client, clock, hotline, serial, body)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json == again.json
    assert len(stored(ctx, hotline)) == 1
    assert len([a for a in supervisor_alerts(runtime) if a["kind"] == "device_alarm"]) == 1


@pytest.mark.parametrize(
    ("tamper", "error_id"),
    [
        ("stale", "device_timestamp_out_of_window"),
        ("future", "device_timestamp_out_of_window"),
        ("secret", "device_signature_invalid"),
        ("device", "device_signature_invalid"),
        ("headers", "device_auth_missing"),
    ],
)
def test_replays_and_bad_signatures_are_refused_and_kept_for_audit(
    ctx: CheckinContext,
    client: FlaskClient,
    clock: ManualClock,
    hotline: Hotline,
    serial: str,
    tamper: str,
    error_id: str,
) -> None:
    body = alarm_body("A-4", serial)
    now = clock.now().timestamp()
    if tamper == "stale":
        answer = send(client, clock, hotline, serial, body, at=now - 301)
    elif tamper == "future":
        answer = send(client, clock, hotline, serial, body, at=now + 301)
    elif tamper == "secret":
        answer = send(client, clock, hotline, serial, body, secret="not-the-device-secret")
    elif tamper == "device":
        headers = signed_headers("NO-SUCH-DEVICE", hotline.device_secret, body, now)
        answer = client.post("/api/devices/alarm", data=body, headers=headers)
    else:
        answer = client.post("/api/devices/alarm", data=body)
    assert answer.status_code == 401
    assert answer.json["error_id"] == error_id
    assert stored(ctx, hotline) == []
    assert refused(ctx, error_id) >= 1


def test_a_replay_inside_the_window_is_just_the_same_alarm_again(
    ctx: CheckinContext, client: FlaskClient, clock: ManualClock, hotline: Hotline, serial: str
) -> None:
    body = alarm_body("A-5", serial)
    headers = signed_headers(serial, hotline.device_secret, body, clock.now().timestamp())
    assert client.post("/api/devices/alarm", data=body, headers=headers).status_code == 202
    clock.advance(200)
    assert client.post("/api/devices/alarm", data=body, headers=headers).status_code == 200
    assert len(stored(ctx, hotline)) == 1


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", json.dumps({"type": "assault"}).encode(), b'{"alarm_id": "bad id!"}'],
)
def test_malformed_alarms_get_a_clear_400_and_are_kept_for_audit(
    ctx: CheckinContext,
    client: FlaskClient,
    clock: ManualClock,
    hotline: Hotline,
    serial: str,
    body: bytes,
) -> None:
    before = refused(ctx, "alarm_malformed")
    answer = send(client, clock, hotline, serial, body)
    assert answer.status_code == 400
    assert answer.json["error_id"] == "alarm_malformed" and answer.json["message"]
    assert refused(ctx, "alarm_malformed") == before + 1
    assert stored(ctx, hotline) == []


def test_an_authentic_alarm_with_a_wrong_detail_is_still_acted_on(
    ctx: CheckinContext, client: FlaskClient, clock: ManualClock, hotline: Hotline, serial: str
) -> None:
    body = alarm_body("A-6", serial, type="fire", location={"lat": 123, "lon": 0}, battery="full")
    answer = send(client, clock, hotline, serial, body)
    assert answer.status_code == 202
    assert set(answer.json["warnings"]) == {
        "type_unknown_treated_as_assault",
        "location_ignored",
        "battery_ignored",
    }
    [alarm] = stored(ctx, hotline)
    assert alarm.alarm_type == "assault" and alarm.latitude is None and alarm.escalated_at


@pytest.fixture
def database_switch(runtime: Runtime) -> Iterator[Callable[[bool], None]]:
    """Stop (True) or start (False) the database as far as this process can tell: while it
    is stopped every new connection fails."""
    state = {"down": False}
    dbapi = runtime.engine.dialect.loaded_dbapi

    def refuse(*_args: Any) -> None:
        if state["down"]:
            raise dbapi.OperationalError("database is down (test)")

    event.listen(runtime.engine, "do_connect", refuse)

    def switch(down: bool) -> None:
        state["down"] = down
        runtime.engine.dispose()

    yield switch
    event.remove(runtime.engine, "do_connect", refuse)


def test_with_the_database_down_the_device_hears_503_and_its_retry_is_stored_once(
    runtime: Runtime,
    ctx: CheckinContext,
    client: FlaskClient,
    clock: ManualClock,
    hotline: Hotline,
    serial: str,
    database_switch: Callable[[bool], None],
) -> None:
    body = alarm_body("A-7", serial)
    database_switch(True)
    down = send(client, clock, hotline, serial, body)
    assert down.status_code == 503
    assert down.headers["Retry-After"] and down.json["error_id"] == "store_unavailable"
    database_switch(False)
    assert stored(ctx, hotline) == []
    clock.advance(5)
    assert send(client, clock, hotline, serial, body).status_code == 202
    assert len(stored(ctx, hotline)) == 1


def test_a_failure_in_the_middle_of_storing_leaves_nothing_half_stored(
    runtime: Runtime,
    ctx: CheckinContext,
    client: FlaskClient,
    clock: ManualClock,
    hotline: Hotline,
    serial: str,
) -> None:
    def fail_after_insert(session: Session, _flush: UOWTransaction) -> None:
        if any(isinstance(item, DeviceAlarm) for item in session.new):
            lost = ConnectionError("connection lost mid-transaction (test)")
            raise OperationalError("COMMIT", None, lost)

    event.listen(ctx.sessions, "after_flush", fail_after_insert)
    try:
        answer = send(client, clock, hotline, serial, alarm_body("A-8", serial))
    finally:
        event.remove(ctx.sessions, "after_flush", fail_after_insert)
    assert answer.status_code == 503
    assert stored(ctx, hotline) == []
    assert send(client, clock, hotline, serial, alarm_body("A-8", serial)).status_code == 202


def test_an_escalation_that_fails_leaves_the_alarm_stored_and_the_sweep_escalates_it(
    runtime: Runtime,
    ctx: CheckinContext,
    client: FlaskClient,
    clock: ManualClock,
    hotline: Hotline,
    serial: str,
) -> None:
    working = ctx.alerts

    class RedisDown:
        def escalate(self, *_args: Any, **_kwargs: Any) -> Any:
            raise ConnectionError("redis down (test)")

        def notify_supervisors(self, *_args: Any) -> None:
            raise ConnectionError("redis down (test)")

    ctx.alerts = RedisDown()
    try:
        assert send(client, clock, hotline, serial, alarm_body("A-9", serial)).status_code == 202
    finally:
        ctx.alerts = working
    [alarm] = stored(ctx, hotline)
    assert alarm.escalated_at is None
    clock.advance(timedelta(seconds=11))
    assert alarms.sweep(ctx).alarms == 1
    [alarm] = stored(ctx, hotline)
    assert alarm.escalated_at is not None
    with ctx.sessions() as db:
        assert db.get(Escalation, f"alarm:{alarm.id}") is not None
    assert alarms.sweep(ctx).alarms == 0


def test_a_call_from_the_device_number_skips_the_menu_and_reaches_the_urgent_team(
    runtime: Runtime, ctx: CheckinContext, hotline: Hotline
) -> None:
    call = runtime.simulator.dial(hotline.line_number, hotline.device_number)
    assert call.heard() == []  # no menu, no prompt: the aggressor may be near
    assert call.status is PhoneStatus.ON_HOLD
    with ctx.sessions() as db:
        escalation = db.get(Escalation, f"call:{call.call_id}")
    assert escalation is not None and escalation.reason == "device_alarm"
