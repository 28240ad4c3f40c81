from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from routing.jobs import Sweeper
from runtime import build_runtime
from settings import load_settings
from store import database
from store.models import Agent, Beneficiary, Device
from store.records import Call, Recording
from store.vocabulary import Channel, Direction
from tests.e2e.simulator.live_app import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveApp,
    chromium_missing_reason,
    running_web,
)
from tests.harness.hotline import Hotline, make_hotline, staff_line
from tests.harness.services import RedisProcess, free_port

_MISSING = chromium_missing_reason()

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARABIC_NAME = "نادية بنعلي"
ARABIC_PLAN = "الخروج من الباب الخلفي والاتصال بأختها"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if _MISSING is None:
        return
    for item in items:
        if "tests/e2e/simulator" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=_MISSING))


@dataclass
class Floor:
    """The hotline the browser tests work on, with the supervisor's TOTP secret and a
    recording an agent must not hear."""

    hotline: Hotline
    supervisor_login: str
    supervisor_secret: str
    agent_login: str
    urgent_login: str
    device_serial: str
    recording_id: str
    simulator_login: str
    sessions: sessionmaker[Session]


@pytest.fixture(scope="module")
def floor(db_engine: Engine) -> Floor:
    sessions = database.session_factory(db_engine)
    hotline = make_hotline(sessions)
    secret = pyotp.random_base32()
    with sessions() as db, db.begin():
        boss = db.get(Agent, hotline.agents["boss"])
        ana = db.get(Agent, hotline.agents["ana"])
        urgent = db.get(Agent, hotline.agents["urgent1"])
        tester = db.get(Agent, hotline.agents["farah"])  # signs in to the simulator
        device = db.get(Device, hotline.device_id)
        assert urgent is not None and device is not None and tester is not None
        owner = db.get(Beneficiary, hotline.beneficiary_id)
        assert boss is not None and ana is not None and owner is not None
        boss.totp_secret = secret
        owner.full_name = ARABIC_NAME
        owner.safety_plan = ARABIC_PLAN
        owner.preferred_locale = "ar"
        old_call = Call(
            line_id=hotline.line_id,
            direction=Direction.INBOUND.value,
            channel=Channel.SIMULATOR.value,
            status="completed",
        )
        db.add(old_call)
        db.flush()
        recording = Recording(call_id=old_call.id, delete_after=old_call.started_at)
        db.add(recording)
        db.flush()
        return Floor(
            hotline,
            boss.login,
            secret,
            ana.login,
            urgent.login,
            device.serial,
            recording.id,
            tester.login,
            sessions,
        )


@pytest.fixture(scope="module")
def live_app(
    floor: Floor,
    database_url: str,
    data_key: bytes,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveApp]:
    if _MISSING is not None:
        pytest.skip(_MISSING)
    directory = tmp_path_factory.mktemp("e2e-console")
    redis_server = RedisProcess(directory).start()
    settings = load_settings({"AMPARO_DATA_DIR": str(directory / "sweeper")}).with_overrides(
        database_url=database_url, redis_url=redis_server.url, data_key=data_key
    )
    sweeper_runtime = build_runtime(settings)
    sweeper: Sweeper | None = None
    try:
        with running_web(
            port=free_port(),
            database_url=database_url,
            redis_url=redis_server.url,
            data_key=data_key,
            data_dir=directory / "web",
        ) as live:
            router = sweeper_runtime.router
            staff_line(router, floor.hotline)  # a second agent, on a break
            sweeper = Sweeper(router).start()
            yield live
    finally:
        if sweeper is not None:
            sweeper.stop()
        sweeper_runtime.close()
        redis_server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if _MISSING is not None:
        pytest.skip(_MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
