"""Agents: their skills and their presence.

States: ``offline | available | offered | on_call | wrap_up | break``, each with the time it
began. Agents choose ``available``, ``break`` and ``offline``; the router sets the others.

On a call, ``break`` or ``offline`` is kept as her state *after the call* (``after_call`` on
the agent): when the call ends she goes through wrap-up as usual and then to that state instead
of ``available``, with no offer in between; ``available`` during the call cancels it. A change
during wrap-up applies at once and drops what was pending.
"""

from __future__ import annotations

from routing.config import check_identifier
from routing.context import RoutingContext
from routing.errors import InvalidAgentState, UnknownAgent
from routing.state import MANUAL_AGENT_STATES, AgentProfile, AgentState, Transition, as_list_field


def register_agent(ctx: RoutingContext, profile: AgentProfile, now: float) -> Transition:
    """Create the agent (offline) or update their skills; an available agent is re-indexed and
    may be offered a call their new skills allow."""
    check_identifier(profile.agent_id, "agent id")
    for skill in (*profile.languages, *profile.specialties, *profile.queues):
        check_identifier(skill, "skill")
    args = {
        "agent": profile.agent_id,
        "langs": as_list_field(profile.languages),
        "specs": as_list_field(profile.specialties),
        "queues": as_list_field(profile.queues),
    }
    return ctx.transition("register_agent", now, args)


def set_agent_state(
    ctx: RoutingContext, agent_id: str, state: AgentState | str, now: float
) -> Transition:
    """Change presence. Becoming available offers the best waiting call at once; leaving while
    an offer is out withdraws it and offers the call to the next agent.

    While the agent is on a call nothing changes now: the answer is ``after_call`` (ok) with
    ``state`` (``on_call``) and ``after_call`` (``break``, ``offline``, or ``""`` when she will
    be available as usual, which is what ``available`` asks for).

    Raises UnknownAgent for an agent never registered and InvalidAgentState for a state only
    the router may set.
    """
    target = AgentState(state)
    if target not in MANUAL_AGENT_STATES:
        raise InvalidAgentState(f"{target.value} is set by the router, not by hand")
    transition = ctx.transition("agent_state", now, {"agent": agent_id, "state": target.value})
    if transition.status == "unknown_agent":
        raise UnknownAgent("agent is not registered")
    return transition
