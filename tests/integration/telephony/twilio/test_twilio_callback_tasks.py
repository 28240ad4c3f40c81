"""Callback tasks over Twilio (the real ``twilio`` client on Prism, the webhook driver playing
Twilio): a registered caller who hangs up on hold is phoned back from the console with the
neutral caller ID; when she answers she hears a neutral word and the agent's softphone joins
her in the call's conference. A machine hears nothing and the try counts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select, update

from agent_console.calls import CallDesk
from agent_console.placing import place_call
from app import create_app
from calls.switchboard import call_id_for
from locales.prompts import prompt_text
from recordings_policy.policy import SHIPPED_POLICY, Policy
from routing import AgentState
from runtime import Runtime
from store.callbacks import Callback, CallbackStatus
from store.models import Line
from store.vocabulary import Channel
from tests.harness.callbacks import no_open_callbacks  # noqa: F401  (autouse)
from tests.harness.hotline import Hotline, add_shelter, staff_line
from tests.harness.prism import PrismMock
from tests.harness.twilio_driver import DrivenCall, FlaskTransport, TwilioDriver
from tests.integration.telephony.twilio.conftest import (
    ACCOUNT,
    NEUTRAL_CALLER_ID,
    PUBLIC_BASE_URL,
    REJECTED,
    NotingHttpClient,
)


@pytest.fixture
def console(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline
) -> Iterator[tuple[Runtime, NotingHttpClient, TwilioDriver]]:
    runtime, http = rest_runtime
    staff_line(runtime.router, hotline, "ana")
    app: Flask = create_app(runtime=runtime)
    yield runtime, http, TwilioDriver(FlaskTransport(app.test_client()), PUBLIC_BASE_URL)


def _abandon_and_take(runtime: Runtime, phone: TwilioDriver, hotline: Hotline) -> str:
    """She calls from her registered phone and hangs up on hold; the task is offered to Ana,
    who takes it. Returns the task's call id."""
    call = phone.call(hotline.line_number, hotline.beneficiary_number)
    for key in ("1", "1", "2", "2", "2", "2", "2"):
        if call.where == "queued":
            break
        call.press(key)
    assert call.where == "queued"
    call.hangup()
    now = time.time()
    assert runtime.callbacks.work(now)["routed"] == 1
    ana = hotline.agents["ana"]
    runtime.router.set_agent_state(ana, AgentState.AVAILABLE, now)
    desk = CallDesk(runtime.console_ports)
    offer = desk.presence(ana)["offer"]
    assert offer is not None and "callback" in offer["flags"]
    answer = desk.accept(offer["call"], ana)
    assert answer["dialing"] is True
    return str(offer["call"])


def _placed(http: NotingHttpClient, number: str) -> list[dict[str, list[str]]]:
    return [
        form
        for method, path, form, _status in http.sent
        if (method, path) == ("POST", f"{ACCOUNT}/Calls.json") and form["To"] == [number]
    ]


def _answer(phone: TwilioDriver, form: dict[str, list[str]], answered_by: str) -> DrivenCall:
    url = form["Url"][0]
    sid = "CA" + url.split("call=")[1]
    return phone.answer_outbound(
        sid, url, to=form["To"][0], from_=form["From"][0], answered_by=answered_by
    )


def _task(runtime: Runtime, call_id: str) -> Callback:
    with runtime.sessions() as db:
        row = db.scalar(select(Callback).where(Callback.attempt_call_id == call_id))
        if row is None:
            row = db.scalar(select(Callback).order_by(Callback.created_at.desc()).limit(1))
        assert row is not None
        return row


def test_the_agent_who_takes_a_callback_is_put_through_when_she_answers(
    console: tuple[Runtime, NotingHttpClient, TwilioDriver], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http, phone = console
    call_id = _abandon_and_take(runtime, phone, hotline)

    [placed] = _placed(http, hotline.beneficiary_number)
    assert placed["From"] == [NEUTRAL_CALLER_ID]
    her = _answer(phone, placed, "human")
    words = " ".join(her.said())
    assert "Espere un momento" in words
    assert "Test" not in words and "violencia" not in words.lower()

    redirect, agent = http.sent[-2:]
    assert redirect[:2] == ("POST", f"{ACCOUNT}/Calls/{her.sid}.json")
    assert f">{call_id}</Conference>" in redirect[2]["Twiml"][0]
    assert agent[:2] == ("POST", f"{ACCOUNT}/Conferences/{call_id}/Participants.json")
    assert agent[2]["To"] == [f"client:{hotline.agents['ana']}"]
    task = _task(runtime, call_id)
    assert (task.status, task.outcome, task.attempts) == (CallbackStatus.REACHED, "answered", 1)
    assert REJECTED not in prism.log()


def test_a_callback_the_policy_records_puts_her_through_after_the_notice_and_records_it(
    console: tuple[Runtime, NotingHttpClient, TwilioDriver],
    hotline: Hotline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line whose policy records callbacks (the shipped one records none): once she answers
    she hears the notice whole; only when she waits is the agent dialled into her conference,
    which is recorded."""
    data = json.loads(SHIPPED_POLICY.read_text(encoding="utf-8"))
    data["defaults"]["callback"].update(record=True, notice="recording.notice")
    monkeypatch.setattr("runtime.decide_recording", Policy.from_mapping(data).decide)
    runtime, http, phone = console
    call_id = _abandon_and_take(runtime, phone, hotline)
    [placed] = _placed(http, hotline.beneficiary_number)
    her = _answer(phone, placed, "human")
    assert prompt_text("recording.notice", "es") in " ".join(her.said())
    assert not any(path.endswith("Participants.json") for _m, path, _f, _s in http.sent)
    her.hold()  # the notice is over: she waits
    redirect, agent = http.sent[-2:]
    assert redirect[:2] == ("POST", f"{ACCOUNT}/Calls/{her.sid}.json")
    assert f">{call_id}</Conference>" in redirect[2]["Twiml"][0]
    assert 'record="record-from-start"' in redirect[2]["Twiml"][0]
    assert agent[:2] == ("POST", f"{ACCOUNT}/Conferences/{call_id}/Participants.json")
    her.hold()  # a later fetch of the hold music puts nobody through again
    assert [path for _m, path, _f, _s in http.sent].count(agent[1]) == 1


def test_a_machine_hears_nothing_and_the_try_counts(
    console: tuple[Runtime, NotingHttpClient, TwilioDriver], hotline: Hotline
) -> None:
    runtime, http, phone = console
    call_id = _abandon_and_take(runtime, phone, hotline)
    [placed] = _placed(http, hotline.beneficiary_number)
    machine = _answer(phone, placed, "machine_start")
    assert machine.where == "ended"
    assert machine.said() == []
    assert not any(path.endswith("Participants.json") for _m, path, _f, _s in http.sent)
    task = _task(runtime, call_id)
    assert (task.status, task.outcome, task.attempts) == (CallbackStatus.PENDING, "machine", 1)


def test_in_a_surge_pressing_2_ends_the_call_with_a_promise_and_leaves_a_task(
    console: tuple[Runtime, NotingHttpClient, TwilioDriver], hotline: Hotline
) -> None:
    runtime, _http, phone = console
    with runtime.sessions() as db, db.begin():
        db.execute(
            update(Line).where(Line.id == hotline.line_id).values(callback_offer_when_waiting=1)
        )
    waiting = phone.call(hotline.line_number, hotline.device_number)  # an alarm: waits
    assert waiting.where == "queued"
    her = phone.call(hotline.line_number, "+34655000222")
    for key in ("1", "1", "2", "2", "2", "2"):
        her.press(key)
    assert her.where == "gather"
    assert "Para que le devolvamos la llamada" in " ".join(her.said())
    her.press("2")
    assert her.where == "ended"
    assert "Le devolveremos la llamada" in her.said()[-1]
    with runtime.sessions() as db:
        source = call_id_for(Channel.TWILIO, her.sid)
        task = db.scalar(select(Callback).where(Callback.source_call_id == source))
        assert task is not None and task.status == CallbackStatus.PENDING


def test_a_call_the_agent_places_to_a_service_puts_her_through_when_it_answers(
    console: tuple[Runtime, NotingHttpClient, TwilioDriver], hotline: Hotline, prism: PrismMock
) -> None:
    """``POST /console/api/outbound`` with a resource of the directory, on Twilio: the Calls
    API rings it with the neutral caller ID, and Ana's softphone joins it when it answers."""
    runtime, http, phone = console
    service = "+34910000055"
    resource_id = add_shelter(runtime.sessions, hotline.line_id, service)
    ana = hotline.agents["ana"]
    runtime.router.set_agent_state(ana, AgentState.AVAILABLE, time.time())
    ports = runtime.console_ports
    placed = place_call(CallDesk(ports), ports, ana, {"resource_id": resource_id})
    assert placed["dialing"] is True
    call_id = placed["call_id"]

    [form] = _placed(http, service)
    assert form["From"] == [NEUTRAL_CALLER_ID]
    answered = _answer(phone, form, "human")
    agent = http.sent[-1]
    assert agent[:2] == ("POST", f"{ACCOUNT}/Conferences/{call_id}/Participants.json")
    assert agent[2]["To"] == [f"client:{ana}"]
    assert answered.sid
    task = _task(runtime, call_id)
    assert (task.status, task.reason) == (CallbackStatus.REACHED, "agent")
    assert REJECTED not in prism.log()
