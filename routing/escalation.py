"""Urgent-response ladders for severe calls, device alarms and duress signals.

Tier 1's on-call members are rung at once; after the tier's delay the next tier is rung too,
with a supervisor alert from ``supervisor_alert_tier`` on; once at the top, the top tier is rung
again every ``repeat_seconds`` with a supervisor alert each time. It stops only when a human
acknowledges. Steps are taken by the sweeper inside one Lua script, so with any number of
processes ticking each step happens exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable

from routing.config import check_identifier
from routing.context import RoutingContext
from routing.errors import UnknownTeam
from routing.state import Transition, routing_key


def escalate(
    ctx: RoutingContext,
    escalation_id: str,
    team_id: str,
    reason: str,
    now: float,
    call_id: str | None = None,
) -> Transition:
    """Start a ladder (idempotent on ``escalation_id``: a retried alarm answers ``duplicate``).

    Use the alarm's or the call's id as ``escalation_id``; a severe call enqueued in a queue
    with an urgent team uses ``call:<call id>``.
    """
    check_identifier(escalation_id, "escalation id")
    check_identifier(reason, "reason")
    team = ctx.config.team(team_id)
    if team is None:
        raise UnknownTeam(f"no urgent-response team {team_id!r}")
    spec = team.ladder_spec(escalation_id, reason, call_id)
    return ctx.transition("escalate", now, {"escalation": spec})


def acknowledge(
    ctx: RoutingContext, escalation_id: str, agent_id: str, now: float, offer_call: bool = False
) -> Transition:
    """A human took it: the ladder stops (``already_acknowledged`` if someone was first).

    With ``offer_call`` (she answered at her console), the escalation's call, while it still
    waits, is offered to her at once if she is free (``call_offered`` in the result).
    """
    return ctx.transition(
        "acknowledge",
        now,
        {"escalation": escalation_id, "agent": agent_id, "offer_call": offer_call},
    )


def close(ctx: RoutingContext, escalation_id: str, reason: str, now: float) -> Transition:
    """The ladder stops with nobody recorded as acknowledging it (``not_open`` when it had
    stopped already): its call reached a person (``reason`` says how)."""
    check_identifier(reason, "reason")
    return ctx.transition("close_escalation", now, {"escalation": escalation_id, "reason": reason})


def set_on_call(ctx: RoutingContext, team_id: str, member_ids: Iterable[str]) -> None:
    """Replace the team's on-call rota. With no rota stored, every tier member is rung."""
    members = [check_identifier(member, "member id") for member in member_ids]
    roster = routing_key("team", team_id, "oncall")
    pipe = ctx.client.pipeline(transaction=True)
    pipe.delete(roster)
    if members:
        pipe.sadd(roster, *members)
    pipe.execute()
