"""A callback over SIP: the agent takes the task in the console, the ``amparo sip`` process
rings her through the trunk with the neutral caller ID (a SIPp phone answers), and when she
answers the agent's SIP phone (another SIPp phone) is called and bridged to her."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from agent_console.calls import CallDesk
from agent_console.placing import place_call
from recordings_policy.policy import SHIPPED_POLICY
from routing import AgentState
from runtime import Runtime, build_runtime
from settings import Settings
from store.callbacks import Callback, CallbackStatus
from store.models import Agent
from store.records import Recording
from tests.e2e.sip.peers import SipProcess, events_of, sipp_phone, wait_until
from tests.harness.callbacks import due_callback, no_open_callbacks  # noqa: F401  (autouse)
from tests.harness.hotline import Hotline, add_shelter


@pytest.fixture
def sip_runtime(settings: Settings, hotline: Hotline) -> Iterator[Runtime]:
    """This process as a web process of a SIP deployment (the console's side)."""
    runtime = build_runtime(settings.with_overrides(sip_listen="127.0.0.1:5060"))
    try:
        yield runtime
    finally:
        runtime.close()


def _task_for_her(sessions: sessionmaker[Session], hotline: Hotline) -> str:
    return due_callback(sessions, hotline, time.time())


@pytest.mark.slow
def test_a_callback_taken_in_the_console_rings_her_through_the_trunk_and_bridges_the_agent(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    sip_runtime: Runtime,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    ana = hotline.agents["ana"]
    with (
        sipp_phone("agent_answer", sipp_dir, timeout_s=90) as agent_phone,
        sipp_phone("number_answer", sipp_dir, timeout_s=90) as her_phone,
    ):
        with db_sessions() as db, db.begin():
            db.execute(
                update(Agent).where(Agent.id == ana).values(sip_uri=f"sip:ana@{agent_phone.trunk}")
            )
        sip = start_sip(AMPARO_SIP_TRUNK=her_phone.trunk)
        task_id = _task_for_her(db_sessions, hotline)
        now = time.time()
        assert sip_runtime.callbacks.work(now)["routed"] == 1
        sip_runtime.router.set_agent_state(ana, AgentState.AVAILABLE, now)
        desk = CallDesk(sip_runtime.console_ports)
        offer = desk.presence(ana)["offer"]
        assert offer is not None
        assert desk.accept(offer["call"], ana)["dialing"] is True

        kinds = [
            e.kind for e in events_of(db_sessions, offer["call"], until="sip_bridged", timeout_s=40)
        ]
        assert "answered" in kinds and "callback_answered" in kinds and "sip_bridged" in kinds
        assert sip.terminate() == 0  # ends both legs with a BYE
        agent = agent_phone.result(timeout=60)
        her = her_phone.result(timeout=60)
    assert her.returncode == 0, her.output[-3000:]  # the INVITE showed the neutral caller id
    assert agent.returncode == 0, agent.output[-3000:]
    with db_sessions() as db:
        task = db.scalar(select(Callback).where(Callback.id == task_id))
        assert task is not None and task.status == CallbackStatus.REACHED


@pytest.mark.slow
def test_a_callback_the_policy_records_plays_the_notice_then_records_her_with_the_agent(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    sip_runtime: Runtime,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
    tmp_path: Path,
) -> None:
    """A policy recording callbacks (the shipped one records none): her answer plays the
    notice and starts the recorder; the agent is bridged only then, and the recording is
    sealed when the call ends."""
    data = json.loads(SHIPPED_POLICY.read_text(encoding="utf-8"))
    data["defaults"]["callback"].update(record=True, notice="recording.notice")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(data), encoding="utf-8")
    ana = hotline.agents["ana"]
    with (
        sipp_phone("agent_answer", sipp_dir, timeout_s=90) as agent_phone,
        sipp_phone("number_answer", sipp_dir, timeout_s=90) as her_phone,
    ):
        with db_sessions() as db, db.begin():
            db.execute(
                update(Agent).where(Agent.id == ana).values(sip_uri=f"sip:ana@{agent_phone.trunk}")
            )
        sip = start_sip(
            ["-m", "tests.e2e.sip.policy_sip", str(policy)], AMPARO_SIP_TRUNK=her_phone.trunk
        )
        _task_for_her(db_sessions, hotline)
        now = time.time()
        assert sip_runtime.callbacks.work(now)["routed"] == 1
        sip_runtime.router.set_agent_state(ana, AgentState.AVAILABLE, now)
        desk = CallDesk(sip_runtime.console_ports)
        offer = desk.presence(ana)["offer"]
        assert offer is not None and desk.accept(offer["call"], ana)["dialing"] is True
        events = events_of(db_sessions, offer["call"], until="sip_bridged", timeout_s=40)
        answered = next(e.at for e in events if e.kind == "callback_answered")
        bridged = next(e.at for e in events if e.kind == "sip_bridged")
        assert (bridged - answered).total_seconds() > 1.5, "the notice was cut short"
        desk.hang_up(ana)  # both legs end; the process seals the recording

        def sealed() -> list[Recording]:
            with db_sessions() as db:
                query = select(Recording).where(Recording.call_id == offer["call"])
                return list(db.scalars(query))

        [recording] = cast(list[Recording], wait_until(sealed, 30, "no callback recording"))
        assert recording.size_bytes
        assert sip.terminate() == 0
        agent_phone.result(timeout=60)
        her_phone.result(timeout=60)


@pytest.mark.slow
def test_a_call_the_agent_places_to_a_service_rings_it_through_the_trunk_and_bridges_her(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    sip_runtime: Runtime,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    """``POST /console/api/outbound`` with a resource of the directory, on SIP."""
    ana = hotline.agents["ana"]
    with (
        sipp_phone("agent_answer", sipp_dir, timeout_s=90) as agent_phone,
        sipp_phone("number_answer", sipp_dir, timeout_s=90) as service_phone,
    ):
        with db_sessions() as db, db.begin():
            db.execute(
                update(Agent).where(Agent.id == ana).values(sip_uri=f"sip:ana@{agent_phone.trunk}")
            )
        resource_id = add_shelter(db_sessions, hotline.line_id, "+34910000055")
        sip = start_sip(AMPARO_SIP_TRUNK=service_phone.trunk)
        sip_runtime.router.set_agent_state(ana, AgentState.AVAILABLE, time.time())
        ports = sip_runtime.console_ports
        placed = place_call(CallDesk(ports), ports, ana, {"resource_id": resource_id})
        assert placed["dialing"] is True
        call_id = placed["call_id"]

        kinds = [e.kind for e in events_of(db_sessions, call_id, until="sip_bridged", timeout_s=40)]
        assert "agent_placed_call" in kinds and "callback_answered" in kinds
        assert sip.terminate() == 0  # ends both legs with a BYE
        agent = agent_phone.result(timeout=60)
        service = service_phone.result(timeout=60)
    assert service.returncode == 0, service.output[-3000:]
    assert agent.returncode == 0, agent.output[-3000:]
    with db_sessions() as db:
        task = db.scalar(select(Callback).where(Callback.attempt_call_id == call_id))
        assert task is not None and (task.status, task.reason) == (CallbackStatus.REACHED, "agent")
