"""The web port: ``amparo run`` and ``amparo web`` stop at once when their port is taken."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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
