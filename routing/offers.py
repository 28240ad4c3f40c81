"""An agent's answer to an offer. Offers themselves are made inside every transition that can
free an agent or a call (enqueue, becoming available, a reject, a timeout, the end of wrap-up,
a widening), so there is never a moment where a free qualified agent and a waiting call both
exist without an offer between them (the declined cool-down aside)."""

from __future__ import annotations

from routing.context import RoutingContext
from routing.state import CALLBACK_TASK_FLAG, RoutingEvent, Transition, from_list_field
from store import metrics


def accept(ctx: RoutingContext, call_id: str, agent_id: str, now: float) -> Transition:
    """Status ``answered``; ``already_accepted`` for a repeated click; ``offer_not_current``
    (not ok) if the offer timed out, was withdrawn or went to someone else."""
    transition = ctx.transition("accept", now, {"call": call_id, "agent": agent_id})
    for event in transition.of_kind("answered"):
        observe_time_to_human(ctx, event)
    return transition


def reject(ctx: RoutingContext, call_id: str, agent_id: str, now: float) -> Transition:
    """The call goes straight to the next agent; this agent is skipped for it during the
    cool-down and stays available for other calls."""
    return ctx.transition("reject", now, {"call": call_id, "agent": agent_id})


def observe_time_to_human(ctx: RoutingContext, event: RoutingEvent) -> None:
    """A caller reached a person (``answered`` or ``taken_by_team``): her wait, by risk, into
    ``amparo_time_to_human_seconds``. A callback task had nobody waiting on the line."""
    if CALLBACK_TASK_FLAG in from_list_field(str(event.data.get("flags") or "")):
        return
    waited = float(event.data.get("waited") or 0.0)
    metrics.observe(ctx.client, metrics.TIME_TO_HUMAN, (str(event.data.get("risk")),), waited)
