"""An agent's SIP phone that leaves mid-call (its own BYE, not the console's end): the caller
is never hung up on; she hears the hold loop and is offered again first in her queue, marked
as a re-offer. The agent accepts in the console (``CallDesk``) as in production; ``amparo sip``
holds the call; SIPp plays the caller and the agent's phone."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from agent_console.calls import CallDesk
from routing import AgentState
from routing.state import routing_key
from runtime import Runtime, build_runtime
from settings import Settings
from store.records import Call
from tests.e2e.sip.peers import SipProcess, events_of, held_call, run_sipp
from tests.e2e.sip.test_call_control import agent_phone
from tests.harness.hotline import Hotline


@pytest.fixture
def sip_runtime(settings: Settings, hotline: Hotline) -> Iterator[Runtime]:
    """This process as a web process of a SIP deployment (the console's side)."""
    runtime = build_runtime(settings.with_overrides(sip_listen="127.0.0.1:5060"))
    try:
        yield runtime
    finally:
        runtime.close()


def test_an_agent_phone_that_leaves_mid_call_sends_the_caller_first_in_her_queue(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    sip_runtime: Runtime,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    ana, farah = hotline.agents["ana"], hotline.agents["farah"]
    desk = CallDesk(sip_runtime.console_ports)
    with agent_phone(db_sessions, hotline, sipp_dir, scenario="agent_hangs_up") as phone:
        sip = start_sip()
        sip_runtime.router.set_agent_state(ana, AgentState.AVAILABLE, time.time())
        caller = run_sipp(
            "caller_queued_40s", sip.address, hotline.line_number, sipp_dir, background=True
        )
        assert isinstance(caller, subprocess.Popen)
        call_id = held_call(redis_client)
        deadline = time.monotonic() + 40
        while desk.presence(ana)["offer"] is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert desk.accept(call_id, ana) == {"call_id": call_id, "bridged": True}
        events_of(db_sessions, call_id, "sip_bridged", timeout_s=20)

        assert phone.result(timeout=60).returncode == 0  # her phone sent its BYE after 8 s
        events_of(db_sessions, call_id, "sip_person_dropped", timeout_s=20)
        with db_sessions() as db:
            row = db.get(Call, call_id)
            assert row is not None and (row.status, row.agent_id) == ("queued", None)
            assert "reoffer" in row.flags
        sip_runtime.router.set_agent_state(farah, AgentState.AVAILABLE, time.time())
        offer = desk.presence(farah)["offer"]
        assert offer is not None and offer["call"] == f"{call_id}.r1"
        assert "reoffer" in offer["flags"]

        out, _ = caller.communicate(timeout=60)  # her own BYE after 40 s
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]  # never hung up on
    seen = [(e.kind, e.data) for e in events_of(db_sessions, call_id, "hangup")]
    kinds = [kind for kind, _ in seen]
    assert ("sip_person_dropped", {"by": ana}) in seen
    assert ("agent_dropped", {"agent_id": ana, "leg": f"{call_id}.r1"}) in seen
    assert "sip_person_hung_up" not in kinds
    assert kinds.index("sip_bridged") < kinds.index("agent_dropped") < kinds.index("hangup")
    # her hang-up reached routing under her newest leg: the offer to Farah is withdrawn
    routed = redis_client.hget(routing_key("call", f"{call_id}.r1"), "status")
    assert routed == "abandoned", sip.log()[-3000:]
