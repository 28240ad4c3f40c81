"""Routing: who answers whom, and how fast a woman in danger reaches a person.

Live state is in Redis and every transition is one Lua script, so any number of web and worker
processes may route at once. Time always comes in as ``now``; nothing here reads a clock.
The façade is :class:`routing.router.Router`.
"""

from routing.config import (
    EscalationTeam,
    EscalationTier,
    QueueConfig,
    RouterConfig,
    WideningStep,
)
from routing.errors import RoutingError
from routing.router import Router
from routing.state import (
    AgentProfile,
    AgentState,
    CallbackTask,
    CallRequest,
    CallStatus,
    RoutingEvent,
    SweepReport,
    Transition,
)

__all__ = [
    "AgentProfile",
    "AgentState",
    "CallRequest",
    "CallStatus",
    "CallbackTask",
    "EscalationTeam",
    "EscalationTier",
    "QueueConfig",
    "Router",
    "RouterConfig",
    "RoutingError",
    "RoutingEvent",
    "SweepReport",
    "Transition",
    "WideningStep",
]
