"""Notifications from external systems: authenticated, stored once, each one a priority call;
a proximity alert calls at once and alerts the urgent team; an outage broadcast keeps to the
outbound rate and shows its progress to supervisors."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app import create_app
from checkins import notifications, planner
from checkins.context import CheckinContext
from checkins.ports import OutboundDialer
from checkins.rate_limit import OutboundRateLimit
from routing.views import open_escalations
from runtime import Runtime
from store.alarms import Notification
from store.clock import ManualClock
from store.credentials import hash_secret
from store.models import Beneficiary, BeneficiaryPhone
from store.phone_numbers import lookup_hash
from store.records import Call, CheckinAttempt
from store.vocabulary import Channel, RiskLevel
from tests.harness.hotline import Hotline
from tests.harness.signin import sign_in
from tests.integration.checkins.calls import ALL_DAY, PIN, answer, start_slot
from tests.integration.checkins.helpers import add_plan, attempts_of, drain


@dataclass
class RecordingDialer:
    """The simulator, with the real time and order of every call placed."""

    inner: OutboundDialer
    placed: list[tuple[float, str]] = field(default_factory=list)

    @property
    def channel(self) -> Channel:
        return self.inner.channel

    def place_call(self, call_id: str, to_number: str, caller_id: str | None) -> str:
        self.placed.append((time.monotonic(), call_id))
        return self.inner.place_call(call_id, to_number, caller_id)

    def cancel(self, call_id: str) -> None:
        self.inner.cancel(call_id)


@pytest.fixture
def dialer(ctx: CheckinContext) -> RecordingDialer:
    recording = RecordingDialer(ctx.dialer)
    ctx.dialer = recording
    return recording


@pytest.fixture
def client(runtime: Runtime, ctx: CheckinContext) -> FlaskClient:
    return create_app(runtime=runtime).test_client()


@pytest.fixture
def api_key(ctx: CheckinContext) -> str:
    _, key = notifications.add_system(ctx.sessions, f"viogen-{time.monotonic_ns()}")
    return key


def notify(client: FlaskClient, key: str | None, **body: Any) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/api/notifications", data=json.dumps(body), headers=headers)


def reference_of(ctx: CheckinContext, beneficiary_id: str) -> str:
    with ctx.sessions() as db:
        person = db.get(Beneficiary, beneficiary_id)
        assert person is not None
        return person.reference


def set_windows(ctx: CheckinContext, beneficiary_id: str, windows: list[dict[str, Any]]) -> None:
    with ctx.sessions() as db, db.begin():
        person = db.get(Beneficiary, beneficiary_id)
        assert person is not None
        person.safe_call_windows = windows


def test_notifications_need_a_system_key_and_a_well_formed_body(
    client: FlaskClient, api_key: str, hotline: Hotline, ctx: CheckinContext
) -> None:
    reference = reference_of(ctx, hotline.beneficiary_id)
    good = {"id": "n-1", "type": "order_expiring", "beneficiaries": [reference]}
    assert notify(client, None, **good).status_code == 401
    assert notify(client, "amp_wrong", **good).json["error_id"] == "notification_auth_failed"
    bad_type = notify(client, api_key, **{**good, "type": "party"})
    assert bad_type.status_code == 400 and "type must be one of" in bad_type.json["message"]
    assert notify(client, api_key, id="n-2", type="order_expiring").status_code == 400


def test_a_notification_is_stored_once_and_unknown_references_are_reported(
    client: FlaskClient, api_key: str, hotline: Hotline, ctx: CheckinContext, clock: ManualClock
) -> None:
    reference = reference_of(ctx, hotline.beneficiary_id)
    body = {"id": "n-3", "type": "order_expiring", "beneficiaries": [reference, "NOBODY-1"]}
    first = notify(client, api_key, **body)
    again = notify(client, api_key, **body)
    assert first.status_code == 202 and again.status_code == 200
    assert first.json["accepted"] == 1 and first.json["unknown_references"] == ["NOBODY-1"]
    assert (
        again.json["duplicate"] and again.json["notification_id"] == first.json["notification_id"]
    )
    with ctx.sessions() as db:
        stored = db.scalars(select(Notification).where(Notification.external_id == "n-3")).all()
    assert len(stored) == 1
    drain(ctx.jobs, clock)
    drain(ctx.jobs, clock)
    assert len(attempts_of(ctx.sessions, hotline.beneficiary_id)) == 1


def test_a_proximity_alert_calls_at_once_outside_her_windows_and_alerts_the_urgent_team(
    runtime: Runtime,
    client: FlaskClient,
    api_key: str,
    hotline: Hotline,
    ctx: CheckinContext,
    clock: ManualClock,
    dialer: RecordingDialer,
) -> None:
    set_windows(ctx, hotline.beneficiary_id, [])  # no safe window at all
    reference = reference_of(ctx, hotline.beneficiary_id)
    answer_ = notify(client, api_key, id="n-4", type="proximity_alert", beneficiaries=[reference])
    assert answer_.status_code == 202
    drain(ctx.jobs, clock)
    [attempt] = attempts_of(ctx.sessions, hotline.beneficiary_id)
    assert attempt.call_id is not None and dialer.placed
    ladders = open_escalations(runtime.redis, clock.now().timestamp())
    assert [ladder.reason for ladder in ladders] == ["proximity_alert"]


def test_a_release_notice_is_called_before_check_ins_due_at_the_same_moment(
    runtime: Runtime,
    client: FlaskClient,
    api_key: str,
    hotline: Hotline,
    ctx: CheckinContext,
    clock: ManualClock,
    dialer: RecordingDialer,
) -> None:
    other = more_people(ctx, hotline, 1)[0]
    add_plan(ctx.sessions, other, clock.now(), safe_call_windows=ALL_DAY)
    planner.plan_due(ctx)  # the check-in is queued first...
    reference = reference_of(ctx, hotline.beneficiary_id)
    notify(client, api_key, id="n-5", type="aggressor_released", beneficiaries=[reference])
    drain(ctx.jobs, clock)
    with ctx.sessions() as db:
        order = [db.get(Call, call_id) for _, call_id in dialer.placed]
    # ...but the worker takes the notice's queue first.
    assert [call.beneficiary_id for call in order if call] == [hotline.beneficiary_id, other]


def more_people(ctx: CheckinContext, hotline: Hotline, count: int) -> list[str]:
    ids = []
    with ctx.sessions() as db, db.begin():
        for index in range(count):
            number = f"+3465{time.monotonic_ns() % 10**5:05d}{index:02d}"
            person = Beneficiary(
                reference=f"N-{time.monotonic_ns()}-{index}"[-32:],
                full_name="Notice Test",
                preferred_locale="es",
                timezone="Europe/Madrid",
                risk_level=RiskLevel.MEDIO,
                line_id=hotline.line_id,
                safe_call_windows=ALL_DAY,
                pin_hash=hash_secret(PIN),
            )
            person.phones.append(BeneficiaryPhone(number=number, number_hash=lookup_hash(number)))
            db.add(person)
            db.flush()
            ids.append(person.id)
    return ids


def test_an_outage_broadcast_keeps_to_the_outbound_rate_and_supervisors_see_its_progress(
    runtime: Runtime,
    client: FlaskClient,
    api_key: str,
    hotline: Hotline,
    ctx: CheckinContext,
    clock: ManualClock,
    dialer: RecordingDialer,
) -> None:
    people = more_people(ctx, hotline, 10)
    for beneficiary_id in [hotline.beneficiary_id, *people]:
        add_plan(ctx.sessions, beneficiary_id, None)  # active plans on the line, none due
    ctx.rate_limit = OutboundRateLimit(ctx.live, cps=5.0, name="test-broadcast")
    sent = notify(client, api_key, id="n-6", type="outage", data={"line": hotline.line_id})
    assert sent.status_code == 202 and sent.json["accepted"] == 11
    notification_id = sent.json["notification_id"]
    drain(ctx.jobs, clock)  # the fan-out spreads the calls 0.2 s apart...
    clock.advance(3)
    drain(ctx.jobs, clock)  # ...and the rate limit keeps them apart when they run
    times = sorted(moment for moment, _ in dialer.placed)
    assert len(times) == 11
    # Turns are reserved 0.2 s apart (Redis's clock, shared by every process); a dial can run
    # late by its own database work, never early: no second holds more than the rate allows,
    # and eleven calls cannot all have gone out at once.
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 5 + 1
    assert times[-1] - times[0] >= 1.0
    # Two of them answer and talk to an agent.
    with ctx.sessions() as db:
        attempts = db.scalars(
            select(CheckinAttempt).where(CheckinAttempt.notification_id == notification_id)
        ).all()
    for attempt in attempts[:2]:
        answer(runtime, attempt, PIN + "#", "1")
    sign_in(client, ctx.sessions, hotline.agents["boss"])
    progress = client.get(f"/api/notifications/{notification_id}/progress").get_json()
    assert progress["total"] == 11 and progress["scheduled"] == 11 and progress["called"] == 11
    assert progress["reached"] == 2
    page = client.get("/operations")
    assert page.status_code == 200 and notification_id.encode() in page.data


def test_a_check_in_still_works_alongside(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    attempt = start_slot(ctx, clock, hotline)
    answer(runtime, attempt, PIN + "#", "1")
    assert attempts_of(ctx.sessions, hotline.beneficiary_id)[0].outcome == "talk_now"
