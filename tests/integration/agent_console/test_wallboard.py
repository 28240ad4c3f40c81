"""The supervisors' wallboard: waiting calls, agents, escalations with their acknowledgement,
service level and charts."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

from flask import Flask

from agent_console.charts import DayWindow, calls_per_hour, hourly_bars_svg, risk_mix, risk_mix_svg
from runtime import Runtime
from store.vocabulary import RiskLevel
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import Account, SignedIn, sign_in

SEVERE = ("1", "1", "1")


def _severe_caller(runtime: Runtime, hotline: Hotline) -> str:
    phones = runtime.simulator
    call = phones.dial(hotline.line_number, None)
    for digit in SEVERE:
        call = phones.press(call.call_id, digit)
    assert call.status is PhoneStatus.ON_HOLD
    return call.call_id


def test_a_waiting_severe_call_shows_by_risk_and_language_with_its_open_escalation(
    runtime: Runtime, hotline: Hotline, supervisor: SignedIn
) -> None:
    call_id = _severe_caller(runtime, hotline)
    board = supervisor.get("/supervisor/api/board").json
    [group] = [g for g in board["waiting"] if g["queue"].startswith(hotline.line_id)]
    assert (group["risk"], group["language"], group["waiting"]) == ("extremo", "es", 1)
    [escalation] = [e for e in board["escalations"] if e["call_id"] == call_id]
    assert (escalation["tier"], escalation["acknowledged"]) == (1, False)
    assert board["service_level"]["enqueued"] >= 1


def test_an_acknowledged_escalation_stays_on_the_board_with_who_took_it(
    runtime: Runtime,
    hotline: Hotline,
    supervisor: SignedIn,
    app: Flask,
    accounts: dict[str, Account],
) -> None:
    call_id = _severe_caller(runtime, hotline)
    member = sign_in(app, accounts["urgent1"])
    assert (
        member.post(
            "/console/api/escalations/acknowledge", {"escalation_id": f"call:{call_id}"}
        ).status_code
        == 200
    )
    board = supervisor.get("/supervisor/api/board").json
    [escalation] = [e for e in board["escalations"] if e["call_id"] == call_id]
    assert escalation["acknowledged"] is True
    assert escalation["acknowledged_by"] == "Urgent1 Test"


def test_the_wallboard_page_draws_todays_charts(
    runtime: Runtime, hotline: Hotline, supervisor: SignedIn
) -> None:
    _severe_caller(runtime, hotline)
    page = supervisor.client.get("/supervisor").get_data(as_text=True)
    assert page.count("<svg") == 2
    assert 'aria-labelledby="hourly-t hourly-d"' in page
    fragment = supervisor.client.get("/supervisor/board").get_data(as_text=True)
    assert "riskmix-d" in fragment and "<html" not in fragment


def test_calls_per_hour_count_only_the_service_day() -> None:
    window = DayWindow.containing(datetime(2026, 3, 2, 15, 0, tzinfo=UTC).timestamp())
    started = [
        datetime(2026, 3, 2, 0, 5, tzinfo=UTC),
        datetime(2026, 3, 2, 15, 59, tzinfo=UTC),
        datetime(2026, 3, 2, 15, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 59, tzinfo=UTC),
        datetime(2026, 3, 3, 0, 0, tzinfo=UTC),
    ]
    counts = calls_per_hour(started, window)
    assert (counts[0], counts[15], sum(counts)) == (1, 2, 3)
    shifted = DayWindow.containing(datetime(2026, 3, 2, 23, 30, tzinfo=UTC).timestamp(), 3600)
    assert shifted.start == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)


def test_charts_are_well_formed_svg_that_name_their_figures() -> None:
    hourly = hourly_bars_svg([0] * 9 + [4] + [0] * 14, "Calls per hour", "calls")
    root = ElementTree.fromstring(hourly)  # noqa: S314 - our own SVG
    assert root.tag.endswith("svg") and "09h: 4" in hourly
    mix = risk_mix(["extremo", "extremo", None, "bajo"])
    assert mix[RiskLevel.EXTREMO] == 2 and mix[RiskLevel.NO_APRECIADO] == 1
    labels = {level: f"<{level.value}>" for level in RiskLevel}
    drawn = risk_mix_svg(mix, labels, "Risk & mix")
    ElementTree.fromstring(drawn)  # noqa: S314 - our own SVG
    assert "&lt;extremo&gt;: 2" in drawn and "Risk &amp; mix" in drawn
