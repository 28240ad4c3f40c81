"""The locked set-up: uv.lock pins every dependency, and a stale lock or venv is caught.

``make test`` passes the uv it installed (``.tools/bin/uv``) as ``AMPARO_UV``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _uv() -> str:
    candidates = [os.environ.get("AMPARO_UV", ""), str(ROOT / ".tools" / "bin" / "uv")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (make test installs it into .tools/)")
    return found


def _lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    return subprocess.run(
        [_uv(), "lock", "--check", "--offline"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_lock_agrees_with_pyproject(project_copy: Path) -> None:
    result = _lock_check(project_copy)
    assert result.returncode == 0, result.stderr


def test_a_dependency_added_to_pyproject_but_not_locked_fails_the_check(
    project_copy: Path,
) -> None:
    pyproject = project_copy / "pyproject.toml"
    text = pyproject.read_text()
    assert '  "requests>=2.31,<3",\n' in text
    pyproject.write_text(
        text.replace('  "requests>=2.31,<3",\n', '  "requests>=2.31,<3",\n  "attrs>=23",\n')
    )
    result = _lock_check(project_copy)
    assert result.returncode != 0
    # uv says the lock needs updating when it can resolve offline from its cache; on a fresh
    # machine it cannot, and says so. Either way the check refuses the unlocked dependency.
    assert "needs to be updated" in result.stderr or "network was disabled" in result.stderr


def test_a_dev_range_that_excludes_the_locked_version_fails_the_check(
    project_copy: Path,
) -> None:
    pyproject = project_copy / "pyproject.toml"
    text = pyproject.read_text()
    assert '"ruff>=0.6,<1"' in text
    pyproject.write_text(text.replace('"ruff>=0.6,<1"', '"ruff>=0.6,<0.7"'))
    assert _lock_check(project_copy).returncode != 0


def test_every_locked_package_is_pinned_with_hashes() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = [p for p in lock["package"] if p["name"] != "amparo"]
    assert len(packages) > 40
    for package in packages:
        assert package["source"] == {"registry": "https://pypi.org/simple"}, package["name"]
        files = [package["sdist"]] if "sdist" in package else []
        files += package.get("wheels", [])
        assert files, package["name"]
        assert all(f["hash"].startswith("sha256:") for f in files), package["name"]


def _make_dry_run(*args: str) -> str:
    result = subprocess.run(
        ["make", "-n", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_a_changed_lock_rebuilds_the_venv_exactly() -> None:
    plan = _make_dry_run("-W", "uv.lock", "venv")
    assert "sync --locked --extra dev" in plan
    assert "--inexact" not in plan


def test_make_run_installs_the_runtime_set_from_the_lock() -> None:
    plan = _make_dry_run("-W", "uv.lock", "venv-runtime")
    assert "sync --locked --inexact" in plan
    assert "--extra dev" not in plan


def test_the_makefile_installs_python_packages_only_through_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    pip_installs = [line for line in makefile.splitlines() if "pip install" in line]
    assert len(pip_installs) == 1 and "uv==$(UV_VERSION)" in pip_installs[0]
