"""The SIP engine built from third_party/pjproject holds more calls than any PyPI pjsua2.

The loopback test is the proof that matters: one Endpoint places calls to itself until its call
table is full (512 legs, each confirmed with active media: far past the stock 4 calls, 254
bridge ports and 64 ioqueue handles), and one call more is refused. It runs in a child process
because pjsua2 allows one Endpoint per process.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from telephony.sip import engine
from telephony.sip.engine import EngineUnavailable, engine_info, require_engine

LOOPBACK_CALLS = Path(__file__).with_name("loopback_calls.py")
CONFIG_SITE = Path(__file__).parents[4] / "third_party" / "pjproject" / "config_site.h"
STOCK_MAX_CALLS = 4

INSTALLED = engine_info()
needs_engine = pytest.mark.skipif(
    not INSTALLED["available"], reason=f"SIP engine: {INSTALLED['reason']}"
)


def configured_max_calls() -> int:
    for line in CONFIG_SITE.read_text().splitlines():
        parts = line.split()
        if parts[:2] == ["#define", "PJSUA_MAX_CALLS"]:
            return int(parts[2])
    raise AssertionError("config_site.h does not define PJSUA_MAX_CALLS")


@needs_engine
def test_engine_reports_the_capacity_compiled_from_config_site() -> None:
    info = engine_info()

    assert info["version"] == "2.17"
    assert info["max_calls"] == configured_max_calls() > STOCK_MAX_CALLS
    assert (info["max_conf_ports"] or 0) > 3 * configured_max_calls()
    assert info["build_key"]
    assert "512 concurrent calls" in engine.describe(info)


@needs_engine
def test_engine_refuses_a_configuration_larger_than_its_capacity() -> None:
    assert require_engine(min_calls=512)["available"]
    with pytest.raises(EngineUnavailable) as raised:
        require_engine(min_calls=513)
    assert raised.value.error_id == "sip.engine_unavailable"


@needs_engine
@pytest.mark.slow
def test_one_process_fills_its_compiled_capacity_and_refuses_one_call_more() -> None:
    capacity = INSTALLED["max_calls"] or 0
    loopback_calls = capacity // 2  # each loopback call is two legs: caller's and callee's

    child = subprocess.run(
        [sys.executable, str(LOOPBACK_CALLS), str(loopback_calls)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["failed_statuses"] == []
    assert result["outgoing_confirmed"] == loopback_calls
    assert result["incoming_confirmed"] == loopback_calls
    assert result["confirmed_at_once"] == capacity > STOCK_MAX_CALLS
    assert result["media_active"] == capacity
    assert result["one_more_refused"] is True
    assert result["hung_up"] == capacity


def import_without(*missing: str) -> object:
    real_import = importlib.import_module

    def fake_import(name: str, package: str | None = None) -> ModuleType:
        if name in missing:
            raise ImportError(f"No module named {name!r}")
        if name == engine.PJSUA2_MODULE:
            return ModuleType(name)
        return real_import(name, package)

    return fake_import


def test_missing_engine_is_reported_with_how_to_build_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib, "import_module", import_without(engine.PJSUA2_MODULE))

    info = engine_info()

    assert info["available"] is False
    assert info["max_calls"] is None
    assert "make sip-engine" in (info["reason"] or "")
    with pytest.raises(EngineUnavailable):
        require_engine()


def test_a_stock_pjsua2_is_not_taken_for_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib, "import_module", import_without(engine.BUILD_RECORD_MODULE))

    info = engine_info()

    assert info["available"] is False
    assert "4 concurrent calls" in (info["reason"] or "")
    assert engine.describe(info).startswith("SIP engine: unavailable")
