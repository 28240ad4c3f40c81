"""A shift in Chromium: a supervisor on the wallboard and three agents (Ana, Farah and Urgent1,
who is also on the urgent team) through the calls of a day: low-risk, severe, silent (no key
at all), a device alarm, one needing an interpreter, a caller who hangs up mid-call, reloads
mid-call and mid-ring, and risk lowered and raised at the end of calls. Each step asserts what
each person sees and what is announced to a screen reader, and axe-core (from npm) checks each
page state for serious or critical violations. The tests run in order and share the people."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from store.callbacks import Callback, CallbackStatus
from store.records import Call, CallEvent, Escalation
from tests.e2e.simulator.conftest import Floor
from tests.e2e.simulator.live_app import ARTIFACTS, ROOT, VIEWPORT, LiveApp, save_timings, totp_code
from tests.harness.hotline import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LOW_RISK = ("1", "1", "2", "2", "2", "2")
SEVERE = ("1", "1", "1")
ARABIC_SEVERE = ("4", "1", "1")
SCRIPT_ERRORS: list[str] = []
TIMINGS: dict[str, float] = {}
AUDITED: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _no_script_errors() -> Iterator[None]:
    SCRIPT_ERRORS.clear()
    yield
    assert SCRIPT_ERRORS == [], "the pages raised script errors"


def _page(browser: Any) -> Any:
    # CSP bypassed for this test's pages only, so axe-core can be injected into them.
    context = browser.new_context(viewport=VIEWPORT, locale="es-ES", bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("pageerror", lambda error: SCRIPT_ERRORS.append(str(error)))
    page.on(
        "console",
        lambda message: SCRIPT_ERRORS.append(message.text) if message.type == "error" else None,
    )
    return page


def axe(page: Any, state: str) -> None:
    """No serious or critical axe-core violation in this page state."""
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    AUDITED[state] = len(results["violations"])
    assert bad == [], f"axe in state {state!r}: {bad}"


def _sign_in(page: Any, live: LiveApp, login: str, totp_secret: str | None = None) -> None:
    page.goto(live.url("/login"))
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    if totp_secret:
        page.wait_for_url("**/login/code")
        page.fill("#code", totp_code(totp_secret))
        page.click("button[type=submit]")


class Agent:
    """A console as its agent uses it."""

    def __init__(self, browser: Any, live: LiveApp, login: str) -> None:
        from playwright.sync_api import expect

        self.page = _page(browser)
        _sign_in(self.page, live, login)
        self.page.wait_for_url("**/console")
        expect(self.page.locator("#stream-status")).to_have_text("En directo")

    def loc(self, selector: str) -> Any:
        return self.page.locator(selector)

    def presence(self, state: str) -> None:
        from playwright.sync_api import expect

        self.page.click(f"#state-{state}")
        expect(self.loc("#state-now")).to_have_attribute(
            "data-state", re.compile(f"^{state}|offered$")
        )

    def phase(self, phase: str) -> None:
        from playwright.sync_api import expect

        expect(self.loc("#call-phase")).to_have_attribute("data-phase", phase, timeout=8000)

    def accept(self) -> None:
        from playwright.sync_api import expect

        expect(self.loc("#offer")).to_be_visible(timeout=8000)
        self.page.keyboard.press("a")
        expect(self.loc("#caller-card")).to_be_visible()
        self.phase("on_call")

    def end(self, disposition: str, risk: str | None = None, reason: str | None = None) -> None:
        from playwright.sync_api import expect

        self.page.select_option("#disposition", disposition)
        if risk is not None:
            self.page.select_option("#end-risk", risk)
        if reason is not None:
            self.page.fill("#risk-reason", reason)
        self.page.click("#end-call")
        expect(self.loc("#action-status")).to_have_text("Llamada finalizada y guardada.")
        self.phase("wrap_up")


class Phones:
    """Callers, through the simulator's API with a signed-in simulator session (quicker than
    its page; the silent caller uses the page, whose clock times her menus out)."""

    def __init__(self, browser: Any, live: LiveApp, floor: Floor) -> None:
        self.page = _page(browser)
        self.floor = floor
        self.page.goto(live.url("/simulator"))
        self.page.fill("#login", floor.simulator_login)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/simulator")
        self.live = live
        self.csrf = self.page.locator('meta[name="csrf-token"]').get_attribute("content")

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.page.request.post(
            self.live.url(f"/simulator/api{path}"),
            data=json.dumps(body or {}),
            headers={"X-CSRF-Token": self.csrf, "Content-Type": "application/json"},
        )
        assert answer.ok, answer.text()
        return dict(answer.json())

    def call(self, keys: tuple[str, ...], number: str = "") -> str:
        call = self._post("/calls", {"line": self.floor.hotline.line_number, "from": number})
        for key in keys:
            call = self._post(f"/calls/{call['call_id']}/keys", {"digits": key})
        assert call["status"] == "on_hold", call
        return str(call["call_id"])

    def hang_up(self, call_id: str) -> None:
        self._post(f"/calls/{call_id}/hangup")

    def ringing(self) -> list[str]:
        answer = self.page.request.get(self.live.url("/simulator/api/ringing"))
        assert answer.ok, answer.text()
        return [str(call_id) for call_id in answer.json()["calls"]]

    def answer(self, call_id: str) -> None:
        self._post(f"/calls/{call_id}/answer")


@dataclass
class Shift:
    boss: Any
    ana: Agent
    farah: Agent
    urgent: Agent
    phones: Phones
    floor: Floor
    live: LiveApp


@pytest.fixture(scope="module")
def shift(live_app: LiveApp, floor: Floor, browser: Any) -> Iterator[Shift]:
    from playwright.sync_api import expect

    started = time.monotonic()
    boss = _page(browser)
    _sign_in(boss, live_app, floor.supervisor_login, floor.supervisor_secret)
    boss.wait_for_url("**/supervisor")
    expect(boss.locator("#stream-status")).to_have_text("En directo")
    logins = floor.hotline.agents
    with floor.sessions() as db:
        from store.models import Agent as AgentRow

        rows = {key: db.get(AgentRow, value) for key, value in logins.items()}
        names = {key: row.login for key, row in rows.items() if row is not None}
    yield Shift(
        boss,
        Agent(browser, live_app, names["ana"]),
        Agent(browser, live_app, names["farah"]),
        Agent(browser, live_app, names["urgent1"]),
        Phones(browser, live_app, floor),
        floor,
        live_app,
    )
    TIMINGS["shift_s"] = round(time.monotonic() - started, 1)
    save_timings("console-shift", {**TIMINGS, "axe_violations_by_state": AUDITED})


def _only_available(shift: Shift, agent: Agent) -> None:
    for other in (shift.ana, shift.farah, shift.urgent):
        other.presence("available" if other is agent else "break")


def test_low_risk_calls_end_with_the_calls_risk_by_default_raised_then_lowered_with_a_reason(
    shift: Shift,
) -> None:
    from playwright.sync_api import expect

    ana, phones = shift.ana, shift.phones
    axe(ana.page, "console idle")
    _only_available(shift, ana)

    # 1: a registered woman (stored risk: medio). The list reads in VioGén's order, the
    # default is her risk, and raising it asks for no reason.
    phones.call(LOW_RISK, shift.floor.hotline.beneficiary_number)
    expect(ana.loc("#offer")).to_be_visible()
    expect(ana.loc("#offer-announcer")).to_contain_text("Llamada entrante: ")
    expect(ana.loc("#offer-announcer")).to_contain_text("Idioma: español")
    axe(ana.page, "offer")
    ana.accept()
    assert ana.page.evaluate("() => document.activeElement.id") == "actions-title"
    assert ana.loc("#end-risk option").all_inner_texts() == [
        "No apreciado",
        "Bajo",
        "Medio",
        "Alto",
        "Extremo",
    ]
    expect(ana.loc("#end-risk")).to_have_value("medio")
    expect(ana.loc("#risk-reason-row")).to_be_hidden()
    ana.page.select_option("#end-risk", "extremo")
    expect(ana.loc("#risk-reason-row")).to_be_hidden()
    ana.page.select_option("#end-risk", "bajo")
    expect(ana.loc("#risk-reason-row")).to_be_visible()
    expect(ana.loc("label[for=risk-reason]")).to_have_text(
        "¿Por qué baja el riesgo? (queda en la auditoría)"
    )
    axe(ana.page, "on call, lowering risk")
    ana.end("support_given", risk="alto")
    expect(ana.loc("#wrap-left")).to_contain_text(re.compile(r"\d:\d\d"))
    axe(ana.page, "wrap-up")

    # 2: the same woman, now alto: lowered to medio with a reason (audited).
    ana.presence("available")
    call_id = phones.call(LOW_RISK, shift.floor.hotline.beneficiary_number)
    ana.accept()
    expect(ana.loc("#end-risk")).to_have_value("alto")
    # The supervisor listens in: the board shows her mode, and she leaves from the keyboard.
    boss = shift.boss
    listen = boss.locator(f'button[data-call="{call_id}"][data-mode="listen"]')
    listen.click()
    expect(listen).to_have_attribute("aria-pressed", "true")
    leave = boss.locator(f'button[data-call="{call_id}"][data-mode="leave"]')
    expect(leave).to_have_text("Salir")
    axe(boss, "wallboard while listening")
    leave.focus()
    boss.keyboard.press("Enter")
    expect(leave).to_have_count(0)
    expect(listen).to_have_attribute("aria-pressed", "false")
    expect(listen).to_be_focused()
    expect(boss.locator("#agents")).to_contain_text("español")  # names, not codes
    expect(boss.locator("#tier-help")).to_contain_text("Nivel: el escalón del equipo urgente")
    ana.end("information", risk="medio", reason="Vive ahora con su hermana, lejos de él.")

    # 3: right after a call where the reason field appeared, ending with the default is not
    # blocked by a hidden required field.
    ana.presence("available")
    call_id = phones.call(LOW_RISK)
    ana.accept()
    expect(ana.loc("#risk-reason-row")).to_be_hidden()
    # She is put through to another service by number (a cold transfer), then the outcome.
    ana.page.fill("#transfer-out-number", "+34600000001")
    ana.page.click("#transfer-out")
    expect(ana.loc("#action-status")).to_have_text(
        "Llamando al servicio; ella oye la música de espera."
    )
    ana.end("information")
    with shift.floor.sessions() as db:
        call = db.get(Call, call_id)
        assert call is not None and call.disposition == "information"


def test_a_warm_transfer_is_consulted_then_taken_back_then_handed_over(shift: Shift) -> None:
    from playwright.sync_api import expect

    farah, phones = shift.farah, shift.phones
    _only_available(shift, farah)
    call_id = phones.call(LOW_RISK)
    farah.accept()
    expect(farah.loc("#warm-row")).to_be_hidden()
    for step, said in (
        ("#transfer-cancel", "Vuelve a estar con ella."),
        ("#transfer-complete", "Ya está con el servicio. Registre el resultado."),
    ):
        farah.page.fill("#transfer-out-number", "+34600000003")
        farah.page.check("#transfer-out-warm")
        farah.page.click("#transfer-out")
        expect(farah.loc("#warm-row")).to_be_visible()
        axe(farah.page, "warm transfer: consulting")
        farah.page.click(step)
        expect(farah.loc("#action-status")).to_have_text(said)
        expect(farah.loc("#warm-row")).to_be_hidden()
    farah.end("information")
    with shift.floor.sessions() as db:
        kinds = list(
            db.scalars(
                select(CallEvent.kind).where(
                    CallEvent.call_id == call_id, CallEvent.kind.like("transfer_c%")
                )
            )
        )
    assert sorted(kinds) == ["transfer_cancelled", "transfer_completed"]


def test_an_available_agent_places_a_call_and_is_on_it_once_it_answers(shift: Shift) -> None:
    from playwright.sync_api import expect

    ana, phones = shift.ana, shift.phones
    _only_available(shift, ana)
    ana.phase("idle")
    expect(ana.loc("#place-call")).to_be_visible()
    axe(ana.page, "console idle, place a call")
    ana.page.fill("#place-call-number", "+34600000002")
    ana.page.click("#place-call-submit")
    expect(ana.loc("#action-status")).to_have_text(
        "Primero suena su teléfono; después se marca y le pasamos la llamada cuando contesten."
    )
    ana.phase("on_call")
    expect(ana.loc("#place-call")).to_be_hidden()
    with shift.floor.sessions() as db:  # hers: other modules may leave phones ringing
        ringing = db.scalar(
            select(Callback.attempt_call_id).where(
                Callback.agent_id == shift.floor.hotline.agents["ana"],
                Callback.status == CallbackStatus.DIALING,
            )
        )
    assert ringing is not None and ringing in phones.ringing()
    phones.answer(ringing)
    expect(ana.loc("#caller-card")).to_be_visible()
    ana.end("information")
    with shift.floor.sessions() as db:
        call = db.get(Call, ringing)
        assert call is not None and (call.direction, call.disposition) == (
            "callback",
            "information",
        )


def test_she_cancels_a_call_she_placed_while_it_rings(shift: Shift) -> None:
    from playwright.sync_api import expect

    ana, phones = shift.ana, shift.phones
    _only_available(shift, ana)
    # Out of the last test's wrap-up: the console's next look at the server shows her idle.
    expect(ana.loc("#call-phase")).to_have_attribute("data-phase", "idle", timeout=15000)
    expect(ana.loc("#place-call-ringing")).to_be_hidden()
    ana.page.fill("#place-call-number", "+34600000004")
    ana.page.click("#place-call-submit")
    ana.phase("on_call")
    cancel = ana.page.get_by_role("button", name="Cancelar", exact=True)
    expect(cancel).to_be_visible()
    expect(ana.loc("#place-call-ringing")).to_contain_text("Sonando en el otro extremo")
    axe(ana.page, "placed call ringing, cancel")
    with shift.floor.sessions() as db:
        ringing = db.scalar(
            select(Callback.attempt_call_id).where(
                Callback.agent_id == shift.floor.hotline.agents["ana"],
                Callback.status == CallbackStatus.DIALING,
            )
        )
    assert ringing is not None and ringing in phones.ringing()
    cancel.click()
    expect(ana.loc("#action-status")).to_have_text("Llamada cancelada.")
    expect(ana.loc("#place-call-ringing")).to_be_hidden()
    ana.phase("wrap_up")
    assert ringing not in phones.ringing()
    with shift.floor.sessions() as db:
        kinds = list(db.scalars(select(CallEvent.kind).where(CallEvent.call_id == ringing)))
    assert "placed_call_cancelled" in kinds


def test_a_severe_call_offered_to_a_team_member_says_which_to_press_and_accepting_is_no_ack(
    shift: Shift,
) -> None:
    from playwright.sync_api import expect

    urgent, phones, boss = shift.urgent, shift.phones, shift.boss
    _only_available(shift, urgent)
    call_id = phones.call(SEVERE)
    expect(urgent.loc("#offer")).to_be_visible()
    ring = urgent.loc(f'#escalation-list li[data-call="{call_id}"]')
    expect(ring).to_contain_text("Cribado grave")
    expect(ring).to_contain_text("Test line")
    expect(ring.locator(".ring-note")).to_contain_text("Aceptar te pone con ella")
    expect(urgent.loc("#escalation-announcer")).to_contain_text("Cribado grave")
    row = boss.locator(f'#escalations tr.escalation[data-call="{call_id}"]')
    expect(row).to_contain_text("Sin confirmar")
    expect(boss.locator("#board-announcer")).to_contain_text("Cribado grave")
    axe(urgent.page, "offer and ring of the same call")
    axe(boss, "wallboard with an open escalation")

    urgent.accept()
    expect(ring).to_have_count(0)
    expect(row).to_have_count(0)  # closed, not acknowledged: no longer on the board
    with shift.floor.sessions() as db:
        escalation = db.scalar(select(Escalation).where(Escalation.call_id == call_id))
        assert escalation is not None
        assert (escalation.acknowledged_by, escalation.closed_reason) == (None, "answered")
    urgent.end("urgent_response")


def test_a_caller_who_hangs_up_mid_call_leaves_her_agent_with_caller_gone_and_the_outcome(
    shift: Shift,
) -> None:
    from playwright.sync_api import expect

    farah, phones = shift.farah, shift.phones
    _only_available(shift, farah)
    call_id = phones.call(LOW_RISK)
    farah.accept()
    expect(farah.loc("#hold")).to_be_visible()
    phones.hang_up(call_id)
    farah.phase("caller_gone")
    expect(farah.loc("#call-phase-text")).to_have_text(
        "La persona ha colgado. Guarda el resultado de la llamada."
    )
    expect(farah.loc("#hold")).to_be_hidden()
    expect(farah.loc("#transfer-row")).to_be_hidden()
    expect(farah.loc("#end-form")).to_be_visible()
    expect(farah.loc("#wrap-left")).to_contain_text(re.compile(r"\d:\d\d"))
    axe(farah.page, "caller gone")
    farah.page.keyboard.press("h")  # the shortcut does nothing on a call with nobody on it
    expect(farah.loc("#action-status")).not_to_contain_text("espera")
    farah.page.reload()
    farah.phase("caller_gone")  # rebuilt from the server
    farah.end("caller_hung_up")


def test_reloads_mid_call_and_mid_ring_rebuild_the_console(shift: Shift) -> None:
    from playwright.sync_api import expect

    ana, urgent, phones = shift.ana, shift.urgent, shift.phones
    _only_available(shift, ana)
    phones.call(LOW_RISK)
    ana.accept()
    ana.page.fill("#notes", "Llama desde el trabajo.")
    leaving = (
        "() => { const e = new Event('beforeunload', {cancelable: true});"
        " window.dispatchEvent(e); return e.defaultPrevented; }"
    )
    assert ana.page.evaluate(leaving) is True, "typed notes: the browser asks before leaving"
    ana.page.reload()
    ana.phase("on_call")
    expect(ana.loc("#caller-card")).to_be_visible()
    expect(ana.loc("#call-actions")).to_be_visible()
    ana.end("support_given")

    # Mid-ring: a severe caller while nobody is free rings Urgent1 (on a break); her reload
    # shows the ring again with its reason, line and age.
    ana.presence("break")
    call_id = phones.call(SEVERE)
    ring = urgent.loc(f'#escalation-list li[data-call="{call_id}"]')
    expect(ring).to_contain_text("Cribado grave")
    urgent.page.reload()
    expect(ring).to_contain_text("Cribado grave")
    expect(ring.locator(".ring-age")).to_have_text(re.compile(r"^\d:\d\d$"))
    axe(urgent.page, "ringing after reload")
    ring.get_by_role("button").click()
    expect(urgent.loc("#action-status")).to_contain_text("Escalado confirmado. Cribado grave")
    expect(urgent.loc("#escalation-case")).to_be_visible()
    expect(
        shift.boss.locator(f'#escalations tr.escalation[data-call="{call_id}"]')
    ).to_contain_text("Urgent1 Test")
    urgent.page.click("#case-close")
    # Whoever answers the ring gets the woman: her call is offered to Urgent1 at once.
    urgent.accept()
    urgent.end("urgent_response")


def test_a_caller_who_needs_an_interpreter_is_announced_with_her_language_and_flags(
    shift: Shift,
) -> None:
    from playwright.sync_api import expect

    ana, phones = shift.ana, shift.phones
    _only_available(shift, ana)
    phones.call(ARABIC_SEVERE)
    expect(ana.loc("#offer")).to_be_visible()
    announced = ana.loc("#offer-announcer")
    expect(announced).to_contain_text("Idioma: árabe")
    expect(announced).to_contain_text("añade un intérprete")
    ana.accept()
    expect(ana.loc("#card-language")).to_have_text("árabe")
    ana.end("support_given")


def test_the_simulators_silent_caller_times_out_of_the_menus_to_a_person(shift: Shift) -> None:
    from playwright.sync_api import expect

    farah = shift.farah
    _only_available(shift, farah)
    caller = shift.phones.page
    caller.select_option("#sim-line", shift.floor.hotline.line_number)
    caller.fill("#sim-from", "")
    started = time.monotonic()
    caller.click("#sim-dial")
    expect(farah.loc("#offer")).to_be_visible(timeout=30_000)  # no key pressed at all
    TIMINGS["silent_dial_to_offer_s"] = round(time.monotonic() - started, 1)
    expect(farah.loc("#offer-flags")).to_contain_text("Llamada silenciosa")
    farah.accept()
    expect(caller.locator("#sim-status")).to_have_attribute("data-status", "connected")
    farah.end("silent_no_contact")


def test_a_device_alarm_rings_the_team_and_the_member_acknowledges_it_by_name(
    shift: Shift,
) -> None:
    from playwright.sync_api import expect

    urgent, boss = shift.urgent, shift.boss
    _only_available(shift, shift.farah)
    device = shift.phones.page
    device.fill("#panic-serial", shift.floor.device_serial)
    device.select_option("#panic-type", "assault")
    transcript = device.locator("#sim-transcript")
    silent_call = transcript.get_attribute("data-call") or ""
    device.click("#panic-press")
    expect(transcript).not_to_have_attribute("data-call", silent_call)
    expect(transcript).to_have_attribute("data-call", re.compile(r"^[0-9a-f]{32}$"))
    call_id = transcript.get_attribute("data-call")
    ring = urgent.loc(f'#escalation-list li[data-call="{call_id}"]')
    expect(ring).to_contain_text("Alarma del dispositivo")
    expect(boss.locator("#board-announcer")).to_contain_text("Alarma del dispositivo")
    ring.get_by_role("button").click()
    expect(urgent.loc("#action-status")).to_contain_text("Alarma del dispositivo")
    expect(urgent.loc("#case-alarm-type")).to_contain_text("Agresión")
    axe(urgent.page, "escalation case")
    shift.farah.accept()
    expect(shift.farah.loc("#card-alarm")).to_be_visible()
    first = shift.farah.loc("#alarm-age").inner_text()
    shift.farah.page.wait_for_timeout(1500)
    assert shift.farah.loc("#alarm-age").inner_text() != first, "the fix's age ticks"
    shift.farah.end("urgent_response")
    urgent.page.click("#case-close")


def test_a_busy_hour_of_quick_calls_goes_round_the_three_agents(shift: Shift) -> None:
    from playwright.sync_api import expect

    for round_ in range(3):
        for agent in (shift.ana, shift.farah, shift.urgent):
            _only_available(shift, agent)
            call_id = shift.phones.call(LOW_RISK)
            agent.accept()
            expect(agent.loc("#card-started")).not_to_have_text("—")
            if round_ == 1:
                shift.phones.hang_up(call_id)
                agent.phase("caller_gone")
                agent.end("caller_hung_up")
            else:
                agent.end("information")
    with shift.floor.sessions() as db:
        ended = db.scalars(
            select(Call).where(
                Call.line_id == shift.floor.hotline.line_id, Call.status == "completed"
            )
        ).all()
    assert len(ended) >= 18


def test_keyboard_only_the_agent_takes_and_ends_a_whole_call(shift: Shift) -> None:
    from playwright.sync_api import expect

    ana, phones = shift.ana, shift.phones
    _only_available(shift, ana)
    page = ana.page
    phones.call(LOW_RISK, shift.floor.hotline.beneficiary_number)
    expect(ana.loc("#offer")).to_be_visible()
    assert page.evaluate("() => document.activeElement.id") == "offer-accept"
    page.keyboard.press("Enter")
    ana.phase("on_call")
    assert page.evaluate("() => document.activeElement.id") == "actions-title"
    expect(ana.loc("#card-beneficiary")).to_be_visible()
    page.keyboard.press("f")
    expect(ana.loc("#ben-file")).to_be_visible()
    for _ in range(40):  # Tab from the actions to the outcome
        if page.evaluate("() => document.activeElement.id") == "disposition":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.type("Cuelga con calma; volverá a llamar.")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "end-risk"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "end-call"
    page.keyboard.press("Enter")
    expect(ana.loc("#action-status")).to_have_text("Llamada finalizada y guardada.")
    assert page.evaluate("() => document.activeElement.id") == "softphone-title"
    ana.page.screenshot(path=str(ARTIFACTS / "shift-agent-after-keyboard-call.png"))


def test_the_supervisors_other_pages_pass_axe_and_lead_back_to_the_wallboard(shift: Shift) -> None:
    from playwright.sync_api import expect

    boss = shift.boss
    boss.goto(shift.live.url("/beneficiaries"))
    axe(boss, "beneficiaries")
    boss.goto(shift.live.url("/operations"))
    expect(boss.get_by_role("heading", level=1)).to_have_text("Operations")
    axe(boss, "operations")
    boss.get_by_role("link", name="Panel de supervisión").click()
    boss.wait_for_url("**/supervisor")
    axe(boss, "wallboard at the end of the shift")
