"""What every routing operation needs: Redis, the configuration, the scripts and the ports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from routing.config import RouterConfig
from routing.events import EventDelivery
from routing.lua import ScriptRunner
from routing.state import Transition


@dataclass(frozen=True)
class RoutingContext:
    client: redis.Redis
    config: RouterConfig
    runner: ScriptRunner
    delivery: EventDelivery

    def transition(self, operation: str, now: float, args: dict[str, Any]) -> Transition:
        """Run one atomic transition and hand its events to the ports."""
        reply = self.runner.run(operation, now, args)
        self.delivery.deliver(reply.events)
        return reply.transition()
