"""An agent places a call from her console (``POST /console/api/outbound``): to a service of
the directory, back to a woman of a call she worked, or to a number. She must be available;
the far end is rung once she has the call and is put through when it answers; one try; the
number never reaches the page or the call log."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import func, select, update

from calls.callbacks import RING_TIMEOUT
from runtime import Runtime
from store.callbacks import Callback, CallbackStatus
from store.models import Agent, Line
from store.records import Call, CallEvent
from telephony.simulator.phone import PhoneStatus
from tests.harness.callbacks import no_open_callbacks  # noqa: F401  (autouse)
from tests.harness.hotline import Hotline, add_shelter
from tests.integration.agent_console.console_helpers import SignedIn
from tests.integration.agent_console.test_console_calls import _answer, _available

SHELTER = "+34910000055"


def _shelter(runtime: Runtime, hotline: Hotline) -> str:
    return add_shelter(runtime.sessions, hotline.line_id, SHELTER)


def _task(runtime: Runtime, call_id: str) -> Callback:
    with runtime.sessions() as db:
        row = db.scalar(select(Callback).where(Callback.attempt_call_id == call_id))
        if row is None:
            row = db.scalar(select(Callback).where(Callback.source_call_id == call_id))
        assert row is not None
        return row


def _events(runtime: Runtime, call_id: str) -> list[tuple[str, object]]:
    with runtime.sessions() as db:
        return [
            (event.kind, event.data)
            for event in db.scalars(
                select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.seq)
            )
        ]


def test_an_available_agent_calls_a_service_and_is_put_through_when_it_answers(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    resource_id = _shelter(runtime, hotline)
    _available(agent)

    placed = agent.post("/console/api/outbound", {"resource_id": resource_id})

    assert placed.status_code == 200, placed.json
    call_id = placed.json["call_id"]
    assert placed.json["dialing"] is True
    assert SHELTER not in placed.get_data(as_text=True)
    assert _task(runtime, call_id).number == SHELTER
    phones = runtime.simulator
    assert call_id in phones.ringing()
    phones.answer(call_id)
    assert phones.get(call_id).status is PhoneStatus.CONNECTED
    assert phones.get(call_id).lines[-1].text == "[connected to an agent]"
    with runtime.sessions() as db:
        call = db.get(Call, call_id)
        assert call is not None
        assert (call.status, call.agent_id, call.direction, call.line_id) == (
            "on_call",
            agent.account.agent_id,
            "callback",
            hotline.line_id,
        )
    me = agent.get("/console/api/me").json
    assert (me["state"], me["call_id"]) == ("on_call", call_id)
    events = _events(runtime, call_id)
    assert (
        "agent_placed_call",
        {"agent_id": agent.account.agent_id, "resource_id": resource_id},
    ) in events
    assert SHELTER not in repr(events)
    task = _task(runtime, call_id)
    assert (task.status, task.reason) == (CallbackStatus.REACHED, "agent")


def test_she_calls_back_the_woman_of_a_call_she_worked_and_no_one_elses(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, supervisor: SignedIn
) -> None:
    first = _answer(runtime, hotline, agent, hotline.beneficiary_number)
    saved = agent.post(f"/console/api/calls/{first}/end", {"disposition": "information"})
    assert saved.status_code == 200, saved.json
    _available(agent)

    placed = agent.post("/console/api/outbound", {"call_id": first})

    assert placed.status_code == 200, placed.json
    call_id = placed.json["call_id"]
    task = _task(runtime, call_id)
    assert (task.number, task.beneficiary_id) == (
        hotline.beneficiary_number,
        hotline.beneficiary_id,
    )
    assert ("agent_placed_call", {"agent_id": agent.account.agent_id, "calling_back": first}) in (
        _events(runtime, call_id)
    )
    # Another person's call is not hers to call back: not found, nothing placed.
    _available(supervisor)
    refused = supervisor.post("/console/api/outbound", {"call_id": first})
    assert (refused.status_code, refused.json["error_id"]) == (404, "console.unknown_call")


def test_a_number_is_called_on_the_line_of_her_latest_call(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    """With several lines and no team, the caller ID shown is that of the line she works."""
    with runtime.sessions() as db, db.begin():
        db.execute(update(Agent).where(Agent.id == agent.account.agent_id).values(team_id=None))
        other = f"+349009{secrets.randbelow(10**5):05d}"
        db.add(
            Line(
                name=f"Otra {other}",
                number=other,
                default_locale="es",
                overflow_number=other,
                urgent_number=other,
            )
        )
    first = _answer(runtime, hotline, agent)
    saved = agent.post(f"/console/api/calls/{first}/end", {"disposition": "information"})
    assert saved.status_code == 200, saved.json
    _available(agent)
    placed = agent.post("/console/api/outbound", {"number": "+34910000077"})
    assert placed.status_code == 200, placed.json
    with runtime.sessions() as db:
        call = db.get(Call, placed.json["call_id"])
        assert call is not None and call.line_id == hotline.line_id


def test_unanswered_it_is_not_tried_again_and_she_is_free(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    _available(agent)
    placed = agent.post(
        "/console/api/outbound", {"number": "+34 910 000 066", "line_id": hotline.line_id}
    )
    assert placed.status_code == 200, placed.json
    call_id = placed.json["call_id"]
    now = time.time() + RING_TIMEOUT.total_seconds() + 1
    assert runtime.callbacks.work(now)["rang_out"] == 1
    task = _task(runtime, call_id)
    assert (task.status, task.outcome, task.number) == (CallbackStatus.FAILED, "no_answer", None)
    assert runtime.callbacks.work(now + 3600)["routed"] == 0, "one try: she decides"
    assert runtime.simulator.get(call_id).status is PhoneStatus.ENDED


def test_bad_requests_get_a_clear_4xx_and_place_nothing(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    offline = agent.post(
        "/console/api/outbound", {"number": "+34910000066", "line_id": hotline.line_id}
    )
    assert (offline.status_code, offline.json["error_id"]) == (409, "console.not_available")
    _available(agent)
    for body, status, error_id in [
        ({}, 400, "console.bad_target"),
        ({"number": "+34910000066", "resource_id": "x"}, 400, "console.bad_target"),
        ({"number": "0034 91"}, 400, "console.bad_number"),
        ({"resource_id": "nope"}, 400, "console.unknown_resource"),
        ({"call_id": "nope"}, 404, "console.unknown_call"),
    ]:
        answer = agent.post("/console/api/outbound", body)
        assert (answer.status_code, answer.json["error_id"]) == (status, error_id), body
    with runtime.sessions() as db:
        placed = select(func.count()).where(Callback.line_id == hotline.line_id)
        assert db.scalar(placed) == 0
    assert agent.get("/console/api/me").json["state"] == "available"
