"""What supervisors and admins see of the job queues: counts per queue, scheduled work and the
dead letters (rq's failed-job registry), with a way to run a failed job again.

Only ids, function names and the last line of the error are shown, never job arguments beyond
ids (which is all our jobs carry anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from store.live_state import QUEUE_NAMES, job_queue


@dataclass(frozen=True)
class QueueCounts:
    name: str
    queued: int
    scheduled: int
    started: int
    failed: int
    deferred: int


@dataclass(frozen=True)
class FailedJob:
    job_id: str
    queue: str
    function: str
    failed_at: datetime | None
    reason: str
    retries_left: int | None


def queue_counts(connection: redis.Redis) -> list[QueueCounts]:
    counts = []
    for name in QUEUE_NAMES:
        queue = job_queue(connection, name)
        counts.append(
            QueueCounts(
                name=name,
                queued=queue.count,
                scheduled=queue.scheduled_job_registry.count,
                started=queue.started_job_registry.count,
                failed=queue.failed_job_registry.count,
                deferred=queue.deferred_job_registry.count,
            )
        )
    return counts


def _reason(job: Job) -> str:
    result = job.latest_result()
    text = ((result.exc_string if result is not None else None) or "").strip().splitlines()
    return (text[-1] if text else "unknown")[:200]


def failed_jobs(connection: redis.Redis, limit: int = 50) -> list[FailedJob]:
    found: list[FailedJob] = []
    for name in QUEUE_NAMES:
        registry = job_queue(connection, name).failed_job_registry
        ids = registry.get_job_ids(0, limit - 1)
        for job in Job.fetch_many(ids, connection=connection, serializer=JSONSerializer):
            if job is None:
                continue
            found.append(
                FailedJob(
                    job_id=job.id,
                    queue=name,
                    function=(job.func_name or "?").rsplit(".", 1)[-1],
                    failed_at=job.ended_at,
                    reason=_reason(job),
                    retries_left=job.retries_left,
                )
            )
    found.sort(key=lambda item: item.failed_at or datetime.min, reverse=True)
    return found[:limit]


def scheduled_jobs(connection: redis.Redis, limit: int = 50) -> list[tuple[str, str, datetime]]:
    """(queue, job id, when) of the next scheduled jobs, soonest first."""
    upcoming: list[tuple[str, str, datetime]] = []
    for name in QUEUE_NAMES:
        registry = job_queue(connection, name).scheduled_job_registry
        for job_id in registry.get_job_ids(0, limit - 1):
            try:
                upcoming.append((name, job_id, registry.get_scheduled_time(job_id)))
            except NoSuchJobError:
                continue
    upcoming.sort(key=lambda item: item[2])
    return upcoming[:limit]


def requeue(connection: redis.Redis, queue_name: str, job_id: str) -> bool:
    """Run a dead-lettered job again; False when it is not in the failed registry."""
    registry: FailedJobRegistry = job_queue(connection, queue_name).failed_job_registry
    try:
        registry.requeue(job_id)
    except (NoSuchJobError, InvalidJobOperation):
        return False
    return True
