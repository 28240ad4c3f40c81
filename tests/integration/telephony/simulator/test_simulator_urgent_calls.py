"""Off the console in the simulator: the urgent-team member who is not signed in is phoned
about an alarm, takes it with 1 and is put through to the woman's device; a member who takes
her live call is joined to it, and she hears the team come on the line."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from checkins.alarms import AlarmReport, escalate, store
from runtime import Runtime
from store.models import Agent
from store.records import Escalation
from store.vocabulary import AlarmType
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline, staff_line

ON_CALL = "+34600222001"


@pytest.fixture
def member_off_console(runtime: Runtime, hotline: Hotline) -> str:
    with runtime.sessions() as db, db.begin():
        db.execute(
            update(Agent)
            .where(Agent.id == hotline.agents["urgent1"])
            .values(on_call_number=ON_CALL)
        )
    staff_line(runtime.router, hotline, "ana")
    return hotline.agents["urgent1"]


def _ringing_alert(runtime: Runtime) -> str:
    [call_id] = runtime.simulator.ringing()
    return call_id


def test_a_member_phoned_about_an_alarm_takes_it_and_her_device_is_dialled(
    runtime: Runtime, hotline: Hotline, member_off_console: str
) -> None:
    report = AlarmReport(alarm_id=f"sim-{time.time_ns()}", alarm_type=AlarmType.ASSAULT)
    receipt = store(
        runtime.checkins,
        f"{hotline.device_id}:{report.alarm_id}",
        "device_api",
        report,
        hotline.device_id,
        None,
        None,
    )
    assert escalate(runtime.checkins, receipt.stored_id)

    phones = runtime.simulator
    alert_id = _ringing_alert(runtime)
    alert = phones.answer(alert_id)
    assert alert.status is PhoneStatus.WAITING_FOR_KEYS
    assert "Pulse 1" in " ".join(alert.heard())
    alert = phones.press(alert_id, "1")
    assert alert.status is PhoneStatus.TRANSFERRED
    assert alert.lines[-1].text == f"[transferred to {hotline.device_number}]"
    with runtime.sessions() as db:
        escalation = db.get(Escalation, f"alarm:{receipt.stored_id}")
        assert escalation is not None and escalation.acknowledged_by == member_off_console


def test_a_member_who_takes_a_live_call_is_joined_to_it(
    runtime: Runtime, hotline: Hotline, member_off_console: str
) -> None:
    phones = runtime.simulator
    her = phones.dial(hotline.line_number, hotline.device_number)
    assert her.status is PhoneStatus.ON_HOLD
    alert_id = _ringing_alert(runtime)
    phones.answer(alert_id)
    alert = phones.press(alert_id, "1")
    assert alert.status is PhoneStatus.CONNECTED
    her = phones.get(her.call_id)
    assert her.status is PhoneStatus.CONNECTED
    assert her.lines[-1].text == "[connected to the urgent team]"
