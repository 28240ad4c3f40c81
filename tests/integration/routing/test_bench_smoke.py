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


def test_surge_simulation_calls_back_who_abandoned_from_a_safe_number(
    redis_client: redis.Redis, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    surge = load("surge_sim")
    for answer, status, tries in ((1.0, "reached", 1), (0.0, "failed", surge.MAX_TRIES)):
        everyone = surge.CallbackAssumptions(safe_severe=1.0, safe_other=1.0, answer=answer)
        results = surge.run(redis_url, days=1, per_day=2000, hours=3, seed=3, assumptions=everyone)
        assert "abandon->reached" in capsys.readouterr().out
        for name, outcomes in results.items():
            left = [o for o in outcomes if o.abandoned_at is not None]
            if name == "fifo-no-widening":  # nobody speaks uk or zh: her task is never offered
                left = [o for o in left if o.caller.language not in ("uk", "zh")]
            assert left, "the surge leaves callers who abandon"
            assert all(o.callback == status and o.callback_tries == tries for o in left)
            # Abandonment is still abandonment: a callback reaches her afterwards, or never.
            reached = [o.callback_reached_at for o in left if o.callback_reached_at is not None]
            assert len(reached) == (len(left) if answer else 0)
            assert all(o.reached == bool(answer) for o in left)
            assert all(
                o.callback_reached_at is None or o.callback_reached_at > (o.abandoned_at or 0)
                for o in left
            )
