"""Routing's ports on Redis and the durable call log: the supervisors' notifier and the
call log routing's events are appended to."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from routing.channels import BOARD_CHANGED, SUPERVISOR_CHANNEL, SUPERVISOR_FEED, base_call_id
from store.call_log import CallLog


@dataclass
class RoutingCallLog:
    """Routing's events into the durable call log; a redelivered event lands once (its
    ``event_id`` with the call and kind is the idempotency key, unique even if the Redis
    counter behind event ids is ever reset)."""

    call_log: CallLog

    def append(self, call_id: str, kind: str, data: dict[str, Any], at: float) -> None:
        event_id = data.get("event_id")
        if base_call_id(call_id) != call_id:
            data = {**data, "leg": call_id}
        self.call_log.append(
            base_call_id(call_id),
            kind,
            data,
            at=at,
            idempotency_key=(
                f"routing:{call_id}:{kind}:{event_id}" if event_id is not None else None
            ),
        )


@dataclass
class RedisNotifier:
    """Supervisors' alerts over Redis pub/sub (every web process relays them to its browsers),
    with the latest kept in a short list for a wallboard that just opened."""

    client: redis.Redis
    keep: int = 200

    def offer_made(
        self, agent_id: str, call_id: str, expires_at: float, details: dict[str, Any]
    ) -> None:
        """Routing's Lua already published the offer on the agent's channel; wallboards only
        hear that something moved."""
        self.client.publish(SUPERVISOR_CHANNEL, BOARD_CHANGED)

    def offer_withdrawn(self, agent_id: str, call_id: str, reason: str) -> None:
        """Published by routing's Lua on the agent's channel."""
        self.client.publish(SUPERVISOR_CHANNEL, BOARD_CHANGED)

    def notify_supervisors(self, kind: str, data: dict[str, Any]) -> None:
        message = json.dumps({"kind": kind, "at": time.time(), **data}, default=str)
        pipe = self.client.pipeline()
        pipe.publish(SUPERVISOR_CHANNEL, message)
        pipe.lpush(SUPERVISOR_FEED, message)
        pipe.ltrim(SUPERVISOR_FEED, 0, self.keep - 1)
        pipe.execute()
