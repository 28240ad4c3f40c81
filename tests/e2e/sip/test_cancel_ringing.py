"""Cancel while it rings, over SIP: the agent cancels, from the console, a call she placed
while the service's phone still rings; the ``amparo sip`` process ringing it CANCELs the
INVITE (a SIPp phone rings, gets the CANCEL, answers 487 and has it ACKed)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agent_console.calls import CallDesk
from agent_console.placing import cancel_call, place_call
from routing import AgentState
from runtime import Runtime, build_runtime
from settings import Settings
from store.callbacks import Callback, CallbackStatus
from tests.e2e.sip.peers import SipProcess, events_of, held_call, sipp_phone
from tests.harness.callbacks import no_open_callbacks  # noqa: F401  (autouse)
from tests.harness.hotline import Hotline, add_shelter


@pytest.fixture
def sip_runtime(settings: Settings, hotline: Hotline) -> Iterator[Runtime]:
    """This process as a web process of a SIP deployment (the console's side)."""
    runtime = build_runtime(settings.with_overrides(sip_listen="127.0.0.1:5060"))
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.mark.slow
def test_a_call_the_agent_placed_is_cancelled_while_the_service_rings(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    sip_runtime: Runtime,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    """Her cancel reaches the SIP process ringing the service: it CANCELs the INVITE (the
    SIPp phone rings, gets the CANCEL, answers 487 and has it ACKed)."""
    ana = hotline.agents["ana"]
    with sipp_phone("checkin_ring", sipp_dir, timeout_s=90) as service_phone:
        resource_id = add_shelter(db_sessions, hotline.line_id, "+34910000055")
        start_sip(AMPARO_SIP_TRUNK=service_phone.trunk)
        sip_runtime.router.set_agent_state(ana, AgentState.AVAILABLE, time.time())
        ports = sip_runtime.console_ports
        placed = place_call(CallDesk(ports), ports, ana, {"resource_id": resource_id})
        assert placed["dialing"] is True
        call_id = placed["call_id"]
        assert held_call(redis_client, timeout_s=30) == call_id
        time.sleep(1)  # ringing

        answer = cancel_call(ports, ana, call_id)

        assert answer == {"call_id": call_id, "cancelled": True, "already": False}
        service = service_phone.result(timeout=60)
    assert service.returncode == 0, service.output[-3000:]  # CANCEL received, 487, ACK
    with db_sessions() as db:
        task = db.scalar(select(Callback).where(Callback.source_call_id == call_id))
        assert task is not None
        assert (task.status, task.outcome) == (CallbackStatus.FAILED, "cancelled")
    kinds = [e.kind for e in events_of(db_sessions, call_id, until="sip_unanswered")]
    assert "placed_call_cancelled" in kinds and "callback_answered" not in kinds
