"""The web port and gunicorn's control socket: ``amparo run`` and ``amparo web`` stop at once
when their port is taken, and two ``amparo web`` on one machine each keep their own control
socket."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from tests.harness.services import free_port

ROOT = Path(__file__).resolve().parents[3]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AMPARO_") or key.startswith("AMPARO_TEST_")
    }
    env.update({"HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT), **extra})
    return env


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize("command", ["run", "web"])
def test_with_its_port_taken_the_command_exits_at_once_naming_the_port_and_the_way_out(
    tmp_path: Path, taken_port: int, command: str
) -> None:
    data_dir = tmp_path / "var"
    done = subprocess.run(
        [sys.executable, "-m", "cli", command, "--port", str(taken_port)],
        cwd=ROOT,
        env=_env(tmp_path, AMPARO_DATA_DIR=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"port {taken_port} on 127.0.0.1 is in use" in done.stderr
    assert "--port" in done.stderr and "AMPARO_WEB_PORT" in done.stderr
    assert not (data_dir / "redis").exists()  # nothing was started


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait(condition: object, what: str, seconds: float = 90.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out: {what}")


def _control_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as client:
        try:
            client.connect(str(path))
        except OSError:
            return False
    return True


@pytest.mark.slow
def test_two_web_instances_on_one_machine_each_keep_their_own_control_socket(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    redis_client: redis.Redis,
    data_key: bytes,
    db_engine: Engine,
) -> None:
    data_dir = tmp_path / "d"
    env = _env(
        tmp_path,
        AMPARO_DATA_DIR=str(data_dir),
        AMPARO_DATABASE_URL=database_url,
        AMPARO_REDIS_URL=redis_url,
        AMPARO_DATA_KEY=base64.urlsafe_b64encode(data_key).decode(),
        AMPARO_SECRET_KEY=secrets.token_urlsafe(32),
        AMPARO_WEB_WORKERS="1",
    )
    ports = [free_port(), free_port()]
    webs = [
        subprocess.Popen(
            [sys.executable, "-m", "cli", "web", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for port in ports
    ]
    sockets = [data_dir / f"gunicorn-{port}.ctl" for port in ports]
    try:
        for port, path in zip(ports, sockets, strict=True):
            _wait(lambda port=port: _answers(port), f"web on {port}")
            _wait(lambda path=path: _control_answers(path), f"control socket {path.name}")
        assert not (tmp_path / "home" / ".gunicorn" / "gunicorn.ctl").exists()

        webs[1].send_signal(signal.SIGTERM)  # the second stops: the first keeps its own
        assert webs[1].wait(60) == 0
        assert not sockets[1].exists()
        assert _control_answers(sockets[0]) and _answers(ports[0])
    finally:
        for web in webs:
            if web.poll() is None:
                web.send_signal(signal.SIGTERM)
        for web in webs:
            try:
                web.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(web.pid, signal.SIGKILL)
                web.wait(10)
