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


def _sweepers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "amparo-sweeper" and t.is_alive()]


@pytest.mark.parametrize(("args", "expected"), [([], 1), (["--burst"], 0)])
def test_a_worker_process_runs_one_sweeper_and_stops_it_on_exit(
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
    seen: list[int] = []

    def work(self: Worker, *_args: Any, **_kwargs: Any) -> bool:
        seen.append(len(_sweepers()))
        return True

    monkeypatch.setattr(Worker, "work", work)
    before = len(_sweepers())
    env = {
        "AMPARO_DATA_DIR": str(tmp_path / "data"),
        "AMPARO_DATABASE_URL": database_url,
        "AMPARO_REDIS_URL": redis_url,
        "AMPARO_DATA_KEY": base64.urlsafe_b64encode(data_key).decode(),
        "AMPARO_SECRET_KEY": secrets.token_urlsafe(32),
    }
    result = CliRunner().invoke(cli, ["worker", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert seen == [before + expected]
    assert len(_sweepers()) == before
