"""The agent's side of the WebRTC tests: the console in Debian's Chromium with fake media (a
WAV as her microphone), Kamailio and rtpengine on free ports, and the audio checks."""

from __future__ import annotations

import array
import io
import math
import shutil
import subprocess
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.e2e.simulator.live_app import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason
from tests.harness.hotline import PASSWORD


def webrtc_missing_reason() -> str | None:
    """Why the browser phone's tests cannot run here (None when they can)."""
    for program, package in (
        ("kamailio", "kamailio"),
        ("rtpengine", "rtpengine-daemon"),
        ("baresip", "baresip"),
        ("espeak-ng", "espeak-ng"),
    ):
        if shutil.which(program) is None:
            return f"{program} is not installed (Debian package {package})"
    modules = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
    for module, package in (
        ("websocket.so", "kamailio-websocket-modules"),
        ("auth_ephemeral.so", "kamailio-autheph-modules"),
        ("tls.so", "kamailio-tls-modules"),
    ):
        if not (modules / module).exists():
            return f"Kamailio's {module} is missing (Debian package {package})"
    if not Path("agent_console/static/vendor/jssip.min.js").exists():
        return "JsSIP is not bundled (make voice-sdk)"
    return chromium_missing_reason()


def agent_voice(path: Path) -> Path:
    """The agent's microphone: Spanish speech, 48 kHz mono 16-bit, as Chromium's fake capture
    reads it (it loops the file)."""
    spoken = path.with_suffix(".22k.wav")
    subprocess.run(
        ["espeak-ng", "-v", "es", "-w", str(spoken), "Buenas tardes, le atiende una persona. " * 8],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["sox", str(spoken), "-r", "48000", "-c", "1", "-b", "16", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def caller_tone(path: Path, seconds: int = 150, hz: int = 440) -> Path:
    """The caller's voice: a steady tone, 8 kHz mono 16-bit, so her side and the agent's
    speech can be told apart in the bridge's recording."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            str(hz),
            "vol",
            "0.3",
        ],
        check=True,
        capture_output=True,
    )
    return path


def samples_of(wav_bytes: bytes) -> tuple[array.array[int], int]:
    with wave.open(io.BytesIO(wav_bytes)) as handle:
        rate = handle.getframerate()
        return array.array("h", handle.readframes(handle.getnframes())), rate


def tone_power(samples: array.array[int], rate: int, hz: float) -> float:
    """Goertzel: the RMS amplitude of one frequency in ``samples``."""
    if not samples:
        return 0.0
    coefficient = 2 * math.cos(2 * math.pi * hz / rate)
    before = previous = 0.0
    for sample in samples:
        before, previous = previous, sample + coefficient * previous - before
    power = previous * previous + before * before - coefficient * previous * before
    return math.sqrt(max(power, 0.0)) * math.sqrt(2) / len(samples)


def rms(samples: array.array[int]) -> float:
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def speech_beside_tone(samples: array.array[int], rate: int, tone_hz: float) -> float:
    """The RMS left once the caller's steady tone is taken out: the agent's speech."""
    tone = tone_power(samples, rate, tone_hz)
    return math.sqrt(max(rms(samples) ** 2 - tone * tone / 2, 0.0))


@contextmanager
def chromium(fake_microphone: Path | None) -> Iterator[Any]:
    """Debian's Chromium for WebRTC: with ``fake_microphone`` a granted fake device playing the
    WAV; without, no device is granted (the microphone is denied)."""
    from playwright.sync_api import sync_playwright

    # The test CA is not the system's: wss:// to Kamailio is accepted on its certificate.
    args = [
        *CHROMIUM_ARGS,
        "--autoplay-policy=no-user-gesture-required",
        "--ignore-certificate-errors",
    ]
    if fake_microphone is not None:
        args += [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_microphone}",
            "--allow-loopback-in-peer-connection",
        ]
    else:
        args += ["--use-fake-device-for-media-stream", "--deny-permission-prompts"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, base_url: str, login: str) -> None:
    page.goto(base_url + "/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console")


def phone_state(page: Any) -> str:
    return str(page.get_attribute("#softphone-status", "data-state") or "")


def wait_phone(page: Any, state: str, timeout_s: float = 30) -> None:
    page.wait_for_selector(
        f"#softphone-status[data-state='{state}']", state="attached", timeout=timeout_s * 1000
    )
