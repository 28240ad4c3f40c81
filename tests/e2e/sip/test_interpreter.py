"""An interpreter conferenced into a SIP call from the console, with ``amparo sip``.

With baresip phones (caller, agent, interpreter): once the interpreter joins, the caller hears
her as well as the agent, and she hears the caller; she receives the service's PIN as
telephone-events; removed, she leaves and caller and agent go on. With SIPp: an interpreting
service that does not answer leaves caller and agent connected, and the agent is told on her
console; a language nobody interprets is refused before anything is dialled.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from calls.interpreters import NoInterpreter, interpreter_for
from routing.channels import agent_channel
from store.models import Agent, Interpreter
from telephony.sip.commands import SipBridge
from tests.e2e.sip.peers import (
    Baresip,
    SipProcess,
    baresip_available,
    events_of,
    held_call,
    kinds,
    run_sipp,
    sipp_phone,
    speech_wav,
    wait_until,
)
from tests.e2e.sip.test_call_control import (
    WINDOW_S,
    agent_phone,
    bridged_caller,
    tone_wav,
    windows,
)
from tests.harness.hotline import Hotline

INTERPRETER_TONE_HZ = 2400.0  # the interpreter's "voice", apart from the agent's 1800 Hz
PIN = "4711#"


def configure_interpreter(
    db_sessions: sessionmaker[Session], hotline: Hotline, target: str, dtmf: str | None
) -> None:
    with db_sessions() as db, db.begin():
        db.add(Interpreter(line_id=hotline.line_id, language="ur", target=target, dtmf=dtmf))


def console_bridge(redis_client: redis.Redis, db_sessions: sessionmaker[Session]) -> SipBridge:
    """The console's SIP bridge as the composition root builds it."""
    return SipBridge(
        redis_client,
        interpreters=lambda line_id, language: interpreter_for(db_sessions, line_id, language),
    )


@pytest.mark.slow
@pytest.mark.skipif(baresip_available() is None, reason="baresip is not installed")
def test_the_interpreter_hears_the_caller_is_heard_by_her_gets_the_pin_and_leaves_when_removed(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    heard = tmp_path / "heard"
    interpreter_heard = tmp_path / "interpreter-heard"
    heard.mkdir()
    interpreter_heard.mkdir()
    agent = Baresip(tmp_path / "agent", "agent", tone_wav(tmp_path / "tone.wav"), answer=True)
    interpreter = Baresip(
        tmp_path / "interpreter",
        "interpreter",
        tone_wav(tmp_path / "interpreter.wav", hz=INTERPRETER_TONE_HZ),
        answer=True,
        hears_into=interpreter_heard,
    )
    caller_wav = speech_wav(tmp_path / "caller.wav", "This is the caller speaking.")
    caller = Baresip(tmp_path / "caller", "caller", caller_wav, hears_into=heard)
    try:
        for phone in (agent, interpreter, caller):
            phone.start()
        with db_sessions() as db, db.begin():
            db.execute(
                update(Agent).where(Agent.id == hotline.agents["ana"]).values(sip_uri=agent.uri)
            )
        configure_interpreter(db_sessions, hotline, interpreter.uri, PIN)
        sip = start_sip()
        caller.command("dial", f"sip:{hotline.line_number}@{sip.address}")
        call_id = held_call(redis_client, timeout_s=20)
        bridge = console_bridge(redis_client, db_sessions)
        assert bridge.connect(call_id, hotline.agents["ana"])
        events_of(db_sessions, call_id, "sip_bridged", timeout_s=20)
        time.sleep(3)
        bridge.add_interpreter(call_id, "ur-PK")  # her dialect: the "ur" service
        events_of(db_sessions, call_id, "sip_interpreter_joined", timeout_s=20)
        time.sleep(5)
        bridge.remove_interpreter(call_id)
        events_of(db_sessions, call_id, "sip_interpreter_removed", timeout_s=20)
        time.sleep(4)
        caller.command("hangup")
        events_of(db_sessions, call_id, "hangup", timeout_s=20)
        time.sleep(1)
    finally:
        for phone in (caller, interpreter, agent):
            phone.stop()

    seen = kinds(db_sessions, call_id)
    assert seen.index("sip_bridged") < seen.index("sip_interpreter_joined")
    assert seen.index("sip_interpreter_joined") < seen.index("sip_interpreter_removed")
    assert "sip_caller_hung_up" in seen and "sip_person_hung_up" not in seen
    assert PIN not in sip.log() and "4711" not in sip.log()  # the PIN is never logged
    pin = "".join(re.findall(r"received event: '(.)' \(end=0\)", interpreter.log()))
    assert pin in (PIN, PIN[1:]), interpreter.log()[-2000:]  # baresip may miss the first

    to_caller = windows(caller.heard(), hz=INTERPRETER_TONE_HZ)
    with_interpreter = [i for i, (level, share) in enumerate(to_caller) if share > 0.2]
    assert len(with_interpreter) * WINDOW_S >= 3, to_caller
    assert all(share < 0.05 for _, share in to_caller[with_interpreter[-1] + 3 :]), to_caller
    agent_heard = windows(caller.heard())
    after = agent_heard[with_interpreter[-1] + 3 :]
    assert sum(share > 0.5 for _, share in after) * WINDOW_S >= 2, after  # the agent goes on
    by_interpreter = windows(interpreter.heard())
    assert sum(level > 300 for level, _ in by_interpreter) * WINDOW_S >= 3, by_interpreter


def test_an_interpreter_who_does_not_answer_leaves_caller_and_agent_connected_and_tells_her(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    bridge = console_bridge(redis_client, db_sessions)
    with (
        agent_phone(db_sessions, hotline, sipp_dir) as phone,
        sipp_phone("agent_busy", sipp_dir) as busy,
    ):
        configure_interpreter(db_sessions, hotline, f"sip:interpreting@{busy.trunk}", PIN)
        sip = start_sip()
        caller, call_id = bridged_caller(
            "caller_with_agent", sip, hotline, db_sessions, redis_client, sipp_dir
        )
        console = redis_client.pubsub()
        console.subscribe(agent_channel(hotline.agents["ana"]))
        with pytest.raises(NoInterpreter):
            bridge.add_interpreter(call_id, "tlh")  # nobody interprets it: nothing dialled
        bridge.add_interpreter(call_id, "ur")
        failed = events_of(db_sessions, call_id, "sip_interpreter_failed", timeout_s=20)
        told = wait_until(
            lambda: _message(console, "interpreter_failed"), 10, "the agent was not told"
        )
        assert told == {"kind": "interpreter_failed", "call_id": call_id}
        assert busy.result(timeout=30).returncode == 0
        out, _ = caller.communicate(timeout=60)  # her own BYE after 25 s
        agent = phone.result(timeout=60)
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]  # never hung up on
    assert agent.returncode == 0, agent.output[-3000:]
    assert [e.data for e in failed if e.kind == "sip_interpreter_failed"] == [
        {"language": "ur", "status": 486}
    ]
    events_of(db_sessions, call_id, "sip_caller_hung_up", timeout_s=10)
    seen = kinds(db_sessions, call_id)
    assert seen.index("sip_interpreter_failed") < seen.index("sip_caller_hung_up")
    assert "sip_person_hung_up" not in seen


def test_an_interpreter_asked_for_while_the_agents_phone_rings_joins_once_she_answers(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    """The line's ``interpreter_on_accept``: the console asks for the interpreter right after
    the agent's phone is called; the SIP process calls her once the agent has answered, and
    announces her to caller and agent."""
    bridge = console_bridge(redis_client, db_sessions)
    with (
        agent_phone(db_sessions, hotline, sipp_dir, scenario="agent_answer_after_ring") as phone,
        sipp_phone("agent_answer", sipp_dir) as interpreting,
    ):
        configure_interpreter(db_sessions, hotline, f"sip:interpreting@{interpreting.trunk}", None)
        sip = start_sip()
        caller = run_sipp(
            "caller_with_agent", sip.address, hotline.line_number, sipp_dir, background=True
        )
        assert isinstance(caller, subprocess.Popen)
        call_id = held_call(redis_client)
        assert bridge.connect(call_id, hotline.agents["ana"])
        bridge.add_interpreter(call_id, "ur")  # at once, as the console's accept does
        events_of(db_sessions, call_id, "sip_interpreter_joined", timeout_s=20)
        announced = events_of(db_sessions, call_id, "sip_announced", timeout_s=20)
        out, _ = caller.communicate(timeout=60)  # her own BYE after 25 s
        agent = phone.result(timeout=60)
        interpreter = interpreting.result(timeout=30)
    assert caller.returncode == 0, out.decode(errors="replace")[-3000:]  # never hung up on
    assert agent.returncode == 0, agent.output[-3000:]
    assert interpreter.returncode == 0, interpreter.output[-3000:]  # Amparo's BYE at the end
    events_of(db_sessions, call_id, "sip_caller_hung_up", timeout_s=10)
    seen = kinds(db_sessions, call_id)
    assert seen.index("sip_bridged") < seen.index("sip_interpreter_joined"), sip.log()[-3000:]
    assert "sip_interpreter_failed" not in seen
    # Caller and agent hear that she joins (rendered in the call's locale, played to both).
    assert [e.data for e in announced if e.kind == "sip_announced"] == [
        {"prompt": "call.interpreter_joining"}
    ]


def _message(console: redis.client.PubSub, kind: str) -> dict[str, str] | None:
    message = console.get_message(timeout=0.2)
    while message is not None:
        if message["type"] == "message" and json.loads(message["data"]).get("kind") == kind:
            return json.loads(message["data"])  # type: ignore[no-any-return]
        message = console.get_message(timeout=0.2)
    return None
