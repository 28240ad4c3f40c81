"""Handing routing events to the ports, and the outbox that makes it at-least-once.

Every Lua transition writes its events to an outbox in the same atomic step. The process that ran
the transition delivers them at once and then removes them; if it dies first, or a port fails,
the sweeper leases them after ``outbox_grace_seconds`` and delivers them again. Ports therefore
see each event at least once, with a stable ``event_id`` to drop repeats.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis

from routing.config import RouterConfig
from routing.lua import ScriptRunner
from routing.ports import CallControl, CallLog, Notifier
from routing.state import RoutingEvent, routing_key

log = logging.getLogger(__name__)

SUPERVISOR_KINDS = frozenset(
    {
        "agent_sent_to_break",
        "escalation_supervisor_alert",
        "escalation_tier_unstaffed",
        "escalation_acknowledged",
        "overflowed",
    }
)


class EventDelivery:
    def __init__(
        self,
        client: redis.Redis,
        config: RouterConfig,
        call_log: CallLog,
        notifier: Notifier,
        call_control: CallControl,
    ) -> None:
        self._client = client
        self._config = config
        self._call_log = call_log
        self._notifier = notifier
        self._call_control = call_control

    def deliver(self, events: Sequence[RoutingEvent]) -> None:
        """Deliver each event to its ports; acknowledge those that went through entirely."""
        if not events:
            return
        done = [event.event_id for event in events if self._deliver_one(event)]
        self.acknowledge(done)

    def acknowledge(self, event_ids: Iterable[int]) -> None:
        ids = list(event_ids)
        if not ids:
            return
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(routing_key("outbox"), *ids)
        pipe.hdel(routing_key("outbox", "data"), *[str(event_id) for event_id in ids])
        pipe.execute()

    def redeliver(self, runner: ScriptRunner, now: float, limit: int = 200) -> int:
        """Lease and deliver events nobody delivered in time; returns how many were tried."""
        reply = runner.run("outbox_claim", now, {"limit": limit})
        bodies = reply.result.get("bodies") or []
        events = [RoutingEvent.from_wire(json.loads(body)) for body in bodies]
        self.deliver(events)
        return len(events)

    def _deliver_one(self, event: RoutingEvent) -> bool:
        """Every port gets its try even if another fails, so an offer still reaches the agent
        while the database is down; the event is then left for redelivery."""
        data: dict[str, Any] = {**event.data, "event_id": event.event_id}
        if event.agent_id:
            data["agent_id"] = event.agent_id
        steps: list[Callable[[], None]] = []
        if event.call_id:
            steps.append(
                lambda: self._call_log.append(event.call_id or "", event.kind, data, event.at)
            )
        steps.extend(self._port_steps(event, data))
        delivered = True
        for step in steps:
            try:
                step()
            except Exception:
                delivered = False
                log.warning(
                    "routing event %s (%s) not delivered; it will be retried",
                    event.event_id,
                    event.kind,
                    exc_info=True,
                )
        return delivered

    def _port_steps(self, event: RoutingEvent, data: dict[str, Any]) -> list[Callable[[], None]]:
        call_id, agent_id, kind = event.call_id or "", event.agent_id or "", event.kind
        steps: list[Callable[[], None]] = []
        if kind == "offered":
            expires = float(data["expires_at"])
            steps.append(lambda: self._notifier.offer_made(agent_id, call_id, expires, data))
        elif kind == "offer_timed_out":
            steps.append(lambda: self._notifier.offer_withdrawn(agent_id, call_id, "timed_out"))
        elif kind == "offer_withdrawn":
            reason = str(data.get("reason", "withdrawn"))
            steps.append(lambda: self._notifier.offer_withdrawn(agent_id, call_id, reason))
        elif kind == "ring":
            escalation, tier = str(data["escalation"]), int(data["tier"])
            steps.append(lambda: self._call_control.ring(agent_id, escalation, call_id, tier))
        elif kind == "escalation_acknowledged":
            escalation = str(data["escalation"])
            steps.append(lambda: self._call_control.stop_ringing(escalation))
        elif kind == "overflowed":
            target = self._config.backup_target(str(data.get("line", "")))
            steps.append(lambda: self._call_control.overflow(call_id, target))
        if kind in SUPERVISOR_KINDS:
            alert = {**data, "call_id": call_id or None}
            steps.append(lambda: self._notifier.notify_supervisors(kind, alert))
        return steps
