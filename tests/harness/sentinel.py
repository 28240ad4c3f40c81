"""Redis under Sentinel on loopback for tests: a primary, a replica and three sentinels on free
ports the test owns, quick to fail over (a primary is down after 1 s). The sentinels are
Debian's ``redis-sentinel`` (``make test`` installs it as root), else the same server run with
``--sentinel``."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from store.embedded_redis import redis_server_binary
from store.live_state import Sentinels
from tests.harness.services import RedisProcess, free_port

MASTER = "amparo"
SENTINEL = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"


def sentinel_command(conf: Path) -> list[str]:
    if Path(SENTINEL).exists():
        return [SENTINEL, str(conf)]
    return [redis_server_binary(), str(conf), "--sentinel"]


DOWN_AFTER_MS = 1000


@dataclass
class SentinelCluster:
    directory: Path
    primary: RedisProcess = field(init=False)
    replica: RedisProcess = field(init=False)
    sentinel_ports: list[int] = field(default_factory=list)
    sentinel_processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def sentinels(self) -> Sentinels:
        return Sentinels(tuple(("127.0.0.1", port) for port in self.sentinel_ports), MASTER)

    @property
    def env(self) -> dict[str, str]:
        """What a deployment sets: the sentinels and the primary's name (and a URL for the
        database number only)."""
        return {
            "AMPARO_REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports),
            "AMPARO_REDIS_SENTINEL_MASTER": MASTER,
            "AMPARO_REDIS_URL": "redis://primary-by-sentinel/0",
        }

    def start(self) -> SentinelCluster:
        self.primary = RedisProcess(self._dir("primary")).start()
        self.replica = RedisProcess(
            self._dir("replica"), options=("--replicaof", "127.0.0.1", str(self.primary.port))
        ).start()
        for index in range(3):
            port = free_port()
            conf = self._dir(f"sentinel{index}") / "sentinel.conf"
            conf.write_text(
                f"bind 127.0.0.1\nport {port}\ndir {conf.parent}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER} 4000\n"
                f"sentinel parallel-syncs {MASTER} 1\n"
            )
            self.sentinel_ports.append(port)
            self.sentinel_processes.append(
                subprocess.Popen(
                    sentinel_command(conf),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        self._wait_until_watched()
        return self

    def _dir(self, name: str) -> Path:
        path = self.directory / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _wait_until_watched(self, timeout: float = 30.0) -> None:
        """Every sentinel knows the replica and the two other sentinels (or no failover
        could be agreed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._ready(port) for port in self.sentinel_ports):
                return
            time.sleep(0.2)
        raise RuntimeError("the test sentinels did not find each other and the replica")

    def _ready(self, port: int) -> bool:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5)
        try:
            state = client.sentinel_master(MASTER)
            assert isinstance(state, dict)
            return int(state["num-slaves"]) >= 1 and int(state["num-other-sentinels"]) >= 2
        except (redis.RedisError, OSError, KeyError):
            return False
        finally:
            client.close()

    def primary_port(self) -> int | None:
        """The port the sentinels now name as primary."""
        client = redis.Redis(host="127.0.0.1", port=self.sentinel_ports[0], socket_timeout=0.5)
        try:
            address = client.sentinel_get_master_addr_by_name(MASTER)
        except (redis.RedisError, OSError):
            return None
        finally:
            client.close()
        return int(address[1]) if isinstance(address, tuple) else None

    def kill_primary(self) -> None:
        """SIGKILL the primary: its replica is promoted once the sentinels agree it is down."""
        assert self.primary.process is not None
        self.primary.process.send_signal(signal.SIGKILL)
        self.primary.process.wait(10)
        self.primary.process = None

    def stop(self) -> None:
        for process in self.sentinel_processes:
            process.kill()
            process.wait(10)
        for server in (getattr(self, "primary", None), getattr(self, "replica", None)):
            if server is not None and server.process is not None:
                server.process.kill()
                server.process.wait(10)
                server.process = None


@contextmanager
def sentinel_cluster(directory: Path) -> Iterator[SentinelCluster]:
    cluster = SentinelCluster(directory)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
