"""The agent answers in her browser, with no Twilio: headless Chromium signs in to the console
in SIP mode, its JsSIP phone registers with Kamailio (deploy/kamailio/) over WebSocket with the
ephemeral credentials the console minted, and rtpengine bridges its DTLS-SRTP to the plain RTP
of ``amparo sip``. A baresip caller goes through the IVR to the queue; the agent accepts the
offer, her browser is called and answers; the bridge's recording holds both voices; her
hang-up ends the caller's leg and the caller's ends hers; after Kamailio restarts the browser
registers again and takes the next call."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from recordings_policy.access import RecordingAccess
from recordings_policy.services import RecordingArchive
from recordings_policy.vault import MasterKeys
from store.live_state import key
from store.models import Agent
from store.records import Recording
from telephony.sip.browser_phones import BrowserPhoneRegistrar
from tests.e2e.simulator.live_app import LiveApp, running_web
from tests.e2e.sip.browser_agent import (
    agent_voice,
    caller_tone,
    chromium,
    phone_state,
    samples_of,
    sign_in,
    speech_beside_tone,
    tone_power,
    wait_phone,
    webrtc_missing_reason,
)
from tests.e2e.sip.certificates import make_certificates
from tests.e2e.sip.peers import ROOT, Baresip, SipProcess, free_port, held_call, kinds, wait_until
from tests.e2e.sip.proxy import TEST_SECRET, Kamailio, RtpEngine
from tests.harness.hotline import Hotline

_MISSING = webrtc_missing_reason()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))]

TONE_HZ = 440
SILENCE_RMS = 200  # 16-bit samples


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[Kamailio, RtpEngine]]:
    rtpengine = RtpEngine(tmp_path / "rtpengine").start()
    kamailio = Kamailio(tmp_path / "kamailio", [], rtpengine_ng=rtpengine.ng_port)
    try:
        yield kamailio, rtpengine
    finally:
        kamailio.stop()
        rtpengine.stop()


@pytest.fixture
def console_web(
    proxy: tuple[Kamailio, RtpEngine],
    database_url: str,
    redis_url: str,
    data_key: bytes,
    tmp_path: Path,
) -> Iterator[LiveApp]:
    kamailio, _ = proxy
    with running_web(
        port=free_port(),
        database_url=database_url,
        redis_url=redis_url,
        data_key=data_key,
        data_dir=tmp_path / "web",
        extra_env={"AMPARO_WEBRTC_WS_URL": kamailio.ws_url, "AMPARO_WEBRTC_SECRET": TEST_SECRET},
    ) as live:
        yield live


def _login(db_sessions: sessionmaker[Session], agent_id: str) -> str:
    with db_sessions() as db:
        agent = db.get(Agent, agent_id)
        assert agent is not None
        return agent.login


def _held(client: redis.Redis) -> list[str]:
    return [str(name).rsplit(":", 1)[1] for name in client.scan_iter(match=key("sip", "call", "*"))]


def _loudest_mic_level(page: Any, seconds: float) -> float:
    """The highest level her microphone's meter shows over ``seconds`` (speech has pauses)."""
    levels = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        levels.append(float(page.evaluate("document.getElementById('browser-phone-mic').value")))
        time.sleep(0.2)
    return max(levels)


def _take_offer(
    page: Any, db_sessions: sessionmaker[Session], call_id: str, sip: SipProcess
) -> None:
    page.wait_for_selector("#offer:not([hidden])", timeout=40_000)
    page.click("#offer-accept")
    wait_until(lambda: "sip_bridged" in kinds(db_sessions, call_id), 30, sip.log()[-3000:])
    wait_phone(page, "in-call", 15)


def _recording(
    db_sessions: sessionmaker[Session], call_id: str, data_dir: Path, data_key: bytes, boss: str
) -> bytes:
    def found() -> str | None:
        with db_sessions() as db:
            row = db.scalars(select(Recording.id).where(Recording.call_id == call_id)).first()
            return None if row is None else str(row)

    recording_id = str(wait_until(found, 20, "no recording was sealed"))
    keys = MasterKeys(current=data_key)
    archive = RecordingArchive.under(data_dir, db_sessions, keys)
    playback = RecordingAccess(db_sessions, archive.storage, keys).stream_for(
        recording_id,
        actor_id=boss,
        role="supervisor",
        reason="checking the browser phone's bridge recording in a test",
    )
    return b"".join(playback.chunks)


def test_the_agent_answers_in_her_browser_through_kamailio_and_rtpengine(
    proxy: tuple[Kamailio, RtpEngine],
    console_web: LiveApp,
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    sip_data_dir: Path,
    data_key: bytes,
    tmp_path: Path,
) -> None:
    kamailio, _ = proxy
    sip = start_sip(AMPARO_WEBRTC_REGISTRAR=kamailio.address)
    kamailio.processes = [sip.address]
    kamailio.start()
    heard = tmp_path / "caller-heard"
    heard.mkdir()
    caller = Baresip(
        tmp_path / "caller", "caller", caller_tone(tmp_path / "tone.wav"), hears_into=heard
    ).start()
    try:
        with chromium(agent_voice(tmp_path / "agent.wav")) as browser:
            page = browser.new_page()
            sign_in(page, console_web.base_url, _login(db_sessions, hotline.agents["ana"]))
            wait_phone(page, "ready", 30)
            page.click("#state-available")

            # -- first call: the agent hangs up in the browser --------------------------------
            caller.command("dial", f"sip:{hotline.line_number}@{sip.address}")
            call_id = held_call(redis_client, timeout_s=20)
            caller.command("sndcode", "1")  # Spanish; recording notice, recording starts
            time.sleep(2)
            caller.command("sndcode", "0")  # a person, please
            _take_offer(page, db_sessions, call_id, sip)
            time.sleep(3)
            level = _loudest_mic_level(page, 2.0)
            page.click("#browser-phone-mute")
            wait_phone(page, "muted", 5)
            page.click("#browser-phone-mute")
            wait_phone(page, "in-call", 5)
            page.click("#browser-phone-keypad button[data-key='5']")
            wait_until(
                lambda: "passed on to the caller" in sip.log(), 10, "the keypad's key was lost"
            )
            time.sleep(3)  # both talk
            page.click("#browser-phone-hangup")
            wait_until(lambda: "hangup" in kinds(db_sessions, call_id), 20, sip.log()[-3000:])
            events = kinds(db_sessions, call_id)
            assert "hung_up_by_agent" in events, events
            wait_phone(page, "ready", 15)

            audio = _recording(db_sessions, call_id, sip_data_dir, data_key, hotline.agents["boss"])
            samples, rate = samples_of(audio)
            # The bridge, before she hung up: no prompt or hold loop plays to the caller then,
            # so beside the caller's tone the recorder holds only the agent.
            last = samples[-rate * 3 :]
            caller_side = tone_power(last, rate, TONE_HZ)
            agent_side = speech_beside_tone(last, rate, TONE_HZ)
            caller_heard, heard_rate = samples_of(
                sorted(heard.glob("dump-*-dec.wav"))[-1].read_bytes()
            )
            agent_to_caller = speech_beside_tone(
                caller_heard[-heard_rate * 3 :], heard_rate, TONE_HZ
            )
            print(
                f"\nbrowser phone: mic level {level:.2f}; recording: caller tone rms "
                f"{caller_side:.0f}, agent speech rms {agent_side:.0f}; the caller heard "
                f"{agent_to_caller:.0f}"
            )
            assert level > 0.01
            assert caller_side > SILENCE_RMS
            assert agent_side > SILENCE_RMS
            assert agent_to_caller > SILENCE_RMS
            page.select_option("#disposition", "support_given")
            page.click("#end-call")
            page.wait_for_selector("#call-actions", state="hidden", timeout=10_000)

            # -- Kamailio restarts: the browser registers again --------------------------------
            kamailio.stop()
            wait_phone(page, "reconnecting", 20)
            kamailio.start(settle_s=1)
            wait_phone(page, "ready", 30)

            # -- second call: the caller hangs up -------------------------------------------------
            caller.command("dial", f"sip:{hotline.line_number}@{sip.address}")
            second = wait_until(
                lambda: next((c for c in _held(redis_client) if c != call_id), None),
                20,
                "no second call",
            )
            caller.command("sndcode", "1")
            time.sleep(2)
            caller.command("sndcode", "0")
            _take_offer(page, db_sessions, str(second), sip)
            time.sleep(3)
            caller.command("hangup")
            wait_phone(page, "ready", 20)
            wait_until(
                lambda: "sip_caller_hung_up" in kinds(db_sessions, str(second)), 20, "not ended"
            )
            assert phone_state(page) == "ready"
    finally:
        caller.stop()


TRY_REGISTER = """async (attempts) => {
  const results = [];
  for (const attempt of attempts) {
    results.push(await new Promise((resolve) => {
      const ua = new JsSIP.UA({
        sockets: [new JsSIP.WebSocketInterface(attempt.ws_url)],
        uri: attempt.uri,
        authorization_user: attempt.username || undefined,
        password: attempt.password || undefined,
        register: true,
        connection_recovery_min_interval: 1,
      });
      const done = (outcome) => { ua.stop(); resolve(outcome); };
      ua.on("registered", () => done("registered"));
      ua.on("registrationFailed", (e) => done(e.response ? e.response.status_code : e.cause));
      setTimeout(() => done("no answer"), 10000);
      ua.start();
    }));
  }
  return results;
}"""


def test_the_registrar_refuses_browsers_without_valid_credentials_and_a_denied_microphone_is_said(
    proxy: tuple[Kamailio, RtpEngine],
    console_web: LiveApp,
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    kamailio, _ = proxy
    kamailio.certificates = make_certificates(tmp_path / "certs")
    kamailio.start(settle_s=1)
    ana, farah = hotline.agents["ana"], hotline.agents["farah"]
    minted = BrowserPhoneRegistrar(kamailio.ws_url, TEST_SECRET, 600)
    valid = asdict(minted.issue(ana))
    anonymous = {**valid, "username": "", "password": ""}
    expired = asdict(
        BrowserPhoneRegistrar(
            kamailio.ws_url, TEST_SECRET, 600, clock=lambda: time.time() - 3600
        ).issue(ana)
    )
    forged = asdict(BrowserPhoneRegistrar(kamailio.ws_url, "x" * 40, 600).issue(ana))
    as_someone_else = {**asdict(minted.issue(farah)), "uri": valid["uri"]}
    over_wss = {**valid, "ws_url": kamailio.wss_url}

    with chromium(None) as browser:
        page = browser.new_page()
        sign_in(page, console_web.base_url, _login(db_sessions, farah))
        wait_phone(page, "mic-denied", 20)
        said = page.inner_text("#softphone-status")
        # A bare page (the console's policy lets it reach only its own WebSocket URL).
        bare = browser.new_page()
        bare.add_script_tag(path=str(ROOT / "agent_console/static/vendor/jssip.min.js"))
        outcomes = bare.evaluate(
            TRY_REGISTER, [valid, anonymous, expired, forged, as_someone_else, over_wss]
        )

    assert "microphone is blocked" in said, said
    assert outcomes == ["registered", 401, 401, 401, 403, "registered"], (
        outcomes,
        kamailio.log()[-3000:],
    )
