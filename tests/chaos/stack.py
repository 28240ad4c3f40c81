"""The deployment a chaos test breaks: a PostgreSQL cluster and Redis of the test's own on free
ports (one redis-server without persistence, or with its append-only file, or a primary and a
replica under three sentinels), two ``amparo worker`` processes, and the web tier on the same
settings, configured as a Twilio account whose REST API is the Prism mock. The web tier is the
app in the test's process, or two ``amparo web`` instances behind HAProxy (``WEB_KINDS``);
Twilio's requests and the consoles reach it the same way either way (``driver``, ``console``,
``post``)."""

from __future__ import annotations

import base64
import contextlib
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

import requests
from flask import Flask
from sqlalchemy import update

from app import create_app
from runtime import Runtime, build_runtime
from settings import load_settings
from store import crypto, database, migrate, timekeeper
from store.live_state import key
from store.models import Queue
from tests.harness.consoles import ConsoleOverHttp
from tests.harness.haproxy import load_balancer
from tests.harness.hotline import Hotline, make_hotline
from tests.harness.postgres import PostgresCluster
from tests.harness.sentinel import SentinelCluster
from tests.harness.services import RedisProcess, free_port
from tests.harness.twilio_driver import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FlaskTransport,
    HttpTransport,
    TwilioDriver,
)
from tests.integration.agent_console.console_helpers import Account, SignedIn, sign_in

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
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers_started: int = field(default=0)
    web_ports: list[int] = field(default_factory=list)
    """``amparo web`` instances behind the balancer (none: the app in this process)."""
    webs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    base_url: str = PUBLIC_BASE_URL

    def driver(self) -> TwilioDriver:
        """Twilio, for one caller."""
        if self.web_ports:
            return TwilioDriver(HttpTransport(timeout=20.0), self.base_url)
        return TwilioDriver(FlaskTransport(self.app.test_client()), self.base_url)

    def console(self, who: Account) -> SignedIn | ConsoleOverHttp:
        """An agent signed in to her console."""
        if self.web_ports:
            return ConsoleOverHttp(self.base_url, who)
        return sign_in(self.app, who)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """A device's request: its status code."""
        if self.web_ports:
            return requests.post(
                self.base_url + path, data=body, headers=headers, timeout=10
            ).status_code
        return self.app.test_client().post(path, data=body, headers=headers).status_code

    def start_web(self, index: int) -> None:
        with (self.log_dir / f"web{index}-{time.monotonic_ns()}.log").open("wb") as log:
            self.webs[index] = subprocess.Popen(
                [sys.executable, "-m", "cli", "web", "--port", str(self.web_ports[index])],
                cwd=ROOT,
                env=self.env,
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def web_ready(self, index: int) -> bool:
        try:
            answer = requests.get(f"http://127.0.0.1:{self.web_ports[index]}/readyz", timeout=2)
        except requests.RequestException:
            return False
        return answer.status_code == 200

    def kill_web(self, index: int) -> None:
        """SIGKILL an instance: its gunicorn master and workers, mid-request."""
        os.killpg(self.webs[index].pid, signal.SIGKILL)
        self.webs[index].wait(10)

    def kill_web_worker(self, index: int) -> None:
        """SIGKILL one of an instance's gunicorn workers (its master starts another)."""
        master = self.webs[index].pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        assert children, "the web instance has no workers"
        os.kill(int(children[0]), signal.SIGKILL)

    def start_worker(self) -> None:
        self.workers_started += 1
        with (self.log_dir / f"worker-{self.workers_started}.log").open("wb") as log:
            self.workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "cli", "worker"],
                    cwd=ROOT,
                    env=self.env,
                    start_new_session=True,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def kill_worker(self) -> None:
        """SIGKILL the worker whose timekeeper leads (no goodbye: its lease and jobs left as
        they were); the others go on."""
        holder = str(self.runtime.redis.get(key("lease", timekeeper.LEASE)) or "")
        pid = holder.split(":")[1] if holder.count(":") >= 2 else ""  # host:pid:token
        pids = [str(worker.pid) for worker in self.workers]
        worker = self.workers.pop(pids.index(pid) if pid in pids else 0)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)

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
WEB_KINDS = ("in_process", "balanced")
WEB_INSTANCES = 2
#: ``amparo worker`` processes, as a deployment runs them (two or more): one's timekeeper
#: leads, every one sweeps routing's timers.
WORKERS = 2


@contextmanager
def chaos_stack(
    tmp_path: Path,
    prism_url: str,
    data_key: bytes,
    redis_kind: str = "plain",
    web_kind: str = "in_process",
) -> Iterator[ChaosStack]:
    assert redis_kind in REDIS_KINDS and web_kind in WEB_KINDS
    balanced = web_kind == "balanced"
    balancer_port = free_port() if balanced else 0
    base_url = f"http://127.0.0.1:{balancer_port}" if balanced else PUBLIC_BASE_URL
    cluster = PostgresCluster()
    sentinels = SentinelCluster(tmp_path / "sentinel") if redis_kind == "sentinel" else None
    aof = ("--appendonly", "yes", "--appendfsync", "always") if redis_kind == "aof" else ()
    redis_server = RedisProcess(tmp_path, options=aof)
    runtime: Runtime | None = None
    stack: ChaosStack | None = None
    try:
        cluster.create()
        if sentinels is not None:
            redis_server = sentinels.start().primary
        else:
            redis_server.start()
        url = cluster.create_database("amparo")
        crypto.configure(crypto.cipher_from_keys(data_key))  # the hotline's fields, below
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
                "AMPARO_PUBLIC_BASE_URL": base_url,
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
            base_url=base_url,
        )
        runtime.router  # noqa: B018 - routing built (agents registered) before any call
        for _ in range(WORKERS):
            stack.start_worker()
        if not balanced:
            yield stack
            return
        stack.web_ports = [free_port() for _ in range(WEB_INSTANCES)]
        for index in range(WEB_INSTANCES):
            stack.start_web(index)
        for index in range(WEB_INSTANCES):
            assert wait_for(lambda i=index: stack.web_ready(i), 90), f"web {index} not ready"
        with load_balancer(log_dir / "haproxy", stack.web_ports, balancer_port):
            yield stack
    finally:
        for web in stack.webs.values() if stack is not None else ():
            if web.poll() is None:
                os.killpg(web.pid, signal.SIGKILL)
                web.wait(10)
        for worker in stack.workers if stack is not None else ():
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
        if runtime is not None:
            runtime.close()
        if sentinels is not None:
            sentinels.stop()
        else:
            with contextlib.suppress(Exception):
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
