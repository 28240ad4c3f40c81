"""``amparo run`` on the embedded default: starts, gets ready, lets a demo agent in, stops clean;
and the installed package holds every top-level module the command imports."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from store.demo import read_logins
from tests.harness.services import free_port


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"amparo run exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:  # noqa: S310
                return dict(json.load(response))
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise AssertionError("amparo run did not become ready")


@pytest.mark.slow
def test_amparo_run_starts_lets_a_demo_agent_sign_in_and_stops_without_orphans(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AMPARO_") or key.startswith("AMPARO_TEST_")
    }
    env.pop("PYTHONPATH", None)
    env.update({"AMPARO_DATA_DIR": str(data_dir), "AMPARO_WEB_PORT": str(port)})
    # What `make run` runs: the installed command, here from outside the checkout, so every
    # module it needs must be part of the installed package (pyproject.toml).
    amparo = Path(sys.executable).with_name("amparo")
    command = [str(amparo), "run"] if amparo.exists() else [sys.executable, "-m", "cli", "run"]
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = _wait_ready(base, proc, timeout=120)
        assert ready["checks"] == {"database": "ok", "redis": "ok", "routing": "ok"}

        login = next(item for item in read_logins(data_dir) if item.role == "agent")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{base}/login", timeout=10).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        form = urllib.parse.urlencode(
            {"csrf_token": token.group(1), "login": login.login, "password": login.password}
        ).encode()
        console = opener.open(f"{base}/login", data=form, timeout=10)
        assert console.geturl().endswith("/console")
        assert "signed-in" in console.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output.decode(errors="replace")[-2000:]
    assert b"Amparo stopped." in output
    time.sleep(0.5)
    assert _processes_mentioning(str(data_dir)) == []
    assert not (data_dir / "redis" / "redis.sock").exists()


def test_every_top_level_module_and_package_is_part_of_the_installed_package() -> None:
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[3]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert {path.stem for path in root.glob("*.py")} <= set(setuptools["py-modules"])
    included = setuptools["packages"]["find"]["include"]
    packages = {
        path.parent.name
        for path in root.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench"}
    }
    missing = {name for name in packages if not any(fnmatch.fnmatch(name, p) for p in included)}
    assert not missing, f"not installed by pip (pyproject.toml packages.find.include): {missing}"
