"""Callbacks in the simulator: a registered caller who hangs up on hold is phoned back by the
agent who takes the task, with the neutral caller ID, inside her safe windows; unanswered,
she is tried three times and then the supervisors see it."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select, update

from agent_console.calls import CallDesk
from agent_console.wallboard import Wallboard
from calls.callbacks import MAX_TRIES, RETRY_AFTER, RING_TIMEOUT
from locales.prompts import prompt_text
from recordings_policy.policy import SHIPPED_POLICY, Policy
from routing import AgentState
from runtime import Runtime
from store.callbacks import Callback, CallbackStatus
from store.models import Beneficiary, Line
from store.records import Call
from store.records import CallEvent as StoredEvent
from telephony.simulator.phone import PhoneStatus
from tests.harness.callbacks import no_open_callbacks  # noqa: F401  (autouse)
from tests.harness.hotline import Hotline, staff_line

LOW_RISK = ("1", "1", "2", "2", "2", "2", "2")


def _abandon_from_her_phone(runtime: Runtime, hotline: Hotline) -> str:
    phones = runtime.simulator
    staff_line(runtime.router, hotline, "ana")
    call = phones.dial(hotline.line_number, hotline.beneficiary_number)
    for key in LOW_RISK:
        if call.status is PhoneStatus.ON_HOLD:
            break
        call = phones.press(call.call_id, key)
    assert call.status is PhoneStatus.ON_HOLD
    phones.hang_up(call.call_id)
    return call.call_id


def _task(runtime: Runtime, source_call_id: str) -> Callback:
    with runtime.sessions() as db:
        row = db.scalar(select(Callback).where(Callback.source_call_id == source_call_id))
        assert row is not None
        return row


def _kinds(runtime: Runtime, call_id: str) -> list[str]:
    with runtime.sessions() as db:
        return list(
            db.scalars(
                select(StoredEvent.kind)
                .where(StoredEvent.call_id == call_id)
                .order_by(StoredEvent.seq)
            )
        )


def _offered_to_ana(runtime: Runtime, hotline: Hotline, now: float) -> str:
    ana = hotline.agents["ana"]
    desk = CallDesk(runtime.console_ports)
    if desk.presence(ana)["state"] != AgentState.OFFERED:
        runtime.router.set_agent_state(ana, AgentState.AVAILABLE, now)
    offer = desk.presence(ana)["offer"]
    assert offer is not None, "the callback task is offered to the free agent"
    assert "callback" in offer["flags"]
    return str(offer["call"])


def test_an_abandoned_caller_is_phoned_back_by_the_agent_who_takes_the_task(
    runtime: Runtime, hotline: Hotline
) -> None:
    source = _abandon_from_her_phone(runtime, hotline)
    now = time.time()
    assert runtime.callbacks.work(now)["taken"] == 1
    assert runtime.router.pending_callbacks() == [], "routing forgets it once it is stored"
    task = _task(runtime, source)
    assert task.status == CallbackStatus.ROUTED
    attempt = _offered_to_ana(runtime, hotline, now)
    assert attempt == task.attempt_call_id

    answer = CallDesk(runtime.console_ports).accept(attempt, hotline.agents["ana"])
    assert answer["dialing"] is True
    phones = runtime.simulator
    assert attempt in phones.ringing()
    her = phones.answer(attempt)
    her = phones.get(attempt)
    assert her.status is PhoneStatus.CONNECTED
    assert her.lines[-1].text == "[connected to an agent]"

    task = _task(runtime, source)
    assert (task.status, task.outcome, task.attempts) == (CallbackStatus.REACHED, "answered", 1)
    assert task.number is None, "her number is not kept once she is reached"
    with runtime.sessions() as db:
        call = db.get(Call, attempt)
        assert call is not None
        assert (call.status, call.agent_id, call.direction) == (
            "on_call",
            hotline.agents["ana"],
            "callback",
        )
    assert "callback_scheduled" in _kinds(runtime, source)
    kinds = _kinds(runtime, attempt)
    assert kinds.index("callback_routed") < kinds.index("callback_dialing")
    assert kinds.index("callback_dialing") < kinds.index("callback_answered")


def test_a_callback_asking_her_consent_puts_her_through_only_after_her_answer(
    runtime: Runtime, hotline: Hotline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A policy recording callbacks with her consent: the agent comes on only after she
    answered the question, and the call is recorded only after her 1."""
    data = json.loads(SHIPPED_POLICY.read_text(encoding="utf-8"))
    data["defaults"]["callback"].update(
        record=True, notice="recording.notice_consent", consent_required=True
    )
    monkeypatch.setattr("runtime.decide_recording", Policy.from_mapping(data).decide)
    _abandon_from_her_phone(runtime, hotline)
    now = time.time()
    runtime.callbacks.work(now)
    attempt = _offered_to_ana(runtime, hotline, now)
    assert CallDesk(runtime.console_ports).accept(attempt, hotline.agents["ana"])["dialing"]
    phones = runtime.simulator
    her = phones.answer(attempt)
    assert her.status is PhoneStatus.WAITING_FOR_KEYS
    assert her.lines[-1].text == prompt_text("recording.notice_consent", "es")
    assert "[connected to an agent]" not in [line.text for line in her.lines]
    her = phones.press(attempt, "1")
    texts = [line.text for line in her.lines]
    assert her.status is PhoneStatus.CONNECTED
    assert texts.index("[recording]") < texts.index("[connected to an agent]")
    assert texts.count("[connected to an agent]") == 1
    with runtime.sessions() as db:  # her consent's turn queued it; she is the agent's call
        call = db.get(Call, attempt)
        assert call is not None
        assert (call.status, call.agent_id) == ("on_call", hotline.agents["ana"])


def test_outside_her_safe_windows_she_is_not_called(runtime: Runtime, hotline: Hotline) -> None:
    source = _abandon_from_her_phone(runtime, hotline)
    never_now = (time.localtime().tm_wday + 3) % 7
    with runtime.sessions() as db, db.begin():
        db.execute(
            update(Beneficiary)
            .where(Beneficiary.id == hotline.beneficiary_id)
            .values(safe_call_windows=[{"days": [never_now], "start": "10:00", "end": "11:00"}])
        )
    now = time.time()
    runtime.callbacks.work(now)
    task = _task(runtime, source)
    assert task.status == CallbackStatus.PENDING
    assert task.due_at.timestamp() > now + 3600, "due at her next safe window"
    runtime.router.set_agent_state(hotline.agents["ana"], AgentState.AVAILABLE, now)
    assert CallDesk(runtime.console_ports).presence(hotline.agents["ana"])["offer"] is None
    assert runtime.simulator.ringing() == []


def test_unanswered_three_times_the_task_fails_and_supervisors_see_it(
    runtime: Runtime, hotline: Hotline
) -> None:
    source = _abandon_from_her_phone(runtime, hotline)
    ana = hotline.agents["ana"]
    now = time.time()
    runtime.callbacks.work(now)
    for attempt_number in range(1, MAX_TRIES + 1):
        attempt = _offered_to_ana(runtime, hotline, now)
        assert CallDesk(runtime.console_ports).accept(attempt, ana)["dialing"] is True
        now += RING_TIMEOUT.total_seconds() + 1
        report = runtime.callbacks.work(now)
        assert report["rang_out"] == 1
        task = _task(runtime, source)
        assert task.attempts == attempt_number
        assert task.outcome == "no_answer"
        assert runtime.simulator.get(attempt).status is PhoneStatus.ENDED
        now += RETRY_AFTER.total_seconds() + 1
        runtime.router.sweep(now)  # her wrap-up ends
        runtime.callbacks.work(now)
    task = _task(runtime, source)
    assert task.status == CallbackStatus.FAILED
    assert task.number is None

    ports = runtime.console_ports
    board = Wallboard(ports)
    ports.clock = lambda: now
    [shown] = board.board("es")["callbacks_overdue"]
    assert (shown["call_id"], shown["status"], shown["attempts"]) == (source, "failed", MAX_TRIES)


def test_in_a_surge_a_calm_caller_who_presses_2_is_promised_a_callback_and_it_is_offered(
    runtime: Runtime, hotline: Hotline
) -> None:
    with runtime.sessions() as db, db.begin():
        db.execute(
            update(Line).where(Line.id == hotline.line_id).values(callback_offer_when_waiting=1)
        )
    phones = runtime.simulator
    staff_line(runtime.router, hotline, "ana")
    first = phones.dial(hotline.line_number, None)  # a withheld number is never offered it
    for key in LOW_RISK:
        if first.status is PhoneStatus.ON_HOLD:
            break
        first = phones.press(first.call_id, key)
    assert first.status is PhoneStatus.ON_HOLD

    her = phones.dial(hotline.line_number, "+34655000111")
    for key in LOW_RISK:
        if "Para que le devolvamos la llamada" in " ".join(her.heard()):
            break
        her = phones.press(her.call_id, key)
    assert her.status is PhoneStatus.WAITING_FOR_KEYS
    her = phones.press(her.call_id, "2")
    assert her.status is PhoneStatus.ENDED
    assert "Le devolveremos la llamada" in her.heard()[-1]

    task = _task(runtime, her.call_id)
    assert (task.reason, task.status) == ("requested", CallbackStatus.PENDING)
    now = time.time()
    assert runtime.callbacks.work(now)["routed"] == 1
    runtime.router.hangup(first.call_id, now)  # Ana is free for the callback only
    assert _offered_to_ana(runtime, hotline, now) == _task(runtime, her.call_id).attempt_call_id


def test_a_registered_woman_with_no_safe_window_on_file_is_not_called(
    runtime: Runtime, hotline: Hotline
) -> None:
    source = _abandon_from_her_phone(runtime, hotline)
    with runtime.sessions() as db, db.begin():
        db.execute(
            update(Beneficiary)
            .where(Beneficiary.id == hotline.beneficiary_id)
            .values(safe_call_windows=[])
        )
    now = time.time()
    assert runtime.callbacks.work(now)["routed"] == 0
    task = _task(runtime, source)
    assert task.status == CallbackStatus.PENDING and task.due_at.timestamp() > now
    board = Wallboard(runtime.console_ports)
    runtime.console_ports.clock = lambda: now + 2 * 86400
    assert [item["call_id"] for item in board.board("es")["callbacks_overdue"]] == [source]
