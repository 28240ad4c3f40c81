"""The console, the wallboard and the caller simulator in a real browser (Debian's Chromium),
against ``amparo web`` with two worker processes, real Redis and the test database."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from store.records import AuditEntry, Call
from tests.e2e.simulator.conftest import ARABIC_NAME, Floor
from tests.e2e.simulator.live_app import (
    ARTIFACTS,
    VIEWPORT,
    LiveApp,
    clean_artifacts_dir,
    save_timings,
    totp_code,
)
from tests.harness.hotline import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

SEVERE = ("1", "1", "1")  # Spanish, safe to talk, danger now: yes
LOW_RISK = ("1", "1", "2", "2", "2", "2")
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def _timings(live_app: LiveApp) -> Iterator[None]:
    clean_artifacts_dir()
    started = time.monotonic()
    yield
    TIMINGS.update(live_app.timings)
    TIMINGS["module_s"] = round(time.monotonic() - started, 2)
    save_timings("console-e2e", TIMINGS)


SCRIPT_ERRORS: list[str] = []


def _page(browser: Any, locale: str = "es-ES") -> Any:
    context = browser.new_context(viewport=VIEWPORT, locale=locale)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("pageerror", lambda error: SCRIPT_ERRORS.append(str(error)))
    page.on(
        "console",
        lambda message: SCRIPT_ERRORS.append(message.text) if message.type == "error" else None,
    )
    return page


@pytest.fixture(scope="module")
def wallboard(live_app: LiveApp, floor: Floor, browser: Any) -> Any:
    """The supervisor signs in once: a TOTP code is good for one sign-in only."""
    from playwright.sync_api import expect

    page = _page(browser)
    _sign_in(page, live_app, floor.supervisor_login, floor.supervisor_secret)
    page.wait_for_url("**/supervisor")
    expect(page.locator("#stream-status")).to_have_text("En directo")
    return page


@pytest.fixture(autouse=True)
def _no_script_errors() -> Iterator[None]:
    SCRIPT_ERRORS.clear()
    yield
    assert SCRIPT_ERRORS == [], "the pages raised script errors"


def _sign_in(page: Any, live: LiveApp, login: str, totp_secret: str | None = None) -> None:
    page.goto(live.url("/login"))
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    if totp_secret:
        page.wait_for_url("**/login/code")
        page.fill("#code", totp_code(totp_secret))
        page.click("button[type=submit]")


def _simulator(page: Any, live: LiveApp, floor: Floor) -> None:
    """The simulator needs a signed-in person: its page sends her to sign in and back."""
    page.goto(live.url("/simulator"))  # redirected to /login?next=/simulator
    page.fill("#login", floor.simulator_login)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/simulator")


class Caller:
    """The simulator page as a caller uses it."""

    def __init__(self, page: Any, live: LiveApp, floor: Floor) -> None:
        self.page = page
        _simulator(page, live, floor)

    def dial(self, line_number: str, from_number: str = "") -> str:
        from playwright.sync_api import expect

        self.page.wait_for_selector(f'#sim-line option[value="{line_number}"]', state="attached")
        self.page.select_option("#sim-line", line_number)
        self.page.fill("#sim-from", from_number)
        self.page.click("#sim-dial")
        transcript = self.page.locator("#sim-transcript")
        expect(transcript).to_have_attribute("data-call", re.compile(r"^[0-9a-f]{32}$"))
        return str(transcript.get_attribute("data-call"))

    def lines_heard(self) -> int:
        return int(self.page.locator("#sim-transcript li").count())

    def press(self, key: str, wait: bool = True) -> None:
        before = self.lines_heard()
        self.page.click(f'.sim-key[data-key="{key}"]')
        if wait:
            self.page.wait_for_function(
                "n => document.querySelectorAll('#sim-transcript li').length > n", arg=before
            )

    def hang_up(self) -> None:
        self.page.click("#sim-hangup")


def test_a_severe_caller_appears_on_the_supervisors_wallboard_within_two_seconds(
    live_app: LiveApp, floor: Floor, browser: Any, wallboard: Any
) -> None:
    from playwright.sync_api import expect

    caller = Caller(_page(browser), live_app, floor)
    call_id = caller.dial(floor.hotline.line_number)
    for key in SEVERE[:-1]:
        caller.press(key)
    pressed_at = time.monotonic()
    caller.press(SEVERE[-1], wait=False)
    row = wallboard.locator(f'#escalations tr.escalation[data-call="{call_id}"]')
    expect(row).to_be_visible(timeout=2000)
    TIMINGS["severe_key_to_wallboard_s"] = round(time.monotonic() - pressed_at, 3)
    expect(row).to_contain_text("Sin confirmar")
    expect(wallboard.locator("#waiting tr.waiting-group").first).to_contain_text("Extremo")
    wallboard.screenshot(path=str(ARTIFACTS / "console-wallboard.png"))
    caller.hang_up()
    expect(caller.page.locator("#sim-status")).to_have_attribute("data-status", "ended")


def test_an_agent_accepts_an_offered_caller_sees_her_card_and_ends_with_a_disposition(
    live_app: LiveApp, floor: Floor, browser: Any
) -> None:
    from playwright.sync_api import expect

    console = _page(browser)
    _sign_in(console, live_app, floor.agent_login)
    console.wait_for_url("**/console")
    expect(console.locator("#signed-in")).to_be_attached()
    expect(console.locator("#stream-status")).to_have_text("En directo")
    console.click("#state-available")
    expect(console.locator("#state-now")).to_have_attribute("data-state", "available")

    caller = Caller(_page(browser), live_app, floor)
    call_id = caller.dial(floor.hotline.line_number, floor.hotline.beneficiary_number)
    started = time.monotonic()
    for key in LOW_RISK:
        caller.press(key)
    expect(console.locator("#offer")).to_be_visible(timeout=5000)
    TIMINGS["screen_to_offer_s"] = round(time.monotonic() - started, 3)
    expect(console.locator("#offer-announcer")).to_contain_text("Llamada entrante")
    expect(console.locator("#escalation-banner")).to_be_hidden()  # not in the urgent team

    console.keyboard.press("a")  # the documented shortcut
    expect(console.locator("#caller-card")).to_be_visible()
    expect(console.locator("#card-beneficiary")).to_be_visible()
    expect(console.locator("#card-ivr tr")).to_have_count(5)
    expect(caller.page.locator("#sim-status")).to_have_attribute("data-status", "connected")
    expect(console.locator("#transcript li").last).to_contain_text("connected")

    console.keyboard.press("f")
    name = console.locator("#file-name")
    expect(name).to_have_text(ARABIC_NAME)
    assert name.evaluate("node => getComputedStyle(node).direction") == "rtl"
    assert (
        console.locator("#file-safety-plan").evaluate("node => getComputedStyle(node).direction")
        == "rtl"
    )
    console.screenshot(path=str(ARTIFACTS / "console-agent-call.png"))

    console.select_option("#disposition", "support_given")
    console.fill("#notes", "Se le recuerda el plan de seguridad.")
    console.click("#end-call")
    expect(console.locator("#action-status")).to_have_text("Llamada finalizada y guardada.")
    expect(console.locator("#caller-card")).to_be_hidden()
    expect(caller.page.locator("#sim-status")).to_have_attribute("data-status", "ended")

    with floor.sessions() as db:
        call = db.get(Call, call_id)
        assert call is not None
        assert (call.status, call.disposition) == ("completed", "support_given")
        assert call.notes == "Se le recuerda el plan de seguridad."
        viewed = db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "beneficiary_file_viewed",
                AuditEntry.subject_id == floor.hotline.beneficiary_id,
            )
        )
        assert viewed is not None and viewed.detail["call_id"] == call_id


def test_an_agent_mutes_herself_and_sends_keys_and_the_caller_notices_both(
    live_app: LiveApp, floor: Floor, browser: Any
) -> None:
    from playwright.sync_api import expect

    console = _page(browser)
    _sign_in(console, live_app, floor.agent_login)
    console.wait_for_url("**/console")
    expect(console.locator("#stream-status")).to_have_text("En directo")
    console.click("#state-available")
    expect(console.locator("#state-now")).to_have_attribute("data-state", "available")
    caller = Caller(_page(browser), live_app, floor)
    caller.dial(floor.hotline.line_number)
    for key in LOW_RISK:
        caller.press(key)
    expect(console.locator("#offer")).to_be_visible(timeout=5000)
    console.click("#offer-accept")
    expect(console.locator("#caller-card")).to_be_visible()
    heard = caller.page.locator("#sim-transcript")

    mute = console.locator("#mute")
    expect(mute).to_be_visible()  # the simulator's channel offers it
    console.keyboard.press("m")  # the documented shortcut
    expect(mute).to_have_attribute("aria-pressed", "true")
    expect(console.locator("#action-status")).to_contain_text("Micrófono silenciado")
    expect(heard).to_contain_text("[the agent's microphone is off]")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "false")
    expect(heard).to_contain_text("[the agent's microphone is on]")

    console.fill("#keys", "12#")
    console.click("#send-keys")
    expect(console.locator("#action-status")).to_have_text("Teclas enviadas.")
    expect(console.locator("#keys")).to_have_value("")
    expect(heard).to_contain_text("[keypad tones: 12#]")

    console.select_option("#disposition", "support_given")
    console.click("#end-call")
    expect(console.locator("#caller-card")).to_be_hidden()
    expect(caller.page.locator("#sim-status")).to_have_attribute("data-status", "ended")


def test_a_panic_button_alarm_rings_the_urgent_team_member_who_acknowledges_it(
    live_app: LiveApp, floor: Floor, browser: Any, wallboard: Any
) -> None:
    from playwright.sync_api import expect

    member = _page(browser)
    _sign_in(member, live_app, floor.urgent_login)
    member.wait_for_url("**/console")
    expect(member.locator("#stream-status")).to_have_text("En directo")

    device = _page(browser)
    _simulator(device, live_app, floor)
    device.fill("#panic-serial", floor.device_serial)
    device.select_option("#panic-type", "prealarm")
    device.click("#panic-press")
    expect(device.locator("#panic-status")).to_have_text(
        "Alarma enviada: el dispositivo llama a su línea."
    )
    transcript = device.locator("#sim-transcript")
    expect(transcript).to_have_attribute("data-call", re.compile(r"^[0-9a-f]{32}$"))
    call_id = transcript.get_attribute("data-call")
    alarm_row = wallboard.locator(f'#escalations tr.alarm[data-call="{call_id}"]')
    expect(alarm_row).to_contain_text("Alarma del dispositivo")
    expect(alarm_row).to_contain_text("Sin confirmar")

    # Ladders the earlier tests left may ring her too: she acknowledges the alarm's, by name.
    ring = member.locator(f'#escalation-list li[data-call="{call_id}"]')
    expect(ring).to_contain_text("Alarma del dispositivo")
    ring.get_by_role("button").click()
    expect(ring).to_have_count(0)
    expect(member.locator("#action-status")).to_contain_text("Alarma del dispositivo")
    expect(alarm_row).to_contain_text("Urgent1 Test")

    case = member.locator("#escalation-case")
    expect(case).to_be_visible()
    expect(member.locator("#case-alarm-type")).to_contain_text("Prealarma")
    expect(member.locator("#case-name")).to_have_text(ARABIC_NAME)
    expect(member.locator("#case-location")).to_have_text("40.41680, -3.70380")
    expect(member.locator("#case-map")).to_have_attribute(
        "href",
        "https://www.openstreetmap.org/?mlat=40.416800&mlon=-3.703800#map=17/40.416800/-3.703800",
    )
    expect(member.locator("#case-resources tr").first).to_contain_text("Comisaría Centro")


def test_an_agent_can_open_neither_the_wallboard_nor_a_recording(
    live_app: LiveApp, floor: Floor, browser: Any
) -> None:
    from playwright.sync_api import expect

    page = _page(browser, locale="en-GB")
    _sign_in(page, live_app, floor.agent_login)
    page.wait_for_url("**/console")
    response = page.goto(live_app.url("/supervisor"))
    assert response is not None and response.status == 403
    SCRIPT_ERRORS[:] = [e for e in SCRIPT_ERRORS if "status of 403" not in e]  # expected
    expect(page.locator("#forbidden")).to_have_text("Your role does not give access to this page.")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    refused = page.request.post(
        live_app.url(f"/recordings/{floor.recording_id}/access"),
        form={"reason": "I want to hear how it went"},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status == 403
    assert (
        refused.json()["error_id"].endswith("denied") or "forbidden" in refused.json()["error_id"]
    )
    with floor.sessions() as db:
        audited = db.scalar(select(AuditEntry).where(AuditEntry.subject_id == floor.recording_id))
        assert audited is not None


def test_a_woman_registered_by_api_presses_her_alarm_and_the_member_sees_where_she_is(
    live_app: LiveApp, floor: Floor, browser: Any
) -> None:
    """The whole path from outside: a provisioning system registers her and her device through
    the integration API, the device signs an alarm, a team member's console rings, and her
    acknowledgement shows the map link and the nearest resources."""
    import requests
    from playwright.sync_api import expect

    from tests.integration.checkins.helpers import alarm_body, signed_headers
    from tests.integration.checkins.provisioning import beneficiary_body, system_key

    key = system_key(floor.sessions, "provisioning")
    bearer = {"Authorization": f"Bearer {key}"}
    registered = requests.post(
        live_app.url("/api/beneficiaries"),
        json=beneficiary_body(floor.hotline, name="Registrada Por Api"),
        headers=bearer,
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    serial = f"API-{time.time_ns()}"
    device = requests.post(
        live_app.url("/api/devices"),
        json={"serial": serial, "beneficiary_id": registered.json()["id"], "number": "612000111"},
        headers=bearer,
        timeout=10,
    )
    assert device.status_code == 201, device.text
    secret = device.json()["secret"]

    member = _page(browser)
    _sign_in(member, live_app, floor.urgent_login)
    member.wait_for_url("**/console")
    expect(member.locator("#stream-status")).to_have_text("En directo")
    banner = member.locator("#escalation-banner")
    member.wait_for_timeout(1000)  # the rings still open are read on load
    for _ in range(5):  # ladders the earlier tests left may ring her: quiet them first
        if not banner.is_visible():
            break
        member.locator("#escalation-list button").first.click()
        member.wait_for_timeout(500)

    body = alarm_body(f"api-{time.time_ns()}", serial)
    alarm = requests.post(
        live_app.url("/api/devices/alarm"),
        data=body,
        headers=signed_headers(serial, secret, body),
        timeout=10,
    )
    assert alarm.status_code == 202, alarm.text

    expect(banner).to_be_visible()
    expect(member.locator("#escalation-list li")).to_have_count(1)
    member.locator("#escalation-list button").click()
    case = member.locator("#escalation-case")
    expect(case).to_be_visible()
    expect(member.locator("#case-name")).to_have_text("Registrada Por Api")
    expect(member.locator("#case-map")).to_have_attribute(
        "href",
        "https://www.openstreetmap.org/?mlat=40.416800&mlon=-3.703800#map=17/40.416800/-3.703800",
    )
    expect(member.locator("#case-resources tr").first).to_contain_text("Comisaría Centro")
