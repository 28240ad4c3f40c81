"""The reconciler on the simulator: a caller whose hang-up was lost is closed and leaves
routing; a caller still on hold is left alone; a second pass does nothing more."""

from __future__ import annotations

import time

from sqlalchemy import select

from calls.reconciler import Reconciler
from ivr_flows.events import CallEvent, EventKind
from routing import AgentState
from routing.state import routing_key
from runtime import Runtime
from store.records import Call
from store.records import CallEvent as StoredEvent
from store.vocabulary import Channel
from telephony.simulator.phone import PhoneStatus
from telephony.sip import commands as sip_commands
from tests.harness.hotline import Hotline


def on_hold(runtime: Runtime, hotline: Hotline, number: str, at: float) -> str:
    phones = runtime.simulator
    call = phones.dial(hotline.line_number, number, now=at)
    phones.press(call.call_id, "1", now=at + 5)
    assert phones.press(call.call_id, "0", now=at + 10).status is PhoneStatus.ON_HOLD
    return call.call_id


def routing_status(runtime: Runtime, call_id: str) -> str | None:
    value = runtime.redis.hget(routing_key("call", call_id), "status")
    return None if value is None else str(value)


def test_a_caller_whose_hang_up_was_lost_is_closed_and_leaves_routing(
    runtime: Runtime, hotline: Hotline
) -> None:
    for agent in hotline.agents.values():  # in, but taking no call: callers wait
        runtime.router.set_agent_state(agent, AgentState.BREAK, time.time())
    started = time.time() - 300  # older than the reconciler's minute of grace
    gone = on_hold(runtime, hotline, "+34699000301", started)
    waiting = on_hold(runtime, hotline, "+34699000302", started)
    assert routing_status(runtime, gone) == routing_status(runtime, waiting) == "waiting"

    # Her phone hung up, and the hang-up never reached the switchboard (an outage).
    runtime.simulator.note(gone, "notice", "[line dropped]", PhoneStatus.ENDED)
    assert runtime.reconciler.run() >= 1

    with runtime.sessions() as db:
        closed, still = db.get(Call, gone), db.get(Call, waiting)
        assert closed is not None and closed.ended_at is not None
        assert closed.status == "abandoned"
        assert still is not None and still.ended_at is None and still.status == "queued"
        hangups = db.scalars(
            select(StoredEvent).where(StoredEvent.call_id == gone, StoredEvent.kind == "hangup")
        ).all()
    assert len(hangups) == 1
    assert routing_status(runtime, gone) == "abandoned"  # out of the queue
    assert routing_status(runtime, waiting) == "waiting"

    runtime.reconciler.run()  # again: nothing more happens to either
    with runtime.sessions() as db:
        assert (
            len(
                db.scalars(
                    select(StoredEvent).where(
                        StoredEvent.call_id == gone, StoredEvent.kind == "hangup"
                    )
                ).all()
            )
            == 1
        )
        still = db.get(Call, waiting)
        assert still is not None and still.ended_at is None


class CannotTell:
    def __init__(self, answer: bool | None = None) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def is_over(self, call_id: str, external_id: str) -> bool | None:
        self.asked.append(call_id)
        if self.answer is None:
            raise ConnectionError("the channel's API is down (test)")
        return self.answer


def test_a_channel_that_cannot_tell_leaves_the_call_for_the_next_pass(
    runtime: Runtime, hotline: Hotline
) -> None:
    for agent in hotline.agents.values():
        runtime.router.set_agent_state(agent, AgentState.BREAK, time.time())
    call_id = on_hold(runtime, hotline, "+34699000303", time.time() - 300)
    handled: list[str] = []
    channel = CannotTell()
    reconciler = Reconciler(
        runtime.sessions,
        lambda event, key: handled.append(event.call_id),
        {Channel.SIMULATOR: channel},
    )
    assert reconciler.run() == 0 and call_id in channel.asked and handled == []
    channel.answer = False  # up after all
    assert reconciler.run() == 0 and handled == []
    with runtime.sessions() as db:
        row = db.get(Call, call_id)
        assert row is not None and row.ended_at is None


def sip_caller_on_hold(runtime: Runtime, hotline: Hotline, external_id: str, at: float) -> str:
    board = runtime.switchboard
    call_id = board.start(
        channel=Channel.SIP,
        external_id=external_id,
        to_number=hotline.line_number,
        from_number="+34699000310",
        at=at,
    ).call_id
    for step, digit in enumerate(("1", "0")):
        event = CallEvent(EventKind.DIGITS, call_id, at + 5 * (step + 1), digits=digit)
        board.handle(event, idempotency_key=f"{external_id}:{step}")
    assert routing_status(runtime, call_id) == "waiting"
    return call_id


def test_sip_calls_no_live_sip_process_holds_are_closed_and_leave_routing(
    runtime: Runtime, hotline: Hotline
) -> None:
    for agent in hotline.agents.values():
        runtime.router.set_agent_state(agent, AgentState.BREAK, time.time())
    started = time.time() - 300
    gone = sip_caller_on_hold(runtime, hotline, "sip-gone@test", started)
    held = sip_caller_on_hold(runtime, hotline, "sip-held@test", started)

    runtime.reconciler.run()
    with runtime.sessions() as db:
        row = db.get(Call, gone)
        assert row is not None and row.ended_at is None, "no SIP process heard from: unknown"

    heartbeat = {"process_id": "sip-a", "call_ids": f"other,{held}"}
    sip_commands.beat(runtime.redis, "sip-a", heartbeat, time.time())
    sip_commands.beat(runtime.redis, "sip-b", {"process_id": "sip-b", "call_ids": ""}, time.time())
    assert runtime.reconciler.run() >= 1

    with runtime.sessions() as db:
        closed, still = db.get(Call, gone), db.get(Call, held)
        assert closed is not None and closed.ended_at is not None
        assert still is not None and still.ended_at is None
    assert routing_status(runtime, gone) == "abandoned"
    assert routing_status(runtime, held) == "waiting"
