"""Safety rule 1 on Twilio: with Redis down, the database down or a bug, the caller is dialled
through to a human; the incident is logged with ids only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from app import create_app
from calls.switchboard import Switchboard, call_id_for
from runtime import Runtime, build_runtime
from settings import Settings
from store import database, migrate
from store.vocabulary import Channel
from telephony.twilio import hold
from tests.harness.hotline import Hotline, make_hotline
from tests.harness.services import RedisProcess
from tests.harness.twilio_driver import FlaskTransport, TwilioDriver
from tests.integration.telephony.twilio.conftest import (
    FALLBACK_NUMBER,
    PUBLIC_BASE_URL,
    twilio_settings,
)

OVERFLOW = "+34900000002"  # make_hotline's overflow and urgent numbers
URGENT = "+34900000003"
CALLER = "+34699123456"


def driver_for(runtime: Runtime) -> TwilioDriver:
    return TwilioDriver(FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL)


def no_personal_data(caplog: pytest.LogCaptureFixture, *numbers: str) -> None:
    text = caplog.text
    for number in numbers:
        assert number not in text
        assert number.lstrip("+") not in text


@pytest.fixture
def redis_down_runtime(
    settings: Settings, hotline: Hotline, redis_process: RedisProcess
) -> Iterator[Runtime]:
    runtime = build_runtime(twilio_settings(settings, redis_url=redis_process.url))
    try:
        yield runtime
    finally:
        runtime.close()


def test_redis_stopping_mid_call_sends_the_next_answer_to_the_overflow_number(
    redis_down_runtime: Runtime,
    redis_process: RedisProcess,
    hotline: Hotline,
    caplog: pytest.LogCaptureFixture,
) -> None:
    phone = driver_for(redis_down_runtime)
    call = phone.call(hotline.line_number, CALLER).press("1")
    assert call.where == "gather"

    redis_process.stop()
    caplog.set_level(logging.INFO)
    call.press("1")
    assert call.where == "dialing" and call.dialled == [OVERFLOW]

    # Nobody answers the overflow: the next number, then the static fallback, then again.
    call.dial_ended("no-answer")
    call.dial_ended("busy")
    call.dial_ended("failed")
    assert call.dialled == [OVERFLOW, URGENT, FALLBACK_NUMBER, OVERFLOW]
    call.dial_ended("completed")
    assert call.where == "ended"

    newcomer = phone.call(hotline.line_number, "+34699000777")
    assert newcomer.where == "dialing" and newcomer.dialled == [OVERFLOW]
    no_personal_data(caplog, CALLER, "+34699000777")


def test_redis_stopping_while_a_caller_is_on_hold_moves_her_to_the_overflow_number(
    redis_down_runtime: Runtime, redis_process: RedisProcess, hotline: Hotline
) -> None:
    phone = driver_for(redis_down_runtime)
    call = phone.call(hotline.line_number, CALLER).press("1").press("0")
    assert call.where == "queued"
    redis_process.stop()
    call.hold()
    assert call.where == "dialing" and call.dialled == [OVERFLOW]


def test_a_caller_on_hold_keeps_her_place_while_routing_is_rebuilt_after_redis_lost_it(
    redis_down_runtime: Runtime, redis_process: RedisProcess, hotline: Hotline
) -> None:
    runtime = redis_down_runtime
    runtime.routing_rebuild.ensure()  # built, as the worker's timekeeper does at start
    phone = driver_for(runtime)
    call = phone.call(hotline.line_number, CALLER).press("1").press("0")
    assert call.where == "queued"
    redis_process.stop()
    redis_process.start()  # back with none of its data: routing's state is lost

    call.hold()
    assert call.where == "queued", "she keeps waiting instead of being sent away"
    runtime.routing_rebuild.ensure()
    assert hold.routing_status(runtime.redis, call_id_for(Channel.TWILIO, call.sid)) == "waiting"
    call.hold()
    assert call.where == "queued"


@pytest.fixture
def own_database(tmp_path: Path, data_key: bytes) -> Iterator[tuple[str, Path]]:
    """A SQLite database of this test's own, in a directory the test can take away."""
    directory = tmp_path / "db"
    directory.mkdir()
    url = f"sqlite:///{directory / 'amparo.sqlite3'}"
    engine = database.make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url, directory


def test_the_database_going_away_mid_call_sends_the_caller_to_the_overflow_number(
    settings: Settings,
    own_database: tuple[str, Path],
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, directory = own_database
    runtime = build_runtime(twilio_settings(settings, database_url=url))
    try:
        hotline = make_hotline(runtime.sessions)
        phone = driver_for(runtime)  # the app loads its overflow book while the database is up
        call = phone.call(hotline.line_number, CALLER).press("2")
        assert call.where == "gather"

        runtime.engine.dispose()
        directory.rename(directory.with_name("db-gone"))
        caplog.set_level(logging.INFO)

        call.press("1")
        assert call.where == "dialing" and call.dialled == [OVERFLOW]
        newcomer = phone.call(hotline.line_number, "+34699000888")
        assert newcomer.where == "dialing" and newcomer.dialled == [OVERFLOW]
        no_personal_data(caplog, CALLER, "+34699000888")
    finally:
        runtime.close()


def test_any_exception_in_a_voice_webhook_still_dials_the_line_overflow(
    phone: TwilioDriver,
    hotline: Hotline,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    call = phone.call(hotline.line_number, CALLER)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"a bug that quotes the caller {CALLER}")

    monkeypatch.setattr(Switchboard, "handle", broken)
    call.press("1")
    assert call.where == "dialing" and call.dialled == [OVERFLOW]
    assert "RuntimeError" in caplog.text
    no_personal_data(caplog, CALLER)


def test_twilios_fallback_url_dials_the_line_overflow(
    phone: TwilioDriver, hotline: Hotline
) -> None:
    call = phone.call(hotline.line_number, CALLER)
    call.request(call.fallback_url or "", extra={"ErrorCode": "11200", "ErrorUrl": "x"})
    assert call.where == "dialing" and call.dialled == [OVERFLOW]


def test_an_answer_twilio_cannot_read_makes_it_use_the_fallback_url(
    runtime: Runtime, hotline: Hotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If even the fail-safe answer breaks, Twilio's fallback URL still dials a human."""
    from telephony.twilio import services
    from telephony.twilio.webhooks import Webhook

    calls = {"n": 0}
    real = services.TwilioEdge.incoming

    def flaky(self: services.TwilioEdge, hook: Webhook) -> str:
        calls["n"] += 1
        return "<not twiml" if calls["n"] == 1 else real(self, hook)

    monkeypatch.setattr(services.TwilioEdge, "incoming", flaky)
    call = driver_for(runtime).call(hotline.line_number, CALLER)
    assert call.fallback_used == 1
    assert call.where == "dialing" and call.dialled == [OVERFLOW]


def test_a_call_to_a_number_no_line_has_goes_to_the_static_fallback_number(
    phone: TwilioDriver, hotline: Hotline
) -> None:
    call = phone.call("+34910000000", CALLER)
    assert call.where == "dialing" and call.dialled == [FALLBACK_NUMBER]


def test_a_caller_on_hold_past_the_ceiling_leaves_for_the_overflow_number(
    phone: TwilioDriver, hotline: Hotline
) -> None:
    call = phone.call(hotline.line_number, CALLER).press("1").press("0")
    call.hold(queue_time=3600)
    assert call.where == "dialing" and call.dialled == [OVERFLOW]
