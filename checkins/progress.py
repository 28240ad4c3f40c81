"""How far a notification's calls have got, for supervisors: a Redis hash per notification.

``total`` beneficiaries named, ``scheduled`` calls queued, ``called`` first calls placed,
``reached`` beneficiaries who answered and were verified (or asked to be called later; each
counted once), ``not_reached`` those whose ladder ended without reaching her. Counters and ids
only: no names, no numbers. Kept 30 days.
"""

from __future__ import annotations

from typing import Any

import redis

from store.live_state import key

TTL_S = 30 * 86400
FIELDS = ("total", "scheduled", "called", "reached", "not_reached")
_COUNTERS = ("total", "scheduled", "called", "not_reached")


def progress_key(notification_id: str) -> str:
    return key("broadcast", notification_id)


def start(client: redis.Redis, notification_id: str, kind: str, total: int) -> None:
    name = progress_key(notification_id)
    now = float(client.time()[0])
    pipe = client.pipeline()
    pipe.hsetnx(name, "total", total)
    pipe.hsetnx(name, "kind", kind)
    pipe.expire(name, TTL_S)
    pipe.zadd(key("broadcasts"), {notification_id: now}, nx=True)
    pipe.zremrangebyscore(key("broadcasts"), 0, now - TTL_S)
    pipe.execute()


def reached(client: redis.Redis, notification_id: str, beneficiary_id: str) -> None:
    """She was reached (counted once, however many of her calls settle)."""
    name = progress_key(notification_id)
    pipe = client.pipeline()
    pipe.sadd(f"{name}:reached", beneficiary_id)
    pipe.expire(f"{name}:reached", TTL_S)
    pipe.execute()


def count(client: redis.Redis, notification_id: str, field: str, by: int = 1) -> None:
    if field not in _COUNTERS:
        raise ValueError(f"unknown progress field {field!r}")
    name = progress_key(notification_id)
    pipe = client.pipeline()
    pipe.hincrby(name, field, by)
    pipe.expire(name, TTL_S)
    pipe.execute()


def read(client: redis.Redis, notification_id: str) -> dict[str, Any] | None:
    raw = client.hgetall(progress_key(notification_id))
    if not raw:
        return None
    values = {_text(k): _text(v) for k, v in raw.items()}
    values["reached"] = str(client.scard(f"{progress_key(notification_id)}:reached"))
    report: dict[str, Any] = {"notification_id": notification_id, "kind": values.get("kind")}
    for field in FIELDS:
        report[field] = int(values.get(field, 0))
    return report


def recent(client: redis.Redis, limit: int = 20) -> list[dict[str, Any]]:
    ids = client.zrevrange(key("broadcasts"), 0, limit - 1)
    found = (read(client, _text(item)) for item in ids)
    return [item for item in found if item is not None]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
