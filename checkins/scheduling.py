"""Putting check-in work on rq: job ids, queues, retries.

Jobs carry ids only. A job that is due now goes straight to its queue; a later one goes to
rq's scheduled registry (``enqueue_at``), which the workers' timekeeper releases on time. Job
ids name what the job is about, and ``unique=True`` makes a second scheduling of the same
thing a no-op, so any number of processes may schedule the same work.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from redis.client import Pipeline
from rq import Retry
from rq.exceptions import DuplicateJobError

from checkins.context import CheckinContext
from store.live_state import job_queue

log = logging.getLogger(__name__)

#: Failed jobs come back after 10 s, 30 s, 1, 2 and 5 minutes, then rest in the failed
#: registry (the dead letters the operations page shows) for 30 days.
RETRY_INTERVALS = [10, 30, 60, 120, 300]
FAILURE_TTL_S = int(timedelta(days=30).total_seconds())
RESULT_TTL_S = int(timedelta(days=1).total_seconds())

RUN_ATTEMPT = "checkins.jobs.run_attempt"
RING_TIMEOUT = "checkins.jobs.ring_timeout"
FAN_OUT = "checkins.jobs.fan_out_notification"
ESCALATE_ALARM = "checkins.jobs.escalate_alarm"


def retry_policy() -> Retry:
    return Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)


def attempt_job_id(attempt_id: str, when: datetime) -> str:
    return f"checkin-attempt-{attempt_id}-{int(when.timestamp())}"


def not_before(when: datetime) -> datetime:
    """``when`` rounded up to the second: rq's scheduled registry keeps whole seconds,
    rounded down, and a call must never go out before its window opens."""
    if when.microsecond:
        return when.replace(microsecond=0) + timedelta(seconds=1)
    return when


def schedule(
    ctx: CheckinContext,
    queue_name: str,
    func: str,
    args: Sequence[Any],
    *,
    when: datetime,
    job_id: str,
    unique: bool = True,
    pipeline: Pipeline | None = None,
    timeout_s: int = 120,
) -> bool:
    """Queue ``func(*args)`` for ``when``; False when a job with ``job_id`` already exists."""
    queue = job_queue(ctx.jobs, queue_name)
    options: dict[str, Any] = {
        "job_id": job_id,
        "retry": retry_policy(),
        "result_ttl": RESULT_TTL_S,
        "failure_ttl": FAILURE_TTL_S,
        "job_timeout": timeout_s,
        "description": func.rsplit(".", 1)[-1],
    }
    if pipeline is not None:
        options["pipeline"] = pipeline
    elif unique:
        options["unique"] = True
    try:
        if when <= ctx.clock.now():
            # rq's immediate enqueue opens a MULTI of its own: never inside a shared pipeline.
            options.pop("pipeline", None)
            queue.enqueue(func, *args, **options)
        else:
            queue.enqueue_at(not_before(when), func, *args, **options)
    except DuplicateJobError:
        return False
    return True


def schedule_attempt(
    ctx: CheckinContext,
    attempt_id: str,
    when: datetime,
    queue_name: str,
    *,
    pipeline: Pipeline | None = None,
    job_id: str | None = None,
) -> bool:
    return schedule(
        ctx,
        queue_name,
        RUN_ATTEMPT,
        [attempt_id],
        when=when,
        job_id=job_id or attempt_job_id(attempt_id, when),
        pipeline=pipeline,
    )


def schedule_ring_timeout(
    ctx: CheckinContext, attempt_id: str, when: datetime, queue_name: str
) -> bool:
    return schedule(
        ctx, queue_name, RING_TIMEOUT, [attempt_id], when=when, job_id=f"checkin-ring-{attempt_id}"
    )
