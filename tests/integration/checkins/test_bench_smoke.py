"""The check-in benchmark runs end to end on a small scale (figures are not checked)."""

from __future__ import annotations

import pytest

from bench.checkins import main

pytestmark = pytest.mark.slow


def test_the_benchmark_prints_its_three_figures(capsys: pytest.CaptureFixture[str]) -> None:
    figures = main(
        ["--beneficiaries", "200", "--jobs", "5", "--drift-jobs", "4", "--drift-seconds", "2"]
    )
    assert figures.planned == 200
    assert figures.drift_jobs == 4
    printed = capsys.readouterr().out
    assert "planning a day" in printed and "jobs/s" in printed and "p99" in printed
