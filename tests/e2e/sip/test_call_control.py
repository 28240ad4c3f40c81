"""The console's call control on SIP, with ``amparo sip``, a SIPp caller and the agent's SIPp
phone: ending the call from the console sends a BYE to both phones and closes the call as a
hang-up; hold and resume keep both legs up (the caller ends her own call normally); keys are
sent on the caller's leg."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from store.models import Agent
from store.records import Call
from telephony.sip.commands import SipBridge
from tests.e2e.sip.peers import SippPhone, SipProcess, events_of, held_call, run_sipp, sipp_phone
from tests.harness.hotline import Hotline


@contextmanager
def agent_phone(
    db_sessions: sessionmaker[Session], hotline: Hotline, sipp_dir: Path
) -> Iterator[SippPhone]:
    """Ana's SIP phone: a SIPp phone that answers and expects Amparo's BYE."""
    with sipp_phone("agent_answer", sipp_dir, timeout_s=90) as phone:
        with db_sessions() as db, db.begin():
            db.execute(
                update(Agent)
                .where(Agent.id == hotline.agents["ana"])
                .values(sip_uri=f"sip:ana@{phone.trunk}")
            )
        yield phone


def bridged_caller(
    scenario: str,
    sip: SipProcess,
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> tuple[subprocess.Popen[bytes], str]:
    """A SIPp caller on the line, joined to Ana's phone as when she accepts in the console."""
    caller = run_sipp(scenario, sip.address, hotline.line_number, sipp_dir, background=True)
    assert isinstance(caller, subprocess.Popen)
    call_id = held_call(redis_client)
    assert SipBridge(redis_client).connect(call_id, hotline.agents["ana"])
    kinds = [e.kind for e in events_of(db_sessions, call_id, "sip_bridged", timeout_s=20)]
    assert "sip_bridged" in kinds, sip.log()[-3000:]
    return caller, call_id


def test_ending_from_the_console_hangs_up_the_caller_and_the_agent_with_bye(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    with agent_phone(db_sessions, hotline, sipp_dir) as phone:
        sip = start_sip()
        caller, call_id = bridged_caller(
            "caller_ended_by_agent", sip, hotline, db_sessions, redis_client, sipp_dir
        )

        SipBridge(redis_client).end(call_id)  # what the console's end sends

        out, _ = caller.communicate(timeout=60)
        agent = phone.result(timeout=60)
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]  # BYE received
    assert agent.returncode == 0, agent.output[-3000:]  # BYE received
    seen = [(e.kind, e.data) for e in events_of(db_sessions, call_id, "hangup")]
    kinds = [kind for kind, _ in seen]
    assert ("sip_ended", {"by": hotline.agents["ana"]}) in seen
    assert kinds.index("sip_bridged") < kinds.index("sip_ended") < kinds.index("hangup")
    assert "sip_caller_hung_up" not in kinds and "sip_person_hung_up" not in kinds
    with db_sessions() as db:
        row = db.get(Call, call_id)
        assert row is not None and row.ended_at is not None
    assert "ended from the console" in sip.log()


def test_hold_and_resume_keep_both_legs_and_the_caller_ends_her_own_call(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    with agent_phone(db_sessions, hotline, sipp_dir) as phone:
        sip = start_sip()
        caller, call_id = bridged_caller(
            "caller_with_agent", sip, hotline, db_sessions, redis_client, sipp_dir
        )
        bridge = SipBridge(redis_client)

        bridge.hold(call_id, True)
        events_of(db_sessions, call_id, "sip_held")
        bridge.hold(call_id, True)  # twice: nothing more
        bridge.hold(call_id, False)
        events_of(db_sessions, call_id, "sip_resumed")
        bridge.hold(call_id, True)
        events_of(db_sessions, call_id, "sip_held", timeout_s=5)
        bridge.hold(call_id, False)

        out, _ = caller.communicate(timeout=60)  # her own BYE after 25 s
        agent = phone.result(timeout=60)  # her hang-up ended the agent's leg
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]  # never hung up on
    assert agent.returncode == 0, agent.output[-3000:]
    seen = [(e.kind, e.data) for e in events_of(db_sessions, call_id, "hangup")]
    kinds = [kind for kind, _ in seen]
    assert ("sip_held", {"by": hotline.agents["ana"]}) in seen
    assert kinds.count("sip_held") == 2 and kinds.count("sip_resumed") == 2
    assert kinds.index("sip_bridged") < kinds.index("sip_held") < kinds.index("sip_resumed")
    assert "sip_caller_hung_up" in kinds
    assert "hold not applicable now" in sip.log()  # the second hold in a row


def test_hold_of_a_call_not_with_a_person_is_ignored_and_keys_reach_the_caller_leg(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    sip = start_sip()
    caller = run_sipp(
        "caller_with_agent", sip.address, hotline.line_number, sipp_dir, background=True
    )
    assert isinstance(caller, subprocess.Popen)
    call_id = held_call(redis_client)
    bridge = SipBridge(redis_client)

    bridge.hold(call_id, True)
    bridge.send_dtmf(call_id, "12#")
    with pytest.raises(ValueError):
        bridge.send_dtmf(call_id, "12x")

    out, _ = caller.communicate(timeout=60)
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]
    seen = [(e.kind, e.data) for e in events_of(db_sessions, call_id, "hangup")]
    assert ("sip_keys_sent", {"count": 3}) in seen
    assert "sip_held" not in [kind for kind, _ in seen]
    log = sip.log()
    assert "not with a person here; hold ignored" in log
    assert "12#" not in log
