"""The real app for browser tests: ``amparo web`` (gunicorn, two worker processes) on a free
port against the test database and a Redis of its own, with a routing sweeper beside it (as
``amparo worker`` runs one), and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
VIEWPORT = {"width": 1280, "height": 720}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not CHROMIUM.exists():
        how = "run 'make test' as root" if os.geteuid() == 0 else "apt-get install chromium"
        return f"Debian's chromium is not installed at {CHROMIUM} ({how})"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@dataclass
class LiveApp:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    timings: dict[str, float] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"amparo web exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:  # noqa: S310
                if json.load(response)["status"] == "ready":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError("amparo web did not become ready")


@contextmanager
def running_web(
    *,
    port: int,
    database_url: str,
    redis_url: str,
    data_key: bytes,
    data_dir: Path,
    extra_env: dict[str, str] | None = None,
) -> Iterator[LiveApp]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMPARO_")}
    env.update(
        {
            "AMPARO_DATA_DIR": str(data_dir),
            "AMPARO_DATABASE_URL": database_url,
            "AMPARO_REDIS_URL": redis_url,
            "AMPARO_DATA_KEY": base64.urlsafe_b64encode(data_key).decode(),
            "AMPARO_SECRET_KEY": secrets.token_urlsafe(48),
            "AMPARO_SIMULATOR": "on",
            "AMPARO_WEB_WORKERS": "2",
            "AMPARO_LOG_LEVEL": "WARNING",
            # The suites sign a dozen people in within a minute, all from 127.0.0.1.
            "AMPARO_SIGN_IN_PER_MINUTE": "600",
            **(extra_env or {}),
        }
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "web.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "web", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    live = LiveApp(base_url, process, log_path)
    try:
        started = time.monotonic()
        _wait_ready(base_url, process, timeout=90)
        live.timings["web_ready_s"] = round(time.monotonic() - started, 2)
        yield live
    finally:
        stopping = time.monotonic()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        live.timings["web_stop_s"] = round(time.monotonic() - stopping, 2)


def totp_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def save_timings(name: str, timings: dict[str, Any]) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-timings.json"
    path.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")
    return path


def clean_artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("console-*.png"):
        old.unlink()
    return ARTIFACTS


def chromium_profile_dir(base: Path) -> Path:
    path = base / "chromium"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
