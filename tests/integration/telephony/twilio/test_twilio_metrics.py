"""``/metrics`` over a real Twilio call and a real device alarm: a caller waiting shows by line
and risk, her time to a human is observed when an agent accepts, webhooks are timed by route,
an alarm's time to its ladder and the open ladder are counted, and nothing personal shows."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from agent_console.calls import CallDesk
from routing.state import AgentState
from runtime import Runtime
from settings import Settings
from store.models import Device
from tests.harness.hotline import Hotline, staffed_runtime
from tests.harness.twilio_driver import TwilioDriver
from tests.integration.checkins.helpers import alarm_body, signed_headers
from tests.integration.telephony.twilio.conftest import twilio_settings

TOKEN = "metrics-token-" + "x" * 24
SCREEN = ("1", "1", "2", "2", "2", "2", "2")  # Spanish, safe to talk, then "no" to each question


@pytest.fixture
def runtime(settings: Settings, hotline: Hotline, redis_client: redis.Redis) -> Iterator[Runtime]:
    with staffed_runtime(twilio_settings(settings, metrics_token=TOKEN), hotline, "ana") as built:
        yield built


def scrape(app: Flask) -> tuple[str, dict[str, Metric]]:
    answer = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    text = answer.get_data(as_text=True)
    return text, {family.name: family for family in text_string_to_metric_families(text)}


def value(families: dict[str, Metric], sample: str, **labels: str) -> float | None:
    base = sample
    for suffix in ("_bucket", "_count", "_sum", "_total"):
        base = base.removesuffix(suffix)
    family = families[base]
    for item in family.samples:
        if item.name == sample and all(item.labels.get(k) == v for k, v in labels.items()):
            return float(item.value)
    return None


def test_a_waiting_caller_then_her_answer_show_in_the_metrics_without_her_number(
    app: Flask, phone: TwilioDriver, runtime: Runtime, hotline: Hotline
) -> None:
    caller = "+34655" + str(time.time_ns())[-6:]
    call = phone.call(hotline.line_number, caller)
    for key in SCREEN:
        if call.where == "queued":
            break
        call.press(key)
    assert call.where == "queued"

    text, families = scrape(app)
    waiting = [s for s in families["amparo_calls_waiting"].samples if s.value]
    assert [(s.labels["line"], s.value) for s in waiting] == [(hotline.line_id, 1.0)]
    risk = waiting[0].labels["risk"]
    incoming = value(families, "amparo_webhook_seconds_count", route="/twilio/voice/incoming")
    assert incoming == 1.0
    assert value(families, "amparo_time_to_human_seconds_count", risk=risk) is None
    for personal in (caller, caller.lstrip("+"), hotline.line_number.lstrip("+"), call.sid):
        assert personal not in text

    ana = hotline.agents["ana"]
    runtime.router.set_agent_state(ana, AgentState.AVAILABLE, time.time())
    desk = CallDesk(runtime.console_ports)
    offer = desk.presence(ana)["offer"]
    assert offer is not None
    desk.accept(offer["call"], ana)

    _text, families = scrape(app)
    assert not [s for s in families["amparo_calls_waiting"].samples if s.value]
    assert value(families, "amparo_time_to_human_seconds_count", risk=risk) == 1.0
    assert value(families, "amparo_agents", state="on_call") == 1.0
    assert value(families, "amparo_redis_up") == 1.0


def test_a_device_alarm_is_timed_to_its_ladder_and_its_ladder_counted_open(
    app: Flask, hotline: Hotline, runtime: Runtime
) -> None:
    with runtime.sessions() as db:
        device = db.get(Device, hotline.device_id)
        assert device is not None
        serial = device.serial
    body = alarm_body(f"T-{time.time_ns()}", serial)
    headers = signed_headers(serial, hotline.device_secret, body)
    assert (
        app.test_client().post("/api/devices/alarm", data=body, headers=headers).status_code == 202
    )

    _text, families = scrape(app)
    assert value(families, "amparo_alarm_to_ladder_seconds_count") == 1.0
    assert value(families, "amparo_escalations_open") == 1.0
    bucket = value(families, "amparo_alarm_to_ladder_seconds_bucket", le="1.0")
    assert bucket == 1.0  # stored and laddered in the same request
