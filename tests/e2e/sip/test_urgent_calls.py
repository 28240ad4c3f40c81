"""Off the console on SIP, with ``amparo sip`` and SIPp phones behind the trunk: an
urgent-team member who is not signed in is phoned with the neutral caller id and takes the
escalation with 1 (RFC 2833). For an alarm without a call, her device is then rung through the
trunk and bridged to the member; for a caller in danger on the line, the member's leg is joined
to hers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from checkins.alarms import AlarmReport, escalate, store
from runtime import Runtime, build_runtime
from settings import Settings
from store.models import Agent
from store.records import Call, Escalation
from store.vocabulary import AlarmType, Direction
from tests.e2e.sip.peers import SipProcess, events_of, run_sipp, sipp_phone
from tests.harness.hotline import Hotline

ON_CALL = "+34600333001"


@pytest.fixture
def member_off_console(db_sessions: sessionmaker[Session], hotline: Hotline) -> str:
    with db_sessions() as db, db.begin():
        db.execute(
            update(Agent)
            .where(Agent.id == hotline.agents["urgent1"])
            .values(on_call_number=ON_CALL)
        )
    return hotline.agents["urgent1"]


@pytest.fixture
def sip_runtime(settings: Settings, hotline: Hotline) -> Iterator[Runtime]:
    """This process as a web or worker process of a SIP deployment."""
    runtime = build_runtime(settings.with_overrides(sip_listen="127.0.0.1:5060"))
    try:
        yield runtime
    finally:
        runtime.close()


def _alert_call(sessions: sessionmaker[Session], line_id: str, timeout_s: float = 30.0) -> Call:
    """The alert call placed about an escalation on this test's own line."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sessions() as db:
            call = db.scalar(
                select(Call)
                .where(Call.direction == Direction.TEAM_ALERT.value, Call.line_id == line_id)
                .order_by(Call.started_at.desc())
            )
            if call is not None:
                return call
        time.sleep(0.3)
    raise AssertionError("no alert call was opened")


def _acknowledged_by(sessions: sessionmaker[Session], escalation_id: str) -> str | None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sessions() as db:
            escalation = db.get(Escalation, escalation_id)
            if escalation is not None and escalation.acknowledged_by:
                return escalation.acknowledged_by
        time.sleep(0.3)
    return None


@pytest.mark.slow
def test_a_member_phoned_about_an_alarm_takes_it_and_her_device_is_rung_through_the_trunk(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    member_off_console: str,
    sip_runtime: Runtime,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    with sipp_phone("member_takes", sipp_dir, timeout_s=120, calls=2) as trunk:
        sip = start_sip(AMPARO_SIP_TRUNK=trunk.trunk)
        report = AlarmReport(alarm_id=f"sip-{time.time_ns()}", alarm_type=AlarmType.ASSAULT)
        receipt = store(
            sip_runtime.checkins,
            f"{hotline.device_id}:{report.alarm_id}",
            "device_api",
            report,
            hotline.device_id,
            None,
            None,
        )
        assert escalate(sip_runtime.checkins, receipt.stored_id)
        escalation_id = f"alarm:{receipt.stored_id}"

        assert _acknowledged_by(db_sessions, escalation_id) == member_off_console
        alert = _alert_call(db_sessions, hotline.line_id)
        kinds = [
            e.kind for e in events_of(db_sessions, alert.id, until="sip_bridged", timeout_s=30)
        ]
        assert "answered" in kinds and "escalation_taken" in kinds and "sip_bridged" in kinds
        time.sleep(3)  # her device's phone has keyed its 1 too (ignored: she is not the member)
        assert sip.terminate() == 0  # ends both legs with a BYE
        result = trunk.result(timeout=60)
    # Both INVITEs (the alert, then her device) showed the neutral caller id.
    assert result.returncode == 0, result.output[-3000:]


@pytest.mark.slow
def test_a_member_who_takes_a_caller_in_danger_is_joined_to_her_leg(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    member_off_console: str,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    with sipp_phone("member_takes", sipp_dir, timeout_s=120) as trunk:
        sip = start_sip(AMPARO_SIP_TRUNK=trunk.trunk)
        caller = run_sipp(
            "caller_waits_for_urgent", sip.address, hotline.line_number, sipp_dir, background=True
        )
        assert isinstance(caller, subprocess.Popen)
        alert = _alert_call(db_sessions, hotline.line_id)
        with db_sessions() as db:
            her = db.scalar(
                select(Call)
                .where(Call.line_id == hotline.line_id, Call.direction == "inbound")
                .order_by(Call.started_at.desc())
            )
            assert her is not None
        assert _acknowledged_by(db_sessions, f"call:{her.id}") == member_off_console
        kinds = [e.kind for e in events_of(db_sessions, her.id, until="sip_bridged", timeout_s=30)]
        assert "sip_bridged" in kinds
        caller.communicate(timeout=60)
        assert caller.returncode == 0  # she was never hung up on
        answered = trunk.result(timeout=60)  # her BYE ended the member's leg
    assert answered.returncode == 0, answered.output[-3000:]
    with db_sessions() as db:
        joined = db.get(Call, alert.id)
        assert joined is not None and joined.status == "joined"
