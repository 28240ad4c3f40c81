"""``amparo worker``: what runs beside rq's worker in one process."""

from __future__ import annotations

import base64
import secrets
import threading
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from rq import Worker
from sqlalchemy import Engine

from cli import cli


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


def _background() -> tuple[int, int]:
    return len(_threads("amparo-sweeper")), len(_threads("amparo-timekeeper"))


@pytest.mark.parametrize(("args", "expected"), [([], 1), (["--burst"], 0)])
def test_a_worker_process_runs_one_sweeper_and_one_timekeeper_and_stops_them_on_exit(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    redis_client: redis.Redis,
    data_key: bytes,
    db_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    expected: int,
) -> None:
    """``redis_client`` flushes the Redis afterwards: the worker schedules its periodic jobs,
    which a later test's burst worker would otherwise run for ever."""
    seen: list[tuple[int, int]] = []

    def work(self: Worker, *_args: Any, **_kwargs: Any) -> bool:
        seen.append(_background())
        getattr(self, "stop_requested").set()  # as SIGTERM does  # noqa: B009
        return True

    monkeypatch.setattr(Worker, "work", work)
    before = _background()
    env = {
        "AMPARO_DATA_DIR": str(tmp_path / "data"),
        "AMPARO_DATABASE_URL": database_url,
        "AMPARO_REDIS_URL": redis_url,
        "AMPARO_DATA_KEY": base64.urlsafe_b64encode(data_key).decode(),
        "AMPARO_SECRET_KEY": secrets.token_urlsafe(32),
    }
    result = CliRunner().invoke(cli, ["worker", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert seen == [(before[0] + expected, before[1] + expected)]
    assert _background() == before


def test_a_worker_whose_rq_loop_ends_on_a_redis_error_starts_it_again(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    redis_client: redis.Redis,
    data_key: bytes,
    db_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[str] = []

    def work(self: Worker, *_args: Any, **_kwargs: Any) -> bool:
        runs.append(self.name)
        if len(runs) < 3:
            raise redis.ConnectionError("Redis went away (test)")
        getattr(self, "stop_requested").set()  # noqa: B009
        return True

    monkeypatch.setattr(Worker, "work", work)
    monkeypatch.setattr("runner.RESTART_WAIT_S", 0.01)
    env = {
        "AMPARO_DATA_DIR": str(tmp_path / "data"),
        "AMPARO_DATABASE_URL": database_url,
        "AMPARO_REDIS_URL": redis_url,
        "AMPARO_DATA_KEY": base64.urlsafe_b64encode(data_key).decode(),
        "AMPARO_SECRET_KEY": secrets.token_urlsafe(32),
    }
    result = CliRunner().invoke(cli, ["worker"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(runs) == len(set(runs)) == 3  # a fresh rq worker each time
