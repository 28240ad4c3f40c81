"""Where a caller on hold stands, read from routing's live state (read-only).

Twilio's own ``QueuePosition`` counts arrivals in Twilio's queue; routing answers by risk and
priority, so the place announced is routing's: calls of the same routing queue, waiting or
being offered, that routing would serve first.
"""

from __future__ import annotations

import redis

from routing.state import BUILT_KEY, CallStatus, routing_key
from routing.views import read_rows

ON_HOLD = frozenset({CallStatus.WAITING.value, CallStatus.OFFERED.value})
HOLD_CEILING_S = 900
"""Backstop: a caller still in Twilio's queue after this long leaves it for the overflow
number, whatever routing says (routing's own overflow normally comes much earlier)."""


def routing_status(live: redis.Redis, call_id: str) -> str | None:
    """Routing's status of the call (waiting, offered, answered, ...), None when unknown."""
    value = live.hget(routing_key("call", call_id), "status")
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def routing_state_lost(live: redis.Redis) -> bool:
    """Redis lost routing's state (``BUILT_KEY`` gone): a caller routing does not know is
    about to be put back by the rebuild (``calls.routing_rebuild``), not gone."""
    return not live.exists(BUILT_KEY)


def position(live: redis.Redis, call_id: str) -> int | None:
    """1 for the next caller routing would serve in this call's queue; None when not waiting."""
    fields = ["status", "queue", "score"]
    mine = read_rows(live, [routing_key("call", call_id)], fields)[0]
    if mine is None or mine["status"] not in ON_HOLD:
        return None
    ids = [
        item.decode() if isinstance(item, bytes) else str(item)
        for item in live.zrange(routing_key("waiting"), 0, -1)
    ]
    keys = [routing_key("call", other) for other in ids if other != call_id]
    others = read_rows(live, keys, fields)
    score = float(mine["score"] or 0)
    ahead = sum(
        1
        for row in others
        if row is not None
        and row["status"] in ON_HOLD
        and row["queue"] == mine["queue"]
        and float(row["score"] or 0) < score
    )
    return ahead + 1
