"""The webhook benchmark runs end to end with a tiny load (its figures are not judged)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.harness.prism import REPO


@pytest.mark.slow
def test_the_webhook_benchmark_drives_both_servers_and_prints_its_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.webhooks", "--calls", "2", "--concurrency", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split("  ")[0]: line.split() for line in done.stdout.splitlines()}
    assert rows["amparo IVR webhooks"][-1] == "0", "no call went wrong"
    assert rows["bare Flask, constant TwiML"][-1] == "0"
    assert "ratio: amparo/bare throughput" in done.stdout
