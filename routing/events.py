"""Handing routing events to the ports, and the outbox that makes it at-least-once.

Every Lua transition writes its events to an outbox in the same atomic step. The process that ran
the transition delivers them at once and then removes them; if it dies first, or a port fails,
the sweeper leases them after ``outbox_grace_seconds`` and delivers them again. Ports therefore
see each event at least once, with a stable ``event_id`` to drop repeats.

A redelivery retries only the ports that failed (a supervisor is alerted once, however long the
database is down), and at most ``MAX_DELIVERY_ATTEMPTS`` times: an event a port still refuses
then is reported (logged as an error, with ids only) and dropped, never looped.
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

MAX_DELIVERY_ATTEMPTS = 12
"""With the default 10 s grace, about two minutes of retries: a database outage longer than that
loses the event's log entry (reported), never the call itself."""
DONE_TTL_S = 24 * 3600

Step = tuple[str, Callable[[], None]]

SUPERVISOR_KINDS = frozenset(
    {
        "agent_sent_to_break",
        "escalation_supervisor_alert",
        "escalation_tier_unstaffed",
        "escalation_acknowledged",
        "dial_urgent_number",
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

    def deliver(self, events: Sequence[RoutingEvent], *, redelivery: bool = False) -> None:
        """Deliver each event to its ports; acknowledge those that went through entirely (or
        were given up)."""
        if not events:
            return
        done = [event.event_id for event in events if self._deliver_one(event, redelivery)]
        self.acknowledge(done)

    def acknowledge(self, event_ids: Iterable[int]) -> None:
        ids = list(event_ids)
        if not ids:
            return
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(routing_key("outbox"), *ids)
        pipe.hdel(routing_key("outbox", "data"), *[str(event_id) for event_id in ids])
        pipe.hdel(routing_key("outbox", "attempts"), *[str(event_id) for event_id in ids])
        pipe.delete(*[routing_key("outbox", "done", str(event_id)) for event_id in ids])
        pipe.execute()

    def redeliver(self, runner: ScriptRunner, now: float, limit: int = 200) -> int:
        """Lease and deliver events nobody delivered in time; returns how many were tried."""
        reply = runner.run("outbox_claim", now, {"limit": limit})
        bodies = reply.result.get("bodies") or []
        events = [RoutingEvent.from_wire(json.loads(body)) for body in bodies]
        self.deliver(events, redelivery=True)
        return len(events)

    def _deliver_one(self, event: RoutingEvent, redelivery: bool) -> bool:
        """Every port gets its try even if another fails, so an offer still reaches the agent
        while the database is down; the event is then left for redelivery of what failed."""
        data: dict[str, Any] = {**event.data, "event_id": event.event_id}
        if event.agent_id:
            data["agent_id"] = event.agent_id
        steps: list[Step] = []
        if event.call_id:
            steps.append(
                (
                    "log",
                    lambda: self._call_log.append(event.call_id or "", event.kind, data, event.at),
                )
            )
        steps.extend(self._port_steps(event, data))
        already = self._done_steps(event.event_id) if redelivery else set()
        succeeded: list[str] = []
        failed: list[str] = []
        for name, step in steps:
            if name in already:
                continue
            try:
                step()
                succeeded.append(name)
            except Exception:
                failed.append(name)
                log.warning(
                    "routing event %s (%s): %s not delivered; it will be retried",
                    event.event_id,
                    event.kind,
                    name,
                    exc_info=True,
                )
        return not failed or self._after_failure(event, succeeded, failed)

    def _done_steps(self, event_id: int) -> set[str]:
        members = self._client.smembers(routing_key("outbox", "done", str(event_id)))
        return {m.decode() if isinstance(m, bytes) else str(m) for m in members}

    def _after_failure(self, event: RoutingEvent, succeeded: list[str], failed: list[str]) -> bool:
        """Remember what went through; give the event up after its last attempt. Returns
        whether it is finished with (to acknowledge)."""
        done_key = routing_key("outbox", "done", str(event.event_id))
        pipe = self._client.pipeline(transaction=True)
        if succeeded:
            pipe.sadd(done_key, *succeeded)
            pipe.expire(done_key, DONE_TTL_S)
        pipe.hincrby(routing_key("outbox", "attempts"), str(event.event_id), 1)
        attempts = int(pipe.execute()[-1])
        if attempts < MAX_DELIVERY_ATTEMPTS:
            return False
        log.error(
            "routing event %s (%s) given up after %d attempts: %s not delivered",
            event.event_id,
            event.kind,
            attempts,
            ", ".join(failed),
        )
        return True

    def _port_steps(self, event: RoutingEvent, data: dict[str, Any]) -> list[Step]:
        call_id, agent_id, kind = event.call_id or "", event.agent_id or "", event.kind
        steps: list[Step] = []
        if kind == "offered":
            expires = float(data["expires_at"])
            steps.append(
                ("notifier", lambda: self._notifier.offer_made(agent_id, call_id, expires, data))
            )
        elif kind == "offer_timed_out":
            steps.append(
                ("notifier", lambda: self._notifier.offer_withdrawn(agent_id, call_id, "timed_out"))
            )
        elif kind == "offer_withdrawn":
            reason = str(data.get("reason", "withdrawn"))
            steps.append(
                ("notifier", lambda: self._notifier.offer_withdrawn(agent_id, call_id, reason))
            )
        elif kind == "ring":
            escalation, tier = str(data["escalation"]), int(data["tier"])
            steps.append(
                ("control", lambda: self._call_control.ring(agent_id, escalation, call_id, tier))
            )
        elif kind == "call_member":
            escalation = str(data["escalation"])
            steps.append(("control", lambda: self._call_control.call_member(agent_id, escalation)))
        elif kind == "dial_urgent_number":
            escalation = str(data["escalation"])
            steps.append(("control", lambda: self._call_control.dial_urgent_number(escalation)))
        elif kind in ("escalation_acknowledged", "escalation_closed"):
            escalation = str(data["escalation"])
            steps.append(("control", lambda: self._call_control.stop_ringing(escalation)))
        elif kind == "overflowed":
            target = self._config.backup_target(str(data.get("line", "")))
            steps.append(("control", lambda: self._call_control.overflow(call_id, target)))
        if kind in SUPERVISOR_KINDS:
            alert = {**data, "call_id": call_id or None}
            steps.append(("supervisors", lambda: self._notifier.notify_supervisors(kind, alert)))
        return steps
