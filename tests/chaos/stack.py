"""The deployment a chaos test breaks: a PostgreSQL cluster and Redis of the test's own on free
ports (one redis-server without persistence, or with its append-only file, or a primary and a
replica under three sentinels), an ``amparo worker`` process, and the web app on the same
settings (in the test's process, driven as Twilio drives it), configured as a Twilio account
whose REST API is the Prism mock."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from sqlalchemy import update

from app import create_app
from runtime import Runtime, build_runtime
from settings import load_settings
from store import database, migrate
from store.models import Queue
from tests.harness.hotline import Hotline, make_hotline
from tests.harness.postgres import PostgresCluster
from tests.harness.sentinel import SentinelCluster
from tests.harness.services import RedisProcess
from tests.harness.twilio_driver import ACCOUNT_SID, AUTH_TOKEN

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_BASE_URL = "https://hotline.example.org"
FALLBACK_NUMBER = "+34900000009"
MAX_WAIT_S = 15


@dataclass
class ChaosStack:
    env: dict[str, str]
    cluster: PostgresCluster
    redis: RedisProcess
    runtime: Runtime
    app: Flask
    hotline: Hotline
    log_dir: Path
    sentinels: SentinelCluster | None = None
    worker: subprocess.Popen[bytes] | None = None
    workers_started: int = field(default=0)

    def start_worker(self) -> None:
        self.workers_started += 1
        log = (self.log_dir / f"worker-{self.workers_started}.log").open("wb")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill_worker(self) -> None:
        """SIGKILL: no goodbye, its lease and jobs left as they were."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(10)

    def kill_redis(self) -> None:
        """SIGKILL redis-server: without persistence it comes back empty, with its append-only
        file it comes back with what it had written."""
        assert self.redis.process is not None
        self.redis.process.send_signal(signal.SIGKILL)
        self.redis.process.wait(10)
        self.redis.process = None

    def worker_log(self) -> str:
        logs = sorted(self.log_dir.glob("worker-*.log"))
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in logs)


REDIS_KINDS = ("plain", "aof", "sentinel")


@contextmanager
def chaos_stack(
    tmp_path: Path, prism_url: str, data_key: bytes, redis_kind: str = "plain"
) -> Iterator[ChaosStack]:
    assert redis_kind in REDIS_KINDS
    cluster = PostgresCluster().create()
    sentinels = SentinelCluster(tmp_path / "sentinel").start() if redis_kind == "sentinel" else None
    aof = ("--appendonly", "yes", "--appendfsync", "always") if redis_kind == "aof" else ()
    redis_server = sentinels.primary if sentinels else RedisProcess(tmp_path, options=aof).start()
    runtime: Runtime | None = None
    stack: ChaosStack | None = None
    try:
        url = cluster.create_database("amparo")
        engine = database.make_engine(url)
        migrate.upgrade(engine)
        hotline = make_hotline(database.session_factory(engine))
        with database.session_factory(engine)() as db, db.begin():
            db.execute(update(Queue).values(max_wait_s=MAX_WAIT_S))
        engine.dispose()
        env = {key: value for key, value in os.environ.items() if not key.startswith("AMPARO_")}
        env.update(
            {
                "AMPARO_DATA_DIR": str(tmp_path / "data"),
                "AMPARO_DATABASE_URL": url,
                "AMPARO_REDIS_URL": redis_server.url,
                "AMPARO_DATA_KEY": base64.urlsafe_b64encode(data_key).decode(),
                "AMPARO_SECRET_KEY": secrets.token_urlsafe(48),
                "AMPARO_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "AMPARO_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "AMPARO_TWILIO_API_BASE_URL": prism_url,
                "AMPARO_TWILIO_CPS": "50",
                "AMPARO_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
                "AMPARO_FALLBACK_NUMBER": FALLBACK_NUMBER,
                "AMPARO_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
                **(sentinels.env if sentinels else {}),
            }
        )
        runtime = build_runtime(load_settings(env))
        log_dir = tmp_path / "logs"
        log_dir.mkdir()
        stack = ChaosStack(
            env,
            cluster,
            redis_server,
            runtime,
            create_app(runtime=runtime),
            hotline,
            log_dir,
            sentinels,
        )
        runtime.router  # noqa: B018 - routing built (agents registered) before any call
        stack.start_worker()
        yield stack
    finally:
        if stack is not None and stack.worker is not None and stack.worker.poll() is None:
            os.killpg(stack.worker.pid, signal.SIGKILL)
            stack.worker.wait(10)
        if runtime is not None:
            runtime.close()
        if sentinels is not None:
            sentinels.stop()
        else:
            redis_server.stop()
        cluster.destroy()


def wait_for(check: object, timeout: float, step: float = 0.25) -> bool:
    """Poll ``check()`` (errors count as no) until true or ``timeout``."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:  # noqa: S110 - a service still coming back
            pass
        time.sleep(step)
    return False
