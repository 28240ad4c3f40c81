"""The check-in benchmark runs end to end on a small scale (figures are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def test_the_benchmark_prints_its_three_figures() -> None:
    """In its own process: the benchmark configures its own keys and database."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.checkins",
            "--beneficiaries",
            "200",
            "--jobs",
            "5",
            "--drift-jobs",
            "4",
            "--drift-seconds",
            "2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    printed = done.stdout
    assert "planning a day" in printed and "jobs/s" in printed and "p99" in printed
    assert "200" in printed
