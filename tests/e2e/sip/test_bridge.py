"""Bridging with real phones (baresip): a caller speaking a WAV goes through the IVR and the
queue, the agent's auto-answering phone is called when she accepts, both legs are joined and
recorded (the recording is not silence), a supervisor listens, whispers, barges and leaves, and the
hang-up of one side ends the other."""

from __future__ import annotations

import array
import io
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from calls.control import supervisor_field
from recordings_policy.access import RecordingAccess
from recordings_policy.services import RecordingArchive
from recordings_policy.vault import MasterKeys
from store.live_state import key
from store.models import Agent
from store.records import Recording
from telephony.sip import commands
from telephony.sip.commands import SipBridge
from tests.e2e.sip.peers import (
    Baresip,
    SipProcess,
    baresip_available,
    held_call,
    kinds,
    speech_wav,
    wait_until,
)
from tests.harness.hotline import Hotline

pytestmark = pytest.mark.skipif(
    baresip_available() is None, reason="baresip is not installed (Debian package baresip)"
)

SILENCE_RMS = 200  # 16-bit samples; espeak speech through G.711 sits in the thousands


def rms(wav_bytes: bytes) -> float:
    with wave.open(io.BytesIO(wav_bytes)) as handle:
        samples = array.array("h", handle.readframes(handle.getnframes()))
    if not samples:
        return 0.0
    return float((sum(s * s for s in samples) / len(samples)) ** 0.5)


@pytest.fixture
def phones(tmp_path: Path) -> Iterator[Callable[..., Baresip]]:
    started: list[Baresip] = []

    def phone(user: str, answer: bool) -> Baresip:
        wav = speech_wav(tmp_path / f"{user}.wav", f"This is {user} speaking on the line.")
        peer = Baresip(tmp_path / user, user, wav, answer=answer).start()
        started.append(peer)
        return peer

    yield phone
    for peer in started:
        peer.stop()


def set_sip_uri(db_sessions: sessionmaker[Session], agent_id: str, uri: str) -> None:
    with db_sessions() as db, db.begin():
        db.execute(update(Agent).where(Agent.id == agent_id).values(sip_uri=uri))


@pytest.mark.slow
def test_an_accepted_call_is_bridged_recorded_monitored_left_and_ended_by_the_agent(
    start_sip: Callable[..., SipProcess],
    phones: Callable[..., Baresip],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sip_data_dir: Path,
    data_key: bytes,
) -> None:
    sip = start_sip()
    agent = phones("agent", answer=True)
    boss = phones("boss", answer=True)
    caller = phones("caller", answer=False)
    set_sip_uri(db_sessions, hotline.agents["ana"], agent.uri)
    set_sip_uri(db_sessions, hotline.agents["boss"], boss.uri)

    caller.command("dial", f"sip:{hotline.line_number}@{sip.address}")
    call_id = held_call(redis_client, timeout_s=20)
    caller.command("sndcode", "1")  # Spanish; recording notice, recording starts
    time.sleep(2)
    caller.command("sndcode", "0")  # a person, please
    wait_until(lambda: "outcome" in kinds(db_sessions, call_id), 40, "never queued")

    assert commands.request_bridge(redis_client, call_id, hotline.agents["ana"])
    wait_until(lambda: "sip_bridged" in kinds(db_sessions, call_id), 20, sip.log()[-3000:])
    time.sleep(4)  # both talk

    for mode in ("listen", "whisper", "barge"):
        assert commands.request_monitor(redis_client, call_id, hotline.agents["boss"], mode)
        time.sleep(1.5)
    events = kinds(db_sessions, call_id)
    assert "sip_supervisor_joined" in events
    assert events.count("sip_supervisor_mode") == 2

    boss_id = hotline.agents["boss"]
    redis_client.hset(key("call", call_id), supervisor_field(boss_id), "barge")  # the console's
    SipBridge(redis_client).stop_supervising(call_id, boss_id)
    wait_until(lambda: "session closed" in boss.log(), 10, "the supervisor's leg was not ended")
    wait_until(
        lambda: not redis_client.hexists(key("call", call_id), supervisor_field(boss_id)),
        10,
        "the board still shows her mode",
    )
    assert "sip_supervisor_left" in kinds(db_sessions, call_id)
    assert "sip_person_hung_up" not in kinds(db_sessions, call_id), "caller and agent go on"

    agent.command("hangup")
    wait_until(lambda: "hangup" in kinds(db_sessions, call_id), 20, "caller's leg not ended")
    assert "sip_person_hung_up" in kinds(db_sessions, call_id)
    assert "hung up; ending the caller's leg" in sip.log()

    recording_id = wait_until(
        lambda: _recording_of(db_sessions, call_id), 20, "no recording was sealed"
    )
    keys = MasterKeys(current=data_key)
    archive = RecordingArchive.under(sip_data_dir, db_sessions, keys)
    playback = RecordingAccess(db_sessions, archive.storage, keys).stream_for(
        str(recording_id),
        actor_id=hotline.agents["boss"],
        role="supervisor",
        reason="checking the SIP bridge recording in a test",
    )
    audio = b"".join(playback.chunks)
    assert audio[:4] == b"RIFF", (len(audio), audio[:64])
    assert rms(audio) > SILENCE_RMS


def _recording_of(db_sessions: sessionmaker[Session], call_id: str) -> str | None:
    with db_sessions() as db:
        found = db.scalars(select(Recording.id).where(Recording.call_id == call_id)).first()
        return None if found is None else str(found)


@pytest.mark.slow
def test_when_the_caller_hangs_up_the_agents_leg_is_ended_and_logged(
    start_sip: Callable[..., SipProcess],
    phones: Callable[..., Baresip],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
) -> None:
    sip = start_sip()
    agent = phones("agent", answer=True)
    caller = phones("caller", answer=False)
    set_sip_uri(db_sessions, hotline.agents["ana"], agent.uri)

    caller.command("dial", f"sip:{hotline.line_number}@{sip.address}")
    call_id = held_call(redis_client, timeout_s=20)
    assert commands.request_bridge(redis_client, call_id, hotline.agents["ana"])
    wait_until(lambda: "sip_bridged" in kinds(db_sessions, call_id), 20, sip.log()[-3000:])

    caller.command("hangup")

    wait_until(lambda: "sip_caller_hung_up" in kinds(db_sessions, call_id), 20, sip.log()[-3000:])
    wait_until(lambda: "session closed" in agent.log(), 10, "the agent's leg was not ended")
    wait_until(lambda: "hangup" in kinds(db_sessions, call_id), 10, "hang-up not logged")
