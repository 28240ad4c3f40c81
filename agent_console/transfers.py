"""Transfers from the console: back to routing (a queue of the call's line, or one agent by
name) and out to another service (a resource of the directory, or a number).

A transfer to routing goes under a new routing id (``<call id>.t<n>``, the call's live
``leg``); the caller waits on the hold audio. A cold transfer out holds her while the service
rings and gives her back to the agent when it does not answer (the edge tells the console).
"""

from __future__ import annotations

from agent_console.calls import E164, CallDesk, on_the_edge
from agent_console.ports import ConsoleError
from routing import CallRequest
from routing.channels import personal_skill
from routing.state import AgentState, routing_key
from store.live_state import key
from store.models import Agent, Resource
from store.records import Call
from store.vocabulary import CallRecordStatus, RiskLevel


def transfer(
    desk: CallDesk, call_id: str, agent_id: str, queue: str | None, to_agent: str | None
) -> str:
    """Back to routing under a new routing id: to a queue of the call's line, or to one
    agent by name (her own skill; after the queue's widening anyone may take it)."""
    call = desk.owned_call(call_id, agent_id, caller_on_line=True)
    if (queue is None) == (to_agent is None):
        raise ConsoleError("console.bad_transfer", "give a queue or an agent", 400)
    line = desk.directory.line(call.line_id) if call.line_id else None
    if line is None:
        raise ConsoleError("console.unknown_line", "the call has no line", 409)
    router = desk.ports.router()
    queue_id = line.queue_id(queue or "general")
    if queue is not None and queue_id not in router.config.queues:
        raise ConsoleError("console.unknown_queue", "no such queue on this line", 400)
    if to_agent is not None:
        with desk.ports.sessions() as db:
            target = db.get(Agent, to_agent)
            if target is None or not target.active or to_agent == agent_id:
                raise ConsoleError("console.unknown_agent", "no such agent to transfer to", 400)
        state = desk.ports.live.hget(routing_key("agent", to_agent), "state")
        if (state.decode() if isinstance(state, bytes) else state) == AgentState.OFFLINE:
            # Nobody would answer her: she stays with this agent, who can choose another way.
            # (No state at all: routing's state is being rebuilt; she is not refused for it.)
            raise ConsoleError("console.agent_unavailable", "she is not signed in", 409)
    bridge = desk.bridge_of(call_id, call.channel)
    now = desk.ports.clock()
    hold = getattr(bridge, "hold", None)
    if hold is not None:  # she waits on the hold audio; an edge that cannot: try again
        on_the_edge(lambda: hold(call_id, True), call_id, "hold")
    number = desk.ports.live.hincrby(key("call", call_id), "transfers", 1)
    leg = f"{call_id}.t{number}"
    with desk.ports.sessions() as db, db.begin():
        row = db.get(Call, call_id)
        assert row is not None
        row.status = CallRecordStatus.QUEUED
        row.agent_id = None
        risk = RiskLevel(row.risk_level or RiskLevel.NO_APRECIADO)
        flags = set(row.flags or [])
        locale = row.locale
    desk.ports.call_log.append(
        call_id,
        "transferred",
        {"agent_id": agent_id, "queue": queue, "to_agent": to_agent, "leg": leg},
        at=now,
    )
    router.hangup(desk.routing_leg(call_id), now)
    desk.ports.live.hset(key("call", call_id), "leg", leg)
    router.enqueue(
        CallRequest(
            call_id=leg,
            queue=queue_id,
            risk=risk,
            language=None if "interpreter" in flags or to_agent else locale,
            specialties=frozenset({personal_skill(to_agent)} if to_agent else ()),
            flags=frozenset(flags | {"transferred"}),
            line_id=line.line_id,
        ),
        now,
    )
    return leg


def transfer_out(
    desk: CallDesk,
    call_id: str,
    agent_id: str,
    resource_id: str | None,
    number: str | None,
    *,
    warm: bool = False,
) -> None:
    """A cold transfer to an outside service: a resource of the line's directory (by id),
    or a number in E.164 form. The caller waits on hold and is back with the agent if it
    does not answer (the console is told either way). The number is never logged."""
    if (resource_id is None) == (number is None):
        raise ConsoleError("console.bad_transfer", "give a resource or a number", 400)
    transfer = desk.edge_action(call_id, agent_id, "warm_transfer" if warm else "transfer_out")
    if resource_id is not None:
        with desk.ports.sessions() as db:
            resource = db.get(Resource, resource_id)
            number = resource.phone if resource is not None and resource.active else None
        if not number:
            raise ConsoleError("console.unknown_resource", "no such resource to call", 400)
    elif not E164.fullmatch(number or ""):
        raise ConsoleError("console.bad_number", "a number in E.164 form (+34...)", 400)
    assert number is not None
    on_the_edge(lambda: transfer(call_id, number), call_id, "transfer_out")
    desk.ports.call_log.append(
        call_id,
        "transfer_out_requested",
        {"agent_id": agent_id, "resource_id": resource_id, "warm": warm},
        at=desk.ports.clock(),
    )


def end_warm_transfer(desk: CallDesk, call_id: str, agent_id: str, *, complete: bool) -> None:
    """After consulting the service: hand her over (``complete``), or take her back. 409
    ``console.transfer_not_answered`` for a hand-over before the service has answered."""
    action = "complete_transfer" if complete else "cancel_transfer"
    act = desk.edge_action(call_id, agent_id, action)

    def guarded() -> None:
        try:
            act(call_id)
        except LookupError as exc:
            if getattr(exc, "error_id", "") != "console.transfer_not_answered":
                raise
            raise ConsoleError(
                "console.transfer_not_answered", "the service has not answered yet", 409
            ) from exc

    on_the_edge(guarded, call_id, action)
    desk.ports.call_log.append(
        call_id,
        "transfer_completed" if complete else "transfer_cancelled",
        {"agent_id": agent_id},
        at=desk.ports.clock(),
    )
