"""Taking a deactivated account out of routing (the admin page and ``amparo config apply``)."""

from __future__ import annotations

import logging

import redis

from routing.errors import RoutingError, UnknownAgent
from routing.router import Router
from routing.state import AgentState

log = logging.getLogger(__name__)


def leave_routing(router: Router, agent_id: str, now: float) -> tuple[str, str | None]:
    """Take a deactivated account out of routing: offline at once, so no caller waits on an
    offer to someone who can no longer take it (an offer out to her goes to the next agent). A
    call she is on is left alone (a deactivation never cuts a caller off): routing keeps
    ``offline`` as her state after that call (status ``after_call``), so when it and its wrap-up
    end she goes offline and is offered nothing. Returns her routing state and the state pending
    after her call; ``unknown`` when routing could not be reached."""
    try:
        transition = router.set_agent_state(agent_id, AgentState.OFFLINE, now)
    except UnknownAgent:
        return AgentState.OFFLINE.value, None
    except (RoutingError, redis.RedisError) as exc:
        log.warning("deactivated agent_id=%s still in routing (%s)", agent_id, type(exc).__name__)
        return "unknown", None
    state = str(transition.result.get("state") or "unknown")
    if transition.status == "after_call":
        return state, str(transition.result.get("after_call") or "") or None
    if not transition.ok or state != AgentState.OFFLINE:
        log.warning(
            "deactivated agent_id=%s not offline in routing (%s)", agent_id, transition.status
        )
    return state, None
