"""The agent's mute on SIP, with ``amparo sip``: muting keeps both legs up and is logged; a
caller not with a person is left as she is. With baresip phones, what the caller hears is
checked: the agent (a tone), then nothing of her while she is muted (a hold and resume in
between does not unmute her), then the agent again."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from store.models import Agent
from telephony.sip.commands import SipBridge
from tests.e2e.sip.peers import (
    Baresip,
    SipProcess,
    baresip_available,
    events_of,
    held_call,
    run_sipp,
    speech_wav,
)
from tests.e2e.sip.test_call_control import (
    WINDOW_S,
    agent_phone,
    bridged_caller,
    tone_wav,
    windows,
)
from tests.harness.hotline import Hotline


def test_mute_and_unmute_keep_both_legs_and_a_caller_not_with_a_person_is_left_alone(
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
        bridge.mute(call_id, True)
        events_of(db_sessions, call_id, "sip_muted")
        bridge.mute(call_id, True)  # twice: nothing more
        bridge.mute(call_id, False)
        events_of(db_sessions, call_id, "sip_unmuted")

        out, _ = caller.communicate(timeout=60)  # her own BYE after 25 s
        agent = phone.result(timeout=60)
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]  # never hung up on
    assert agent.returncode == 0, agent.output[-3000:]
    seen = [(e.kind, e.data) for e in events_of(db_sessions, call_id, "hangup")]
    kinds = [kind for kind, _ in seen]
    assert ("sip_muted", {"by": hotline.agents["ana"]}) in seen
    assert kinds.count("sip_muted") == 1 and kinds.count("sip_unmuted") == 1
    assert kinds.index("sip_bridged") < kinds.index("sip_muted") < kinds.index("sip_unmuted")
    assert "person muted already; ignored" in sip.log()

    waiting = run_sipp(
        "caller_with_agent", sip.address, hotline.line_number, sipp_dir, background=True
    )
    assert isinstance(waiting, subprocess.Popen)
    alone = held_call(redis_client)
    bridge.mute(alone, True)
    out, _ = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, out.decode(errors="replace")[-3000:]
    kinds = [e.kind for e in events_of(db_sessions, alone, "hangup")]
    assert "sip_muted" not in kinds
    assert "not with a person here; mute ignored" in sip.log()


@pytest.mark.slow
@pytest.mark.skipif(baresip_available() is None, reason="baresip is not installed")
def test_muted_the_caller_hears_nothing_of_the_agent_even_across_hold_until_unmuted(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    heard = tmp_path / "heard"
    heard.mkdir()
    agent = Baresip(tmp_path / "agent", "agent", tone_wav(tmp_path / "tone.wav"), answer=True)
    caller_wav = speech_wav(tmp_path / "caller.wav", "This is the caller speaking.")
    caller = Baresip(tmp_path / "caller", "caller", caller_wav, hears_into=heard)
    try:
        agent.start()
        caller.start()
        with db_sessions() as db, db.begin():
            db.execute(
                update(Agent).where(Agent.id == hotline.agents["ana"]).values(sip_uri=agent.uri)
            )
        sip = start_sip()
        caller.command("dial", f"sip:{hotline.line_number}@{sip.address}")
        call_id = held_call(redis_client, timeout_s=20)
        bridge = SipBridge(redis_client)
        assert bridge.connect(call_id, hotline.agents["ana"])
        events_of(db_sessions, call_id, "sip_bridged", timeout_s=20)
        time.sleep(4)
        bridge.mute(call_id, True)
        events_of(db_sessions, call_id, "sip_muted")
        time.sleep(3)
        bridge.hold(call_id, True)
        events_of(db_sessions, call_id, "sip_held")
        time.sleep(2)
        bridge.hold(call_id, False)  # back from hold, still muted
        events_of(db_sessions, call_id, "sip_resumed")
        time.sleep(3)
        bridge.mute(call_id, False)
        events_of(db_sessions, call_id, "sip_unmuted")
        time.sleep(4)
        caller.command("hangup")
        events_of(db_sessions, call_id, "hangup", timeout_s=20)
        time.sleep(1)
    finally:
        caller.stop()
        agent.stop()

    parts = windows(caller.heard())
    with_agent = [i for i, (level, share) in enumerate(parts) if level > 300 and share > 0.5]
    assert len(with_agent) * WINDOW_S >= 5, parts
    gaps = [(a, b) for a, b in itertools.pairwise(with_agent) if (b - a) * WINDOW_S >= 6]
    assert len(gaps) == 1, parts  # one stretch without her: mute .. unmute
    muted = parts[gaps[0][0] + 2 : gaps[0][1] - 1]
    assert all(share < 0.1 for _, share in muted), muted  # nothing of the agent, hold or not
    assert max(level for level, _ in muted) > 300, muted  # the hold loop while on hold
