"""Console event streams cannot starve the webhooks: with 200 consoles open on ``amparo web``
(2 processes x 16 request threads, which used to hold ~28 streams before webhooks waited 20 s),
signed Twilio webhooks still answer and callers queue, and every stream stays open and carries
the offer that follows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from routing.state import AgentState
from runtime import Runtime, build_runtime
from settings import load_settings
from store.models import Agent
from tests.e2e.simulator.live_app import LiveApp, running_web
from tests.harness.consoles import open_consoles, sign_in_over_http
from tests.harness.hotline import Hotline, make_hotline, staff_line
from tests.harness.services import RedisProcess, free_port
from tests.harness.twilio_driver import ACCOUNT_SID, AUTH_TOKEN, HttpTransport, TwilioDriver

pytestmark = pytest.mark.slow

CONSOLES = 200
CALLS = 12
SCREEN = ("1", "1", "2", "2", "2", "2", "2")


def twilio_env(base_url: str) -> dict[str, str]:
    return {
        "AMPARO_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "AMPARO_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "AMPARO_TWILIO_API_BASE_URL": "http://127.0.0.1:9",
        "AMPARO_PUBLIC_BASE_URL": base_url,
        "AMPARO_FALLBACK_NUMBER": "+34900000009",
    }


@pytest.fixture
def floor(
    database_url: str, data_key: bytes, db_sessions: sessionmaker[Session], tmp_path: Path
) -> Iterator[tuple[LiveApp, Runtime, Hotline]]:
    redis_server = RedisProcess(tmp_path).start()
    hotline = make_hotline(db_sessions)
    settings = load_settings({"AMPARO_DATA_DIR": str(tmp_path / "router")}).with_overrides(
        database_url=database_url, redis_url=redis_server.url, data_key=data_key
    )
    runtime = build_runtime(settings)
    port = free_port()
    try:
        with running_web(
            port=port,
            database_url=database_url,
            redis_url=redis_server.url,
            data_key=data_key,
            data_dir=tmp_path / "web",
            extra_env=twilio_env(f"http://127.0.0.1:{port}"),
        ) as live:
            yield live, runtime, hotline
    finally:
        runtime.close()
        redis_server.stop()


def queue_callers(base_url: str, line_number: str, calls: int) -> list[str]:
    """``calls`` callers through the IVR to the queue, 4 at a time; where each ended."""
    where: list[str] = []
    numbers = iter(range(calls))
    lock = threading.Lock()

    def caller() -> None:
        phone = TwilioDriver(HttpTransport(timeout=20.0), base_url)
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            call = phone.call(line_number, f"+3465{n:07d}")
            for key in SCREEN:
                if call.where == "queued":
                    break
                call.press(key)
            with lock:
                where.append(call.where)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return where


def test_two_hundred_open_consoles_leave_signed_webhooks_answering(
    floor: tuple[LiveApp, Runtime, Hotline], db_sessions: sessionmaker[Session]
) -> None:
    live, runtime, hotline = floor
    ana = staff_line(runtime.router, hotline, "ana")
    with db_sessions() as db:
        agent = db.get(Agent, ana)
        assert agent is not None
        login = agent.login
    cookie = sign_in_over_http(live.base_url, login)

    with open_consoles(live.base_url, cookie, CONSOLES) as consoles:
        assert consoles.wait_until_all_show("stream_open", timeout=90) == CONSOLES

        where = queue_callers(live.base_url, hotline.line_number, CALLS)
        assert where == ["queued"] * CALLS, where

        runtime.router.set_agent_state(ana, AgentState.AVAILABLE, time.time())
        assert consoles.wait_until_all_show('"kind":"offered"', timeout=30) == CONSOLES
        assert consoles.still_open == CONSOLES
