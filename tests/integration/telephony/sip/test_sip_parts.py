"""The pieces of ``amparo sip`` that need no call: settings, prompts, media plans, outbound
requests and the Redis commands that reach the process holding a call."""

from __future__ import annotations

import json
import shutil
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.directory import LineInfo
from calls.turn import CallTurn
from ivr_flows.actions import Dial, Enqueue, Escalate, Gather, Hangup, Record, Say, SetLocale
from settings import ConfigurationError, Settings, load_settings
from store.records import Call
from store.vocabulary import RiskLevel
from telephony.sip import commands
from telephony.sip.engine import engine_info
from telephony.sip.prompts import PromptLibrary, flow_prompts, wav_seconds
from tests.harness.hotline import make_hotline

needs_engine = pytest.mark.skipif(
    not engine_info()["available"], reason=f"SIP engine: {engine_info()['reason']}"
)
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"
)

LINE = LineInfo(
    line_id="line-1",
    name="Test",
    number="+34910000000",
    default_locale="es",
    jurisdiction="ES",
    flow="inbound_triage",
    overflow_number="+34900000002",
    urgent_number="+34900000003",
    urgent_team_id=None,
)


def test_sip_settings_default_to_off_and_name_a_bad_listen_address(tmp_path: Path) -> None:
    settings = load_settings({"AMPARO_DATA_DIR": str(tmp_path)})
    assert settings.sip_listen is None and settings.sip_max_calls == 480
    assert "(not set: SIP off)" in settings.describe()["AMPARO_SIP_LISTEN"]

    configured = load_settings(
        {
            "AMPARO_DATA_DIR": str(tmp_path),
            "AMPARO_SIP_LISTEN": "0.0.0.0:5060",
            "AMPARO_SIP_PASSWORD": "hunter2-secret",
        }
    )
    assert configured.sip_listen == "0.0.0.0:5060"
    assert "hunter2-secret" not in repr(configured) + str(configured.describe())

    with pytest.raises(ConfigurationError) as bad:
        load_settings({"AMPARO_DATA_DIR": str(tmp_path), "AMPARO_SIP_LISTEN": "5060"})
    assert bad.value.variable == "AMPARO_SIP_LISTEN"
    with pytest.raises(ConfigurationError):
        load_settings({"AMPARO_DATA_DIR": str(tmp_path), "AMPARO_SIP_REGISTRAR": "trunk:5060"})


@needs_espeak
def test_prompts_are_rendered_once_at_8khz_and_a_recorded_prompt_wins(tmp_path: Path) -> None:
    recorded = tmp_path / "locales"
    library = PromptLibrary(tmp_path / "cache", recorded_dir=recorded)

    first = library.file_for("triage.welcome", "es", {})
    mtime = first.stat().st_mtime_ns
    again = library.file_for("triage.welcome", "es", {})

    assert again == first and first.stat().st_mtime_ns == mtime
    with wave.open(str(first)) as handle:
        assert (handle.getframerate(), handle.getnchannels(), handle.getsampwidth()) == (8000, 1, 2)
    assert wav_seconds(first) > 1.0
    other = library.file_for("language.option", "fr", {"digit": "3"})
    assert other != first and other.parent.name == "fr"

    own = recorded / "gl" / "prompts" / "triage.welcome.wav"
    own.parent.mkdir(parents=True)
    own.write_bytes(first.read_bytes())
    assert library.file_for("triage.welcome", "gl", {}) == own


def test_every_message_of_the_builtin_flows_is_listed_for_prerendering() -> None:
    from ivr_flows.flows import BUILTIN_FLOWS, builtin_path

    items = flow_prompts([builtin_path(name) for name in BUILTIN_FLOWS], ["es"])
    ids = {(message_id, locale) for message_id, locale, _ in items}
    assert ("triage.welcome", "es") in ids
    assert ("language.option", "ar") in ids  # pinned to its own language
    assert ("common.invalid_key", "es") in ids


@needs_engine
@needs_espeak
def test_actions_become_media_steps_in_the_order_the_caller_hears_them(tmp_path: Path) -> None:
    from telephony.sip.media import (
        DialStep,
        GatherStep,
        HangupStep,
        HoldStep,
        PlayStep,
        RecordStep,
        plan_turn,
    )

    library = PromptLibrary(tmp_path / "cache", recorded_dir=tmp_path / "none")
    say = Say("triage.welcome", "es")
    turn = CallTurn(
        "call-1",
        LINE,
        (
            say,
            SetLocale("es"),
            Record("ES:inbound"),
            Gather(1, 8.0, prompts=(Say("triage.danger_now", "es"),), secret=False),
        ),
    )
    steps = plan_turn(turn, library)
    assert [type(step) for step in steps] == [PlayStep, RecordStep, GatherStep]
    gather = steps[2]
    assert isinstance(gather, GatherStep) and gather.timeout_s == 8.0
    assert gather.prompt.seconds > 0.5

    ending = plan_turn(
        CallTurn(
            "call-1",
            LINE,
            (
                Escalate("urgent", "duress", RiskLevel.EXTREMO, 900, connect_caller=False),
                Say("triage.connecting", "es"),
                Enqueue("general", 100, RiskLevel.BAJO),
            ),
        ),
        library,
    )
    assert [type(step) for step in ending] == [PlayStep, HoldStep]  # a silent escalation is mute
    dial = plan_turn(CallTurn("c", LINE, (Dial("fallback"),), True), library)
    assert dial == [DialStep("+34900000002", "")]
    assert plan_turn(CallTurn("c", LINE, (Hangup("done"),)), library) == [HangupStep("done")]


def test_an_outbound_call_is_rung_only_while_it_is_fresh_and_open(
    db_sessions: sessionmaker[Session],
) -> None:
    from telephony.sip.outbound import outbound_target

    hotline = make_hotline(db_sessions)
    now = datetime.now(UTC)

    def opened(call_id: str, age_s: float, **values: object) -> None:
        with db_sessions() as db, db.begin():
            call = Call(
                id=call_id,
                line_id=hotline.line_id,
                direction="checkin",
                channel="sip",
                external_id=f"sip:out-{call_id}",
                caller_number="+34600111222",
                beneficiary_id=hotline.beneficiary_id,
                status="ivr",
                started_at=now - timedelta(seconds=age_s),
            )
            for name, value in values.items():
                setattr(call, name, value)
            db.add(call)

    opened("out-fresh", 2)
    opened("out-stale", 120)
    opened("out-over", 2, status="abandoned", ended_at=now)
    opened("out-no-number", 2, caller_number=None)
    opened("in-call", 2, direction="inbound")

    target = outbound_target(db_sessions, "out-fresh", now, 45)
    assert target is not None and target.number == "+34600111222"
    assert outbound_target(db_sessions, "out-stale", now, 45) is None  # the ladder moved on
    assert outbound_target(db_sessions, "out-over", now, 45) is None
    assert outbound_target(db_sessions, "in-call", now, 45) is None
    assert outbound_target(db_sessions, "no-such-call", now, 45) is None
    # Without a number on the call, her registered phone.
    fallback = outbound_target(db_sessions, "out-no-number", now, 45)
    assert fallback is not None and fallback.number.startswith("+34")


def test_sip_statuses_of_an_unanswered_call_mean_busy_no_answer_or_failed() -> None:
    from checkins.policy import UNANSWERED_REASONS
    from telephony.sip.outbound import unanswered_reason

    assert unanswered_reason(486) == "busy" and unanswered_reason(603) == "busy"
    assert unanswered_reason(480) == "no-answer" and unanswered_reason(408) == "no-answer"
    assert unanswered_reason(404) == "failed" and unanswered_reason(0) == "failed"
    assert {unanswered_reason(code) for code in (486, 480, 487, 500)} <= set(UNANSWERED_REASONS)


def test_commands_reach_only_the_process_that_holds_the_call(redis_client: redis.Redis) -> None:
    assert commands.request_bridge(redis_client, "call-9", "agent-1") is False

    commands.claim_call(redis_client, "call-9", "sip-a")
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(commands.command_channel("sip-a"))
    assert commands.request_bridge(redis_client, "call-9", "agent-1") is True
    assert commands.request_monitor(redis_client, "call-9", "boss-1", "whisper") is True
    received = []
    for _ in range(20):
        message = listener.get_message(timeout=0.2)
        if message:
            received.append(json.loads(message["data"]))
        if len(received) == 2:
            break
    assert received == [
        {"op": "bridge", "call_id": "call-9", "agent_id": "agent-1"},
        {"op": "monitor", "call_id": "call-9", "supervisor_id": "boss-1", "mode": "whisper"},
    ]
    listener.close()

    commands.release_call(redis_client, "call-9", "sip-b")  # not the owner: no effect
    assert commands.owner_of(redis_client, "call-9") == "sip-a"
    commands.release_call(redis_client, "call-9", "sip-a")
    assert commands.owner_of(redis_client, "call-9") is None


def test_the_consoles_end_hold_and_keys_reach_the_process_that_holds_the_call(
    redis_client: redis.Redis,
) -> None:
    bridge = commands.SipBridge(redis_client)
    assert commands.request_end(redis_client, "call-5") is False  # nobody holds it
    bridge.end("call-5")  # logged, nothing raised: the console has saved the outcome already

    commands.claim_call(redis_client, "call-5", "sip-a")
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(commands.command_channel("sip-a"))
    bridge.hold("call-5", True)
    bridge.hold("call-5", False)
    bridge.send_dtmf("call-5", "12*#a")
    bridge.end("call-5")
    for bad in ("", "12x", "1" * 33):
        with pytest.raises(ValueError):
            bridge.send_dtmf("call-5", bad)
    received = []
    for _ in range(20):
        message = listener.get_message(timeout=0.2)
        if message:
            received.append(json.loads(message["data"]))
        if len(received) == 4:
            break
    listener.close()
    assert received == [
        {"op": "hold", "call_id": "call-5", "on": True},
        {"op": "hold", "call_id": "call-5", "on": False},
        {"op": "dtmf", "call_id": "call-5", "digits": "12*#A"},
        {"op": "end", "call_id": "call-5"},
    ]


def test_an_outbound_call_is_queued_once_with_ids_only_and_a_cancel_reaches_its_owner(
    redis_client: redis.Redis,
) -> None:
    from telephony.sip.dialer import SipDialer

    dialer = SipDialer(redis_client)
    assert dialer.channel.value == "sip"
    assert dialer.place_call("out-7", "+34600111222", "+34910000099") == "out-7"
    assert not commands.request_dial(redis_client, "out-7")  # asked twice: queued once
    queued = redis_client.lrange(commands.OUTBOUND_QUEUE, 0, -1)
    assert [json.loads(item) for item in queued] == [
        {"op": "dial", "call_id": "out-7", "caller_id": "+34910000099"}
    ]
    assert b"600111222" not in b"".join(
        redis_client.dump(name) or b"" for name in redis_client.scan_iter()
    )

    # Not taken yet: the flag stops whichever process takes it later.
    dialer.cancel("out-7")
    assert commands.cancelled(redis_client, "out-7")
    # Ringing in a process: the process is told.
    commands.claim_call(redis_client, "out-8", "sip-a")
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(commands.command_channel("sip-a"))
    assert commands.request_cancel(redis_client, "out-8") is True
    message = None
    for _ in range(20):
        message = listener.get_message(timeout=0.2)
        if message:
            break
    assert message is not None
    assert json.loads(message["data"]) == {"op": "cancel", "call_id": "out-8"}
    listener.close()


def test_with_sip_configured_check_ins_are_rung_through_the_sip_edge(
    settings: Settings, redis_client: redis.Redis
) -> None:
    from runtime import build_runtime
    from telephony.sip.dialer import SipDialer

    runtime = build_runtime(settings.with_overrides(sip_listen="127.0.0.1:5099"))
    try:
        dialer = runtime.outbound_dialer
        assert isinstance(dialer, SipDialer) and dialer.channel.value == "sip"
    finally:
        runtime.close()


def test_the_console_and_routing_reach_sip_calls_through_the_sip_process_that_holds_them(
    settings: Settings, redis_client: redis.Redis
) -> None:
    from runtime import build_runtime
    from telephony.sip.commands import SipBridge, SipRedirector

    runtime = build_runtime(settings)
    try:
        control = runtime.control
        assert isinstance(control.bridges["sip"], SipBridge)
        assert isinstance(control.redirectors["sip"], SipRedirector)
        assert control.bridges["sip"].connect("0" * 32, "agent-1") is False  # nobody holds it
    finally:
        runtime.close()


def test_live_sip_processes_are_found_from_their_heartbeats_without_a_keyspace_scan(
    redis_client: redis.Redis,
) -> None:
    commands.beat(redis_client, "sip-a", {"process_id": "sip-a", "legs": "3"}, now=1000.0)
    commands.beat(redis_client, "sip-b", {"process_id": "sip-b", "legs": "0"}, now=1010.0)
    assert [p["process_id"] for p in commands.live_processes(redis_client, now=1012.0)] == [
        "sip-a",
        "sip-b",
    ]
    # sip-a stopped beating: gone once its heartbeat is older than the TTL.
    later = 1000.0 + commands.PROCESS_TTL_S + 1
    assert [p["process_id"] for p in commands.live_processes(redis_client, now=later)] == ["sip-b"]
    commands.forget_process(redis_client, "sip-b")
    assert commands.live_processes(redis_client, now=later) == []
