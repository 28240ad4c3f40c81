"""Scale-out: Kamailio (deploy/kamailio/) in front of two ``amparo sip`` processes. Calls to
the one address are answered by both; after one process is killed with SIGKILL mid-test, new
calls are still answered, by the other."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from store.live_state import key
from tests.e2e.sip.peers import SippResult, SipProcess, parse_sipp, run_sipp
from tests.e2e.sip.proxy import Kamailio
from tests.harness.hotline import Hotline

pytestmark = pytest.mark.skipif(
    shutil.which("kamailio") is None, reason="kamailio is not installed (Debian package kamailio)"
)


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Callable[[list[SipProcess]], str]]:
    proxies: list[Kamailio] = []

    def start(processes: list[SipProcess]) -> str:
        proxy = Kamailio(tmp_path / "kamailio", [process.address for process in processes])
        proxies.append(proxy.start())
        return proxy.address

    yield start
    for proxy in proxies:
        proxy.stop()


def answered(client: redis.Redis, process: SipProcess) -> int:
    return int(client.hget(key("sip", "process", process.process_id), "answered") or 0)


@pytest.mark.slow
def test_calls_through_kamailio_survive_one_process_killed_mid_test(
    start_sip: Callable[..., SipProcess],
    kamailio: Callable[[list[SipProcess]], str],
    hotline: Hotline,
    redis_client: redis.Redis,
    sipp_dir: Path,
) -> None:
    first, second = start_sip(), start_sip()
    proxy = kamailio([first, second])

    before = run_sipp(
        "load_caller", proxy, hotline.line_number, sipp_dir, calls=10, concurrent=10, rate=5
    )
    assert isinstance(before, SippResult)
    assert before.failed == 0 and before.succeeded == 10, before.output[-3000:]
    time.sleep(6)  # heartbeats carry the counters
    assert answered(redis_client, first) > 0 and answered(redis_client, second) > 0

    during = run_sipp(
        "load_caller",
        proxy,
        hotline.line_number,
        sipp_dir,
        calls=30,
        concurrent=30,
        rate=5,
        background=True,
        timeout_s=60,
    )
    assert isinstance(during, subprocess.Popen)
    time.sleep(2)
    first.kill()  # SIGKILL: no goodbye, no 503, sockets gone
    out, _ = during.communicate(timeout=120)
    during_result = parse_sipp(during.returncode, out.decode(errors="replace"))
    second_before = answered(redis_client, second)

    after = run_sipp(
        "load_caller", proxy, hotline.line_number, sipp_dir, calls=10, concurrent=10, rate=5
    )

    assert isinstance(after, SippResult)
    assert after.failed == 0 and after.succeeded == 10, after.output[-3000:]
    # Calls that were up on the killed process are lost with it; every other one went through.
    assert during_result.succeeded >= 20, during_result.output[-3000:]
    time.sleep(6)
    assert answered(redis_client, second) >= second_before + 10
