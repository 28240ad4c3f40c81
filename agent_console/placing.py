"""An agent places a call from her console (``calls.placed_calls``) while she is available.

What she may call, resolved here and never sent back to the page:
- ``{"call_id"}``: back to the woman of a call she worked herself (the number of that call);
- ``{"resource_id"}``: a service of the line's directory that has a phone;
- ``{"number"}``: any number in E.164 form, on ``line_id`` (or the only line).

She is rung first and the far end once she has it, as for any callback; the answer is the
callback's (``{"call_id", "dialing"}``, with an ``error_id`` when nothing was dialled).

While the far end rings she may cancel it, as she may a callback she took
(``calls.cancel_ringing``); answered first, the call goes on and her cancel is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from agent_console.calls import E164, CallDesk
from agent_console.ports import ConsoleError, ConsolePorts
from calls.cancel_ringing import cancel_ringing
from calls.directory import Directory, LineInfo
from calls.errors import NotRinging
from calls.placed_calls import PlacedCalls
from routing import AgentState
from routing.state import routing_key
from store.models import Agent, Line, Resource, Team
from store.records import Call
from store.vocabulary import RiskLevel

CALL_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Target:
    line_id: str | None
    number: str
    beneficiary_id: str | None
    risk: RiskLevel
    logged: dict[str, str]
    """What the call log says of it (never the number)."""


def place_call(desk: CallDesk, ports: ConsolePorts, agent_id: str, body: dict[str, Any]) -> Any:
    if ports.callbacks is None:
        raise ConsoleError("console.no_dialer", "calls cannot be placed here", 409)
    target = _target(ports, agent_id, body)
    line = _line(ports, target.line_id, agent_id)
    state = ports.live.hget(routing_key("agent", agent_id), "state")
    if (state.decode() if isinstance(state, bytes) else state) != AgentState.AVAILABLE:
        raise ConsoleError("console.not_available", "be available to place a call", 409)
    placed = PlacedCalls(ports.callbacks())
    call_id = placed.place_for_agent(
        agent_id, line, target.number, target.beneficiary_id, target.risk, ports.clock()
    )
    if call_id is None:
        raise ConsoleError("console.dial_failed", "the call could not be placed", 502)
    ports.call_log.append(
        call_id, "agent_placed_call", {"agent_id": agent_id, **target.logged}, at=ports.clock()
    )
    try:
        return desk.accept(call_id, agent_id)
    except ConsoleError as exc:  # an offer came to her first: this call is not placed
        placed.withdraw(call_id, "not_taken")
        raise ConsoleError("console.not_available", "be available to place a call", 409) from exc


def cancel_call(ports: ConsolePorts, agent_id: str, call_id: str) -> dict[str, Any]:
    """Her call (placed, or a callback she took) stops ringing; she is let go as after any
    call. Asked again, the same answer (``already``)."""
    if not CALL_ID.fullmatch(call_id):
        raise ConsoleError("console.bad_call_id", "not a call id", 400)
    if ports.callbacks is None:
        raise ConsoleError("console.no_dialer", "calls cannot be placed here", 409)
    with ports.sessions() as db:
        call = db.get(Call, call_id)
    if call is None:
        raise ConsoleError("console.unknown_call", "no such call", 404)
    if call.agent_id != agent_id:
        raise ConsoleError("console.not_your_call", "this call is not yours", 403)
    try:
        cancelled = cancel_ringing(ports.callbacks(), call_id, agent_id)
    except NotRinging as exc:
        status = 403 if exc.error_id == "console.not_your_call" else 409
        raise ConsoleError(exc.error_id, exc.message, status) from exc
    return {"call_id": call_id, "cancelled": True, "already": cancelled.already}


def _target(ports: ConsolePorts, agent_id: str, body: dict[str, Any]) -> Target:
    given = [name for name in ("call_id", "resource_id", "number") if body.get(name)]
    if len(given) != 1:
        raise ConsoleError("console.bad_target", "give one of call_id, resource_id, number", 400)
    line_id = str(body["line_id"]) if body.get("line_id") else None
    with ports.sessions() as db:
        if body.get("call_id"):
            call = db.get(Call, str(body["call_id"]))
            if call is None or call.agent_id != agent_id:
                raise ConsoleError("console.unknown_call", "no call of yours to call back", 404)
            if not call.caller_number:
                raise ConsoleError("console.no_number", "her number is not known", 409)
            risk = RiskLevel(call.risk_level) if call.risk_level else RiskLevel.NO_APRECIADO
            return Target(
                call.line_id,
                call.caller_number,
                call.beneficiary_id,
                risk,
                {"calling_back": call.id},
            )
        if body.get("resource_id"):
            resource = db.get(Resource, str(body["resource_id"]))
            if resource is None or not resource.active or not resource.phone:
                raise ConsoleError("console.unknown_resource", "no such resource to call", 400)
            return Target(
                resource.line_id or line_id,
                resource.phone,
                None,
                RiskLevel.NO_APRECIADO,
                {"resource_id": resource.id},
            )
    number = str(body["number"]).replace(" ", "")
    if not E164.fullmatch(number):
        raise ConsoleError("console.bad_number", "a number in E.164 form (+34...)", 400)
    return Target(line_id, number, None, RiskLevel.NO_APRECIADO, {"target": "number"})


def _line(ports: ConsolePorts, line_id: str | None, agent_id: str) -> LineInfo:
    """The line whose caller ID is shown: the target's, else the one asked for, else her
    team's, else the line of her latest call, else the only one."""
    if line_id is None:
        with ports.sessions() as db:
            line_id = db.scalar(
                select(Team.line_id)
                .join(Agent, Agent.team_id == Team.id)
                .where(Agent.id == agent_id)
            ) or db.scalar(
                select(Call.line_id)
                .where(Call.agent_id == agent_id, Call.line_id.is_not(None))
                .order_by(Call.started_at.desc())
                .limit(1)
            )
            lines = db.scalars(select(Line.id).limit(2)).all() if line_id is None else []
        if line_id is None and len(lines) != 1:
            raise ConsoleError("console.line_required", "say which line calls (line_id)", 400)
        line_id = line_id or lines[0]
    line = Directory(ports.sessions).line(line_id)
    if line is None:
        raise ConsoleError("console.unknown_line", "no such line", 400)
    return line
