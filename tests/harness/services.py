"""Real services for tests: Redis servers the tests own, and a fresh database per session."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store.embedded_redis import redis_server_binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisProcess:
    """A redis-server on a free 127.0.0.1 port that a test may stop and start again."""

    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    options: tuple[str, ...] = ()
    """More redis-server options, after (so over) the defaults: ``("--appendonly", "yes")``."""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        if not self.port:
            self.port = free_port()
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        for _ in range(200):
            try:
                if client.ping():
                    return self
            except (redis.RedisError, OSError):
                time.sleep(0.025)
        raise RuntimeError("test redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@contextmanager
def fresh_database(base_url: str | None, tmp_dir: Path) -> Iterator[str]:
    """Yield a URL of an empty database: a new PostgreSQL database, or a SQLite file."""
    if not base_url:
        yield f"sqlite:///{tmp_dir / 'test.sqlite3'}"
        return
    url = make_url(base_url)
    name = f"amparo_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
