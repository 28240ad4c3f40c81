"""The routing benchmarks still run (tiny sizes, no timing asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import redis

BENCH = Path(__file__).resolve().parents[3] / "bench"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_routing_throughput_prints_its_table(
    redis_client: redis.Redis, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = load("routing_throughput").run(redis_url, calls=60, agents=12, decisions=30)
    out = capsys.readouterr().out
    assert "raw round trip (PING)" in out and "decision: agent frees" in out
    assert all(row.samples for row in rows)


def test_surge_simulation_prints_its_tables(
    redis_client: redis.Redis, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    results = load("surge_sim").run(redis_url, days=1, per_day=240, hours=3, seed=3)
    out = capsys.readouterr().out
    assert "severe to human" in out
    assert set(results) == {"router", "fifo", "fifo-no-widening"}
    for outcomes in results.values():
        resolved = [o for o in outcomes if o.human_at or o.abandoned_at or o.overflowed_at]
        assert len(resolved) == len(outcomes)
