"""An agent's answer to an offer. Offers themselves are made inside every transition that can
free an agent or a call (enqueue, becoming available, a reject, a timeout, the end of wrap-up,
a widening), so there is never a moment where a free qualified agent and a waiting call both
exist without an offer between them (the declined cool-down aside)."""

from __future__ import annotations

from routing.context import RoutingContext
from routing.state import Transition


def accept(ctx: RoutingContext, call_id: str, agent_id: str, now: float) -> Transition:
    """Status ``answered``; ``already_accepted`` for a repeated click; ``offer_not_current``
    (not ok) if the offer timed out, was withdrawn or went to someone else."""
    return ctx.transition("accept", now, {"call": call_id, "agent": agent_id})


def reject(ctx: RoutingContext, call_id: str, agent_id: str, now: float) -> Transition:
    """The call goes straight to the next agent; this agent is skipped for it during the
    cool-down and stays available for other calls."""
    return ctx.transition("reject", now, {"call": call_id, "agent": agent_id})
