"""Prism: a mock of Twilio's REST API built from Twilio's own OpenAPI spec.

Prism validates each request against the spec (path parameters, auth scheme, body) and answers
with the spec's examples, so tests drive the real ``twilio`` client against it. The spec is not
part of the repository: it sits in ``shared/twilio-oai/`` beside the checkout (CI puts a copy of
``shared/`` next to its clone), so it is looked up in ``<repo>/../shared`` and then in each
directory above. Prism itself is the ``@stoplight/prism-cli`` npm package of ``package.json``
(``make test`` runs ``npm ci``).

When Prism or the spec is missing the tests that need it are skipped with the reason, except in
CI (``CI`` set), where that is a broken set-up and fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.harness.services import free_port

REPO = Path(__file__).resolve().parents[2]
PRISM = REPO / "node_modules" / ".bin" / "prism"
SPEC_NAME = Path("shared") / "twilio-oai" / "twilio_api_v2010.json"


def twilio_spec() -> Path | None:
    """The Twilio API spec in ``shared/`` beside the repository (or beside a parent of it)."""
    for directory in REPO.parents:
        candidate = directory / SPEC_NAME
        if candidate.is_file():
            return candidate
    return None


def unavailable_reason() -> str | None:
    """Why Prism cannot run here, or None when it can."""
    if twilio_spec() is None:
        return f"Twilio OpenAPI spec not found as ../{SPEC_NAME} beside the repository"
    if not PRISM.exists():
        return "Prism is not installed: run `npm ci` (make test does) at the repository root"
    try:
        subprocess.run(["node", "--version"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "node is not available to run Prism"
    return None


@dataclass
class PrismMock:
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/")
    except OSError:
        return False


@contextmanager
def prism_mock(log_dir: Path, *, startup_timeout: float = 90.0) -> Iterator[PrismMock]:
    """Run ``prism mock`` on a free 127.0.0.1 port until the block ends."""
    spec = twilio_spec()
    reason = unavailable_reason()
    if spec is None or reason is not None:
        raise RuntimeError(reason or "Prism unavailable")
    port = free_port()
    log_path = log_dir / "prism.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while not _answers(port):
            if process.poll() is not None:
                raise RuntimeError(f"prism exited at start-up:\n{log_path.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"prism did not answer within {startup_timeout:.0f}s")
            time.sleep(0.2)
        yield PrismMock(url=f"http://127.0.0.1:{port}", log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
