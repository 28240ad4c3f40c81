"""A load balancer in front of several ``amparo web`` instances for tests: Debian's HAProxy on a
free loopback port, checking each instance's ``/healthz`` twice a second and sending a request
whose instance refused it, or died before answering, to another (every webhook and console
action is idempotent, so a resent one acts once)."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.harness.services import free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def haproxy_missing_reason() -> str | None:
    if not Path(HAPROXY).exists():
        return "Debian's haproxy is not installed (make test installs it as root)"
    return None


def config(port: int, instances: Sequence[int]) -> str:
    servers = "\n".join(
        f"    server web{index} 127.0.0.1:{backend} check inter 500 fall 2 rise 1"
        for index, backend in enumerate(instances)
    )
    return f"""global
    maxconn 2000

defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 30s
    retries 3
    option redispatch 1
    option http-buffer-request
    retry-on conn-failure empty-response

frontend hotline
    bind 127.0.0.1:{port}
    default_backend web

backend web
    balance roundrobin
    option httpchk GET /healthz
{servers}
"""


@contextmanager
def load_balancer(directory: Path, instances: Sequence[int], port: int = 0) -> Iterator[str]:
    """Yield the balancer's base URL (on ``port``, or a free one)."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "haproxy.cfg"
    path.write_text(config(port, instances))
    log = (directory / "haproxy.log").open("wb")
    process = subprocess.Popen(
        [HAPROXY, "-db", "-f", str(path)], stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):  # noqa: S310
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((directory / "haproxy.log").read_text()[-2000:]) from None
                time.sleep(0.1)
        yield base
    finally:
        process.kill()
        process.wait(10)
        log.close()
