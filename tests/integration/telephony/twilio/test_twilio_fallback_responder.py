"""``amparo fallback`` keeps callers reaching people when the web tier is gone: Twilio, finding
the voice URL dead, requests the fallback URL on the responder (its own process, with no
database, no Redis and no data dir), which dials the line's overflow number, then its urgent
number, then ``AMPARO_FALLBACK_NUMBER``, round and round, until someone answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from runner import _fallback_book
from tests.harness.services import free_port
from tests.harness.twilio_driver import HttpTransport, TwilioDriver

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "docs" / "hotline.example.toml"  # line +34 900 555 010
LINE, OVERFLOW, URGENT = "+34900555010", "+34900555011", "+34900555012"
LAST_RESORT = "+34900000009"


@pytest.fixture(scope="module")
def responder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("fallback")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMPARO_")}
    env.update({"AMPARO_FALLBACK_NUMBER": LAST_RESORT, "AMPARO_DATA_DIR": str(tmp / "data")})
    log = (tmp / "fallback.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "fallback", str(EXAMPLE), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, (tmp / "fallback.log").read_text()
            assert time.monotonic() < deadline, "amparo fallback did not start"
            time.sleep(0.3)
        yield base, tmp / "data"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()


def test_with_the_web_tier_dead_a_caller_is_dialled_through_to_a_person(
    responder: tuple[str, Path],
) -> None:
    base, data_dir = responder
    dead_web = f"http://127.0.0.1:{free_port()}"
    twilio = TwilioDriver(HttpTransport(timeout=10), base)
    call = twilio.call(
        LINE,
        "+34655000001",
        voice_url=f"{dead_web}/twilio/voice/incoming",
        fallback_url=f"{base}/twilio/voice/fallback",
    )
    assert (call.where, call.dialled) == ("dialing", [OVERFLOW])
    call.dial_ended("no-answer")
    assert (call.where, call.dialled[-1]) == ("dialing", URGENT)
    call.dial_ended("busy")
    assert (call.where, call.dialled[-1]) == ("dialing", LAST_RESORT)
    call.dial_ended("failed")
    assert (call.where, call.dialled[-1]) == ("dialing", OVERFLOW)  # round and round
    call.dial_ended("completed")  # a person answered, and the conversation ended
    assert call.where == "ended"
    assert not data_dir.exists()  # no database, no Redis, no keys: nothing of its own


def test_a_number_the_file_does_not_name_dials_the_last_resort(
    responder: tuple[str, Path],
) -> None:
    base, _ = responder
    twilio = TwilioDriver(HttpTransport(timeout=10), base)
    call = twilio.call(
        "+34910000000", "+34655000002", voice_url=f"http://127.0.0.1:{free_port()}/x"
    )
    assert (call.where, call.dialled) == ("dialing", [LAST_RESORT])


def test_the_responder_refuses_to_start_with_no_number_to_dial(tmp_path: Path) -> None:
    empty = tmp_path / "hotline.toml"
    empty.write_text("")
    with pytest.raises(SystemExit) as stopped:
        _fallback_book(empty, None)
    assert stopped.value.code == 2
    book = _fallback_book(EXAMPLE, None)
    assert book.candidates(LINE) == [OVERFLOW, URGENT]
