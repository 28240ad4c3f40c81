"""One Redis connection factory for web, workers and SIP processes.

Every key Amparo writes lives under the ``amparo:`` namespace so that one Redis can be shared
with other applications, and rq queues use the JSON serializer (never pickle: a job carries ids,
never objects).
"""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue
from rq.job import Job
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
