"""Scale-out: Kamailio (deploy/kamailio/) in front of two ``amparo sip`` processes. Calls to
the one address are answered by both; after one process is killed with SIGKILL mid-test, new
calls are still answered, by the other."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from store.live_state import key
from tests.e2e.sip.peers import ROOT, SippResult, SipProcess, free_port, parse_sipp, run_sipp
from tests.harness.hotline import Hotline

DEPLOY = ROOT / "deploy" / "kamailio"

pytestmark = pytest.mark.skipif(
    shutil.which("kamailio") is None, reason="kamailio is not installed (Debian package kamailio)"
)


def render_config(workdir: Path, port: int, processes: list[SipProcess]) -> Path:
    """deploy/kamailio/kamailio.cfg with the lines marked EDIT pointed at this test."""
    listing = workdir / "dispatcher.list"
    listing.write_text("".join(f"1 sip:{process.address} 0 0\n" for process in processes))
    text = (DEPLOY / "kamailio.cfg").read_text()
    text = re.sub(r"listen=udp:\S+", f"listen=udp:127.0.0.1:{port}", text)
    text = re.sub(r"listen=tcp:\S+", f"listen=tcp:127.0.0.1:{port}", text)
    text = text.replace("/etc/kamailio/dispatcher.list", str(listing))
    config = workdir / "kamailio.cfg"
    config.write_text(text)
    return config


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Callable[[list[SipProcess]], str]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(processes: list[SipProcess]) -> str:
        port = free_port()
        workdir = tmp_path / "kamailio"
        workdir.mkdir()
        config = render_config(workdir, port, processes)
        log = (workdir / "kamailio.log").open("ab")
        proc = subprocess.Popen(
            ["kamailio", "-f", str(config), "-DD", "-E", "-Y", str(workdir), "-m", "64", "-M", "8"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        time.sleep(3)  # the first OPTIONS probes mark both processes active
        assert proc.poll() is None, (workdir / "kamailio.log").read_text()[-3000:]
        return f"127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


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
