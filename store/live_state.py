"""One Redis connection factory for web, workers and SIP processes.

Every key Amparo writes lives under the ``amparo:`` namespace so that one Redis can be shared
with other applications, and rq queues use the JSON serializer (never pickle: a job carries ids,
never objects).
"""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue
from rq.serializers import JSONSerializer

NAMESPACE = "amparo"

QUEUE_NAMES = ("urgent", "default", "checkins", "maintenance")


def key(*parts: str | int) -> str:
    """Build a namespaced key: ``key("call", 7, "state") == "amparo:call:7:state"``."""
    return ":".join([NAMESPACE, *(str(part) for part in parts)])


def connect(url: str, *, decode_responses: bool = True, **options: Any) -> redis.Redis:
    """Return a client for ``url`` with timeouts suited to a call-handling path.

    Short timeouts keep a down Redis from freezing a webhook: the caller must be sent to the
    fallback path within a second or two, not after the default socket timeout.
    """
    options.setdefault("socket_timeout", 2.0)
    options.setdefault("socket_connect_timeout", 2.0)
    options.setdefault("health_check_interval", 30)
    client: redis.Redis = redis.Redis.from_url(url, decode_responses=decode_responses, **options)
    return client


def job_queue(connection: redis.Redis, name: str = "default") -> Queue:
    """An rq queue on the live-state Redis with the JSON serializer.

    rq needs a connection that does not decode responses (``connect(url, decode_responses=False)``).
    """
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=connection, serializer=JSONSerializer)


def answers(connection: redis.Redis) -> bool:
    """True when Redis answers a PING."""
    try:
        return bool(connection.ping())
    except (redis.RedisError, OSError):
        return False
