"""The embedded default is for one machine: it will not listen beyond loopback unless told."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli

PUBLIC = "0.0.0.0"  # noqa: S104 (the bind refused here)


@pytest.mark.parametrize("command", [["web", "--host", PUBLIC], ["run"]])
def test_the_embedded_default_refuses_to_listen_beyond_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("AMPARO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AMPARO_WEB_HOST", "127.0.0.1" if command[0] == "web" else PUBLIC)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 2
    assert "refusing to start" in result.output
    assert "AMPARO_EMBEDDED_PUBLIC_BIND=on" in result.output
    assert not (tmp_path / "redis").exists(), "nothing was started"
