"""One Redis connection factory for web, workers and SIP processes.

Every key Amparo writes lives under the ``amparo:`` namespace so that one Redis can be shared
with other applications, and rq queues use the JSON serializer (never pickle: a job carries ids,
never objects).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis
from redis.connection import SSLConnection, parse_url
from redis.sentinel import Sentinel, SentinelManagedSSLConnection
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

NAMESPACE = "amparo"

QUEUE_NAMES = ("urgent", "default", "checkins", "maintenance")


def key(*parts: str | int) -> str:
    """Build a namespaced key: ``key("call", 7, "state") == "amparo:call:7:state"``."""
    return ":".join([NAMESPACE, *(str(part) for part in parts)])


@dataclass(frozen=True)
class Sentinels:
    """Redis run under Sentinel: the sentinels' addresses and the primary's name they monitor
    (``AMPARO_REDIS_SENTINELS``, ``AMPARO_REDIS_SENTINEL_MASTER``)."""

    addresses: tuple[tuple[str, int], ...]
    master: str
    password: str | None = field(default=None, repr=False)
    """The sentinels' own password, when they ask for one."""


def connect(
    url: str,
    *,
    decode_responses: bool = True,
    sentinels: Sentinels | None = None,
    **options: Any,
) -> redis.Redis:
    """Return a client for ``url`` with timeouts suited to a call-handling path.

    Short timeouts keep a down Redis from freezing a webhook: the caller must be sent to the
    fallback path within a second or two, not after the default socket timeout.

    With ``sentinels``, the client asks them which server is the primary on every new
    connection, so after a failover it writes to the promoted replica; ``url`` then gives only
    the database number, the credentials and TLS (its host and port are not used). A
    connection still open to a demoted primary is dropped on its first READONLY answer.
    """
    options.setdefault("socket_timeout", 2.0)
    options.setdefault("socket_connect_timeout", 2.0)
    options.setdefault("health_check_interval", 30)
    if sentinels is None:
        client: redis.Redis = redis.Redis.from_url(
            url, decode_responses=decode_responses, **options
        )
        return client
    target: dict[str, Any] = {**options, **parse_url(url)}  # type: ignore[no-untyped-call]
    for unused in ("host", "port", "path"):
        target.pop(unused, None)
    if target.pop("connection_class", None) is SSLConnection:  # rediss://
        target["connection_class"] = SentinelManagedSSLConnection
    watchers = Sentinel(
        list(sentinels.addresses),
        sentinel_kwargs={
            "socket_timeout": options["socket_timeout"],
            "socket_connect_timeout": options["socket_connect_timeout"],
            "password": sentinels.password,
        },
    )
    primary: redis.Redis = watchers.master_for(
        sentinels.master, decode_responses=decode_responses, **target
    )
    return primary


def job_queue(connection: redis.Redis, name: str = "default") -> Queue:
    """An rq queue on the live-state Redis with the JSON serializer.

    rq needs a connection that does not decode responses (``connect(url, decode_responses=False)``).
    """
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=connection, serializer=JSONSerializer)


def release_scheduled(connection: redis.Redis, now: float) -> int:
    """Move every job scheduled (``enqueue_at``) for ``now`` or earlier to its queue.

    This is what rq's scheduler process does; Amparo's worker does it itself, in its
    timekeeper, because rq's scheduler dies on a Redis error and comes back only in rq's
    10-minute maintenance pass. Each job leaves the scheduled registry and enters its queue in
    one MULTI (a job is never in neither); a job whose data is gone is dropped.

    Returns:
        How many jobs were moved.
    """
    moved = 0
    for name in QUEUE_NAMES:
        queue = job_queue(connection, name)
        registry = queue.scheduled_job_registry
        job_ids = registry.get_jobs_to_schedule(int(now))
        if not job_ids:
            continue
        jobs = Job.fetch_many(job_ids, connection=connection, serializer=JSONSerializer)
        with connection.pipeline() as pipeline:
            for job_id, job in zip(job_ids, jobs, strict=True):
                if job is not None:
                    queue.enqueue_job(job, pipeline=pipeline)
                    moved += 1
                registry.remove(job_id, pipeline=pipeline)
            pipeline.execute()
    return moved


def answers(connection: redis.Redis) -> bool:
    """True when Redis answers a PING."""
    try:
        return bool(connection.ping())
    except (redis.RedisError, OSError):
        return False
