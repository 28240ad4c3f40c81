"""The call-control actions the shift does not take, each in Chromium on the simulator channel
(issue 18): an interpreter added and removed, a transfer back to routing (to the queue, and
to an agent by name, who accepts it in her own console), and the supervisor whispering then
barging in. Each asserts what the agent, the supervisor and the caller see, and what the
call's log keeps. People as in the shift (``test_shift_in_chromium.py``): the supervisor on
the wallboard, Ana and Farah at their consoles, callers through the simulator's API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from store.models import Agent as AgentRow
from store.records import Call, CallEvent
from tests.e2e.simulator.conftest import Floor
from tests.e2e.simulator.live_app import LiveApp
from tests.e2e.simulator.test_shift_in_chromium import (
    LOW_RISK,
    SCRIPT_ERRORS,
    Agent,
    Phones,
    _page,
    _sign_in,
    axe,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

BARGED = "[a supervisor joined the call]"


@pytest.fixture(autouse=True)
def _no_script_errors() -> Iterator[None]:
    SCRIPT_ERRORS.clear()
    yield
    assert SCRIPT_ERRORS == [], "the pages raised script errors"


@dataclass
class Desk:
    boss: Any
    ana: Agent
    farah: Agent
    phones: Phones
    floor: Floor

    def only_available(self, agent: Agent) -> None:
        for other in (self.ana, self.farah):
            other.presence("available" if other is agent else "break")

    def heard(self, call_id: str) -> list[str]:
        """Every line the caller's simulated phone shows, in order."""
        answer = self.phones.page.request.get(
            self.phones.live.url(f"/simulator/api/calls/{call_id}")
        )
        assert answer.ok, answer.text()
        return [str(line["text"]) for line in answer.json()["lines"]]

    def logged(self, call_id: str, *kinds: str) -> list[tuple[str, dict[str, Any]]]:
        with self.floor.sessions() as db:
            rows = db.execute(
                select(CallEvent.kind, CallEvent.data)
                .where(CallEvent.call_id == call_id, CallEvent.kind.in_(kinds))
                .order_by(CallEvent.seq)
            ).all()
        return [(kind, dict(data or {})) for kind, data in rows]


@pytest.fixture(scope="module")
def desk(live_app: LiveApp, floor: Floor, browser: Any) -> Desk:
    from playwright.sync_api import expect

    boss = _page(browser)
    _sign_in(boss, live_app, floor.supervisor_login, floor.supervisor_secret)
    boss.wait_for_url("**/supervisor")
    expect(boss.locator("#stream-status")).to_have_text("En directo")
    with floor.sessions() as db:
        ana, farah = (db.get(AgentRow, floor.hotline.agents[name]) for name in ("ana", "farah"))
    assert ana is not None and farah is not None
    return Desk(
        boss,
        Agent(browser, live_app, ana.login),
        Agent(browser, live_app, farah.login),
        Phones(browser, live_app, floor),
        floor,
    )


def test_the_agent_adds_an_interpreter_then_removes_her_and_caller_and_board_see_both(
    desk: Desk,
) -> None:
    from playwright.sync_api import expect

    ana, boss = desk.ana, desk.boss
    desk.only_available(ana)
    call_id = desk.phones.call(LOW_RISK)
    ana.accept()
    counted = boss.locator("#with-interpreter strong")
    expect(counted).to_have_text("0")
    expect(ana.loc("#interpreter-remove")).to_be_hidden()

    ana.page.fill("#interpreter-language", "ar")
    ana.page.click("#interpreter")
    expect(ana.loc("#action-status")).to_have_text("Intérprete añadido.")
    expect(ana.loc("#transcript li").last).to_have_text("[an interpreter (ar) joined the call]")
    expect(counted).to_have_text("1")
    expect(boss.locator("#live-calls")).to_contain_text(f"{call_id[:8]} · Intérprete ar")
    axe(ana.page, "on call with an interpreter")
    ana.page.reload()  # the console knows she is on the line from the server
    expect(ana.loc("#interpreter-remove")).to_be_visible()

    ana.page.click("#interpreter-remove")
    expect(ana.loc("#action-status")).to_have_text("Intérprete retirado.")
    expect(ana.loc("#interpreter-remove")).to_be_hidden()
    expect(ana.loc("#interpreter")).to_be_focused()
    expect(ana.loc("#transcript li").last).to_have_text("[the interpreter left the call]")
    expect(counted).to_have_text("0")
    ana.end("support_given")
    assert [
        kind for kind, _ in desk.logged(call_id, "interpreter_added", "interpreter_removed")
    ] == [
        "interpreter_added",
        "interpreter_removed",
    ]


def test_a_call_transferred_to_the_queue_is_routed_again_under_a_new_leg(desk: Desk) -> None:
    from playwright.sync_api import expect

    ana, farah = desk.ana, desk.farah
    desk.only_available(ana)
    call_id = desk.phones.call(LOW_RISK)
    ana.accept()
    ana.page.click("#state-break")  # after this call: the queue offers it to Farah, not her
    expect(ana.loc("#state-now")).to_have_attribute("data-after-call", "break")
    farah.presence("available")
    expect(ana.loc("#transfer-target option").first).to_have_attribute("value", "queue:general")
    ana.page.select_option("#transfer-target", "queue:general")
    ana.page.click("#transfer")
    expect(ana.loc("#action-status")).to_have_text("Llamada transferida.")
    expect(ana.loc("#call-actions")).to_be_hidden()
    ana.phase("wrap_up")

    farah.accept()
    expect(farah.loc("#transcript")).to_contain_text("[on hold]")  # she waited on the hold audio
    farah.end("information")
    logged = desk.logged(call_id, "agent_connected", "transferred")
    assert [kind for kind, _ in logged] == ["agent_connected", "transferred", "agent_connected"]
    transferred, connected = logged[1][1], logged[2][1]
    assert (transferred["queue"], transferred["to_agent"]) == ("general", None)
    assert connected["leg"] == transferred["leg"] == f"{call_id}.t1"
    assert connected["agent_id"] == desk.floor.hotline.agents["farah"]


def test_a_call_transferred_to_an_agent_by_name_is_offered_to_her_and_frees_the_first(
    desk: Desk,
) -> None:
    from playwright.sync_api import expect

    ana, farah = desk.ana, desk.farah
    desk.only_available(ana)
    call_id = desk.phones.call(LOW_RISK)
    ana.accept()
    farah_id = desk.floor.hotline.agents["farah"]
    choice = ana.loc(f'#transfer-target option[value="agent:{farah_id}"]')
    expect(choice).to_contain_text("Farah Test")
    farah.presence("available")
    ana.page.select_option("#transfer-target", f"agent:{farah_id}")
    ana.page.click("#transfer")
    expect(ana.loc("#action-status")).to_have_text("Llamada transferida.")

    farah.accept()
    farah.phase("on_call")
    expect(ana.loc("#state-now")).not_to_have_attribute("data-state", "on_call")
    expect(ana.loc("#offer")).to_be_hidden()
    ana.phase("wrap_up")
    with desk.floor.sessions() as db:
        call = db.get(Call, call_id)
        assert call is not None and (call.agent_id, call.status) == (farah_id, "on_call")
    farah.end("information")
    transferred = desk.logged(call_id, "transferred")
    assert [data["to_agent"] for _, data in transferred] == [farah_id]


def test_the_supervisor_whispers_then_barges_and_only_the_barge_reaches_the_caller(
    desk: Desk,
) -> None:
    from playwright.sync_api import expect

    farah, boss = desk.farah, desk.boss
    desk.only_available(farah)
    call_id = desk.phones.call(LOW_RISK)
    farah.accept()

    def button(mode: str) -> Any:
        return boss.locator(f'button[data-call="{call_id}"][data-mode="{mode}"]')

    for mode in ("whisper", "barge"):
        button(mode).click()
        expect(button(mode)).to_have_attribute("aria-pressed", "true")
        for other in {"listen", "whisper", "barge"} - {mode}:
            expect(button(other)).to_have_attribute("aria-pressed", "false")
        expect(button("leave")).to_have_text("Salir")
        heard = desk.heard(call_id)
        assert heard.count(BARGED) == (1 if mode == "barge" else 0), heard
    expect(farah.loc("#transcript li").last).to_have_text(BARGED)
    axe(boss, "wallboard while barging")

    button("leave").click()
    expect(button("leave")).to_have_count(0)
    expect(button("barge")).to_have_attribute("aria-pressed", "false")
    assert desk.heard(call_id).count(BARGED) == 1
    farah.end("information")
    kinds = desk.logged(call_id, "supervised", "supervision_left")
    assert [(kind, data.get("mode")) for kind, data in kinds] == [
        ("supervised", "whisper"),
        ("supervised", "barge"),
        ("supervision_left", None),
    ]
