"""Admission control and shutdown: a full process refuses with 503 + Retry-After, and SIGTERM
with calls up ends them and exits cleanly."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from store.live_state import key
from tests.e2e.sip.peers import SippResult, SipProcess, parse_sipp, run_sipp
from tests.harness.hotline import Hotline


def wait_for_legs(client: redis.Redis, sip: SipProcess, legs: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        beat = client.hget(key("sip", "process", sip.process_id), "legs")
        if beat is not None and int(beat) >= legs:
            return
        time.sleep(0.2)
    raise AssertionError(f"{legs} legs never up: {sip.log()[-2000:]}")


def background_callers(
    sip: SipProcess, hotline: Hotline, workdir: Path, calls: int
) -> subprocess.Popen[bytes]:
    process = run_sipp(
        "load_caller",
        sip.address,
        hotline.line_number,
        workdir,
        calls=calls,
        concurrent=calls,
        rate=50,
        background=True,
    )
    assert isinstance(process, subprocess.Popen)
    return process


def test_a_call_over_capacity_gets_503_with_retry_after_and_the_others_carry_on(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    sip = start_sip(AMPARO_SIP_MAX_CALLS="2")
    callers = background_callers(sip, hotline, sipp_dir, calls=2)
    wait_for_legs(redis_client, sip, 2)

    refused = run_sipp("over_capacity", sip.address, hotline.line_number, sipp_dir)

    assert isinstance(refused, SippResult)
    assert refused.returncode == 0 and refused.succeeded == 1, refused.output[-3000:]
    out, _ = callers.communicate(timeout=60)
    carried_on = parse_sipp(callers.returncode, out.decode(errors="replace"))
    assert carried_on.succeeded == 2 and carried_on.failed == 0, carried_on.output[-3000:]
    assert sip.process is not None and sip.process.poll() is None


def test_sigterm_with_calls_up_ends_them_and_exits_cleanly(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    sip = start_sip()
    callers = background_callers(sip, hotline, sipp_dir, calls=3)
    wait_for_legs(redis_client, sip, 3)

    started = time.monotonic()
    code = sip.terminate(timeout=30)

    assert code == 0, sip.log()[-3000:]
    assert time.monotonic() - started < 15
    assert "stopping with 3 calls up" in sip.log()
    callers.communicate(timeout=60)
    assert not redis_client.exists(key("sip", "process", sip.process_id))
