"""Fixtures for the Twilio edge: the real app on the test database and Redis, configured as a
Twilio account, and a driver that plays Twilio against it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse

from app import create_app
from calls.switchboard import call_id_for
from runtime import Runtime, build_runtime
from settings import Settings
from store.vocabulary import Channel
from tests.harness.hotline import Hotline, make_hotline, staffed_runtime
from tests.harness.prism import PrismMock, prism_mock, unavailable_reason
from tests.harness.twilio_driver import ACCOUNT_SID, AUTH_TOKEN, FlaskTransport, TwilioDriver

ACCOUNT = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
REJECTED = "Request did not pass the validation rules"

PUBLIC_BASE_URL = "https://hotline.example.org"
FALLBACK_NUMBER = "+34900000009"
NEUTRAL_CALLER_ID = "+34900000100"
UNREACHABLE_API = "http://127.0.0.1:9"  # REST calls fail fast unless a test points at Prism


def twilio_settings(settings: Settings, **changes: object) -> Settings:
    values: dict[str, object] = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_api_base_url": UNREACHABLE_API,
        "public_base_url": PUBLIC_BASE_URL,
        "fallback_number": FALLBACK_NUMBER,
        "twilio_neutral_caller_id": NEUTRAL_CALLER_ID,
        "twilio_cps": 50.0,
    }
    values.update(changes)
    return settings.with_overrides(**values)


def queued_call(runtime: Runtime, hotline: Hotline) -> tuple[str, str]:
    """A caller through the IVR into the line's queue: her call id and CallSid."""
    phone = TwilioDriver(FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL)
    call = phone.call(hotline.line_number, "+34699000999").press("1").press("0")
    assert call.where == "queued"
    return call_id_for(Channel.TWILIO, call.sid), call.sid


@pytest.fixture
def hotline(db_sessions: sessionmaker[Session]) -> Hotline:
    return make_hotline(db_sessions)


@pytest.fixture
def runtime(settings: Settings, hotline: Hotline, redis_client: redis.Redis) -> Iterator[Runtime]:
    """A runtime configured for Twilio, on a staffed line."""
    with staffed_runtime(twilio_settings(settings), hotline, "ana") as built:
        yield built


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime=runtime)


@pytest.fixture
def phone(app: Flask) -> TwilioDriver:
    return TwilioDriver(FlaskTransport(app.test_client()), PUBLIC_BASE_URL)


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismMock]:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"Prism is required in CI: {reason}")
        pytest.skip(reason)
    with prism_mock(tmp_path_factory.mktemp("prism-twilio")) as mock:
        yield mock


class NotingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The twilio client's own HTTP client, noting each request's method, path and form."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, dict[str, list[str]], int]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        response = super().request(method, url, *args, **kwargs)
        form = kwargs.get("data") or {}
        fields = {k: v if isinstance(v, list) else [v] for k, v in dict(form).items()}
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        self.sent.append((method.upper(), "/" + path, fields, response.status_code))
        return response


@pytest.fixture
def rest_runtime(
    settings: Settings, hotline: Hotline, redis_client: redis.Redis, prism: PrismMock
) -> Iterator[tuple[Runtime, NotingHttpClient]]:
    runtime = build_runtime(twilio_settings(settings, twilio_api_base_url=prism.url))
    noting = NotingHttpClient()
    voice = runtime.twilio_voice
    assert voice is not None
    voice.client.http_client = noting
    try:
        yield runtime, noting
    finally:
        runtime.close()
