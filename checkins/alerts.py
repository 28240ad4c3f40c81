"""Check-ins' and alarms' ``Alerts`` port on routing: its ladders and the supervisors' feed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from routing.adapters import RedisNotifier
from routing.router import Router


@dataclass
class RoutingAlerts:
    """Check-ins' and alarms' ``Alerts``: routing's ladders and the supervisors' feed.

    The router is reached on first use (building it registers agents in Redis), so an alarm
    is stored and answered while Redis is down, and its ladder starts once Redis is back.
    """

    router: Callable[[], Router]
    notifier: RedisNotifier

    def escalate(
        self, escalation_id: str, team_id: str, reason: str, now: float, call_id: str | None = None
    ) -> Any:
        return self.router().escalate(escalation_id, team_id, reason, now, call_id)

    def notify_supervisors(self, kind: str, data: dict[str, Any]) -> None:
        self.notifier.notify_supervisors(kind, data)
