"""The mass-alarm benchmark runs end to end on a small scale (figures are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def test_the_benchmark_lists_acknowledges_and_shows_every_alarm() -> None:
    """In its own process: the benchmark configures its own keys and database."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.alarm_latency", "--alarms", "6", "--members", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout
    for figure in ("alarm to listed", "alarm to acknowledged", "alarm to location shown"):
        assert f"{figure}".ljust(26) + " n=6 " in printed, printed
    assert "baseline GET /healthz" in printed
