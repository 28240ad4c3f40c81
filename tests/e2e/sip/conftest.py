"""Fixtures of the SIP end-to-end tests: a hotline in the test database, and ``amparo sip``
processes on it, started after the hotline exists (routing reads its queues at start-up)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from settings import Settings
from telephony.sip.engine import engine_info
from tests.e2e.sip.dtmf_pcap import stitch
from tests.e2e.sip.peers import SipProcess, sip_environment, sipp_available
from tests.harness.hotline import Hotline, make_hotline, staffed_runtime

ENGINE = engine_info()

pytestmark = [pytest.mark.e2e]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    reason = None
    if not ENGINE["available"]:
        reason = f"SIP engine unavailable: {ENGINE['reason']}"
    elif sipp_available() is None:
        reason = "SIPp is not installed (Debian package sip-tester; `make test` installs it)"
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def sip_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir for every SIP process of the session: prompts are rendered once."""
    return tmp_path_factory.mktemp("sip-data")


@pytest.fixture(scope="session")
def sipp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SIPp's working directory, with the key captures its scenarios play."""
    workdir = tmp_path_factory.mktemp("sipp")
    for keys in ("112222", "111", "0", "10"):
        stitch(keys, workdir / "pcap" / f"keys_{keys}.pcap")
    # A check-in answered: PIN, #, then 2; telephone-events of the type pjsua offers (120).
    stitch("2468#2", workdir / "pcap" / "keys_2468#2.pcap", gap_s=1.5, payload_type=120)
    # An urgent-team member takes an alert: 1.
    stitch("1", workdir / "pcap" / "keys_take.pcap", payload_type=120)
    return workdir


@pytest.fixture
def hotline(
    db_sessions: sessionmaker[Session], settings: Settings, redis_client: redis.Redis
) -> Hotline:
    """The hotline, staffed: callers wait for a human rather than overflow."""
    made = make_hotline(db_sessions)
    with staffed_runtime(settings, made):
        pass  # the agent's state lives in Redis, where the SIP processes read it
    return made


@pytest.fixture
def sip_env(
    sip_data_dir: Path, database_url: str, redis_url: str, data_key: bytes, db_engine: object
) -> dict[str, str]:
    return sip_environment(sip_data_dir, database_url, redis_url, data_key)


@pytest.fixture
def start_sip(
    sip_env: dict[str, str],
    redis_url: str,
    redis_client: redis.Redis,
    hotline: Hotline,
    tmp_path: Path,
) -> Iterator[Callable[..., SipProcess]]:
    """Start ``amparo sip`` processes (``extra`` env; ``command``: python's arguments for
    another program than ``amparo sip``); all are stopped after the test and must not have
    crashed."""
    started: list[SipProcess] = []

    def start(command: list[str] | None = None, **extra: str) -> SipProcess:
        process = SipProcess(sip_env, tmp_path / f"sip-{len(started)}.log", extra=dict(extra))
        if command is not None:
            process.command = command
        process.start(redis_url)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process is not None and process.process.poll() is None:
            code = process.terminate()
            assert code == 0, process.log()[-3000:]
