"""The softphone: the Twilio Voice SDK served by the app itself in Twilio mode, the simulated
line otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from app import create_app
from runtime import Runtime, build_runtime
from settings import Settings
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import Account, SignedIn, sign_in

SDK = Path(__file__).resolve().parents[3] / "agent_console" / "static" / "vendor" / "twilio.min.js"


@pytest.fixture
def twilio_app(settings: Settings, hotline: Hotline, redis_client: redis.Redis) -> Iterator[Flask]:
    runtime: Runtime = build_runtime(settings.with_overrides(twilio_account_sid="AC" + "0" * 32))
    try:
        yield create_app(runtime=runtime)
    finally:
        runtime.close()


def test_in_twilio_mode_the_console_loads_the_sdk_from_the_app_not_a_cdn(
    twilio_app: Flask, accounts: dict[str, Account]
) -> None:
    agent = sign_in(twilio_app, accounts["ana"])
    response = agent.client.get("/console")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "wss://*.twilio.com" in policy
    page = response.get_data(as_text=True)
    assert '<script src="/static/vendor/twilio.min.js">' in page
    assert '"twilio": true' in page
    assert "https://" not in page.split("<body>")[1], "nothing is loaded from elsewhere"
    if not SDK.exists():
        pytest.skip("make voice-sdk has not copied the SDK from npm")
    served = agent.client.get("/static/vendor/twilio.min.js")
    assert served.status_code == 200
    assert b"Twilio" in served.data[:4000]


def test_in_simulator_mode_the_console_needs_no_sdk(agent: SignedIn) -> None:
    response = agent.client.get("/console")
    assert "twilio" not in response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)
    assert "twilio.min.js" not in page
    assert '"simulator": true' in page
