"""An agent cancels, while the far end still rings, a call she placed or a callback she took
(``POST /console/api/calls/<id>/cancel``), here on the simulator: the simulated phone stops
ringing, the try ends as ``cancelled`` (a placed call for good, a callback task due again),
routing lets her go, and the call log says so without the number. Answered first, the call
goes on and the cancel is refused; asked again, the same answer."""

from __future__ import annotations

import time

from sqlalchemy import select

from calls.callbacks import RETRY_AFTER, RING_TIMEOUT
from ivr_flows.actions import Hangup
from runtime import Runtime
from store.callbacks import Callback, CallbackStatus
from store.records import Call
from telephony.simulator.phone import PhoneStatus
from tests.harness.callbacks import due_callback, no_open_callbacks  # noqa: F401  (autouse)
from tests.harness.hotline import Hotline, add_shelter
from tests.integration.agent_console.console_helpers import SignedIn
from tests.integration.agent_console.test_console_calls import _available
from tests.integration.agent_console.test_placed_calls import _events

SHELTER = "+34910000055"


def _placed(runtime: Runtime, hotline: Hotline, agent: SignedIn) -> str:
    _available(agent)
    resource_id = add_shelter(runtime.sessions, hotline.line_id, SHELTER)
    placed = agent.post("/console/api/outbound", {"resource_id": resource_id})
    assert placed.status_code == 200, placed.json
    assert placed.json["dialing"] is True
    call_id = str(placed.json["call_id"])
    assert call_id in runtime.simulator.ringing()
    return call_id


def _task(runtime: Runtime, callback_id: str) -> Callback:
    with runtime.sessions() as db:
        row = db.get(Callback, callback_id)
        assert row is not None
        return row


def _task_of(runtime: Runtime, call_id: str) -> str:
    with runtime.sessions() as db:
        found = db.scalar(select(Callback.id).where(Callback.attempt_call_id == call_id))
        assert found is not None
        return found


def test_she_cancels_a_call_she_placed_while_it_rings_and_is_let_go(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    call_id = _placed(runtime, hotline, agent)
    callback_id = _task_of(runtime, call_id)
    me = agent.get("/console/api/me").json
    assert (me["call_id"], me["ringing"]) == (call_id, True)

    cancelled = agent.post(f"/console/api/calls/{call_id}/cancel")

    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json == {"call_id": call_id, "cancelled": True, "already": False}
    assert call_id not in runtime.simulator.ringing()
    assert runtime.simulator.get(call_id).status is PhoneStatus.ENDED
    task = _task(runtime, callback_id)
    assert (task.status, task.outcome, task.number, task.attempt_call_id) == (
        CallbackStatus.FAILED,
        "cancelled",
        None,
        None,
    )
    assert runtime.callbacks.work(time.time() + 3600)["routed"] == 0, "no retry"
    with runtime.sessions() as db:
        call = db.get(Call, call_id)
        assert call is not None and call.ended_at is not None and call.status == "ended"
    events = _events(runtime, call_id)
    assert (
        "placed_call_cancelled",
        {"agent_id": agent.account.agent_id, "callback_id": callback_id},
    ) in events
    assert SHELTER not in repr(events)
    me = agent.get("/console/api/me").json
    assert (me["call_id"], me["ringing"], me["state"]) == (None, False, "wrap_up")


def test_a_second_cancel_gets_the_same_answer_and_changes_nothing(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    call_id = _placed(runtime, hotline, agent)
    first = agent.post(f"/console/api/calls/{call_id}/cancel")
    assert first.status_code == 200, first.json
    kinds = [kind for kind, _data in _events(runtime, call_id)]

    again = agent.post(f"/console/api/calls/{call_id}/cancel")

    assert again.status_code == 200, again.json
    assert again.json == {"call_id": call_id, "cancelled": True, "already": True}
    assert [kind for kind, _data in _events(runtime, call_id)] == kinds


def test_answered_first_the_call_goes_on_and_the_cancel_is_refused(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    call_id = _placed(runtime, hotline, agent)
    runtime.simulator.answer(call_id)

    late = agent.post(f"/console/api/calls/{call_id}/cancel")

    assert (late.status_code, late.json["error_id"]) == (409, "console.call_answered")
    assert runtime.simulator.get(call_id).status is PhoneStatus.CONNECTED
    me = agent.get("/console/api/me").json
    assert (me["state"], me["call_id"], me["ringing"]) == ("on_call", call_id, False)
    assert "placed_call_cancelled" not in [kind for kind, _data in _events(runtime, call_id)]


def test_an_answer_after_her_cancel_does_not_put_the_far_end_through(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    """The race the other way: her cancel took the task first; the answer finds it over."""
    call_id = _placed(runtime, hotline, agent)
    callback_id = _task_of(runtime, call_id)
    assert agent.post(f"/console/api/calls/{call_id}/cancel").status_code == 200

    # The far end picked up as the cancel went through: its answer is hung up, as nobody
    # is coming (on SIP the leg had stopped ringing, so the cancel could not end it).
    turn = runtime.switchboard.answered(call_id, time.time())
    assert [type(action) for action in turn.actions] == [Hangup]

    task = _task(runtime, callback_id)
    assert (task.status, task.outcome) == (CallbackStatus.FAILED, "cancelled")
    assert "callback_answered" not in [kind for kind, _data in _events(runtime, call_id)]
    assert agent.get("/console/api/me").json["state"] == "wrap_up"


def test_a_callback_she_took_is_cancelled_for_this_try_only(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    """The woman is still owed her callback: the task is due again, as after a try nobody
    answered, with the try counted."""
    now = time.time()
    callback_id = due_callback(runtime.sessions, hotline, now)
    assert runtime.callbacks.work(now)["routed"] == 1
    _available(agent)
    offer = agent.get("/console/api/me").json["offer"]
    assert offer is not None and "callback" in offer["flags"]
    call_id = offer["call"]
    taken = agent.post(f"/console/api/offers/{call_id}/accept")
    assert taken.status_code == 200 and taken.json["dialing"] is True, taken.json

    cancelled = agent.post(f"/console/api/calls/{call_id}/cancel")

    assert cancelled.status_code == 200, cancelled.json
    assert runtime.simulator.get(call_id).status is PhoneStatus.ENDED
    task = _task(runtime, callback_id)
    assert (task.status, task.outcome, task.attempts) == (
        CallbackStatus.PENDING,
        "cancelled",
        1,
    )
    assert task.number == hotline.beneficiary_number, "kept while the task is open"
    assert abs(task.due_at.timestamp() - (now + RETRY_AFTER.total_seconds())) < 60
    events = _events(runtime, call_id)
    assert (
        "callback_cancelled",
        {"agent_id": agent.account.agent_id, "callback_id": callback_id},
    ) in events
    assert hotline.beneficiary_number not in repr(events)


def test_only_her_own_ringing_call_and_bad_input_get_a_clear_4xx(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, supervisor: SignedIn
) -> None:
    call_id = _placed(runtime, hotline, agent)
    for who, url, status, error_id in [
        (supervisor, f"/console/api/calls/{call_id}/cancel", 403, "console.not_your_call"),
        (agent, f"/console/api/calls/{'0' * 32}/cancel", 404, "console.unknown_call"),
        (agent, "/console/api/calls/not-a-call/cancel", 400, "console.bad_call_id"),
    ]:
        answer = who.post(url)
        assert (answer.status_code, answer.json["error_id"]) == (status, error_id), url
    assert call_id in runtime.simulator.ringing(), "still ringing: nothing was cancelled"
    # Without the CSRF token nothing is done.
    bare = agent.client.post(f"/console/api/calls/{call_id}/cancel")
    assert bare.status_code == 400
    assert call_id in runtime.simulator.ringing()


def test_a_call_that_rang_out_is_not_ringing_any_more(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    call_id = _placed(runtime, hotline, agent)
    assert runtime.callbacks.work(time.time() + RING_TIMEOUT.total_seconds() + 1)["rang_out"] == 1

    over = agent.post(f"/console/api/calls/{call_id}/cancel")

    assert (over.status_code, over.json["error_id"]) == (409, "console.not_ringing")
