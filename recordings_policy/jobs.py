"""rq entry points for recordings. Jobs take ids only, never audio, names or numbers.

The worker installs the archive once (``install``) before it starts working; jobs run in rq's
forked work horse, which inherits it.

The purge is a job scheduled with ``enqueue_at`` for the next slot (hourly by default) under a
job id named after the slot with ``unique=True``, and the first thing a run does is schedule the
next one. The workers' timekeeper (``store.timekeeper``) calls ``schedule_purge`` every few
seconds, so a lost chain heals without a restart, and however many workers run, each slot is
scheduled once. rq's ``CronScheduler`` was not used: in rq 3.0 it enqueues through a queue with the
default pickle serializer (our workers read JSON only) and runs as a separate process per
deployment, each instance enqueuing on its own.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from rq import Retry, get_current_job
from rq.exceptions import DuplicateJobError
from sqlalchemy import Engine

from recordings_policy.errors import RecordingError
from recordings_policy.services import RecordingArchive
from recordings_policy.sources import TwilioRecordingSource
from store.base import utcnow
from store.live_state import job_queue

log = logging.getLogger(__name__)

PURGE_EVERY = timedelta(hours=1)
PURGE_QUEUE = "maintenance"
STORE_QUEUE = "default"
# Twilio keeps the audio until we delete it, so retrying for a day loses nothing.
STORE_RETRY_INTERVALS = [10, 30, 60, 300, 900, 1800, 3600, 3600, 3600]


@dataclass
class RecordingJobContext:
    archive: RecordingArchive
    twilio: TwilioRecordingSource | None = None
    engine: Engine | None = None


_installed: RecordingJobContext | None = None
_fork_hook_registered = False


def install(context: RecordingJobContext) -> None:
    """Give the jobs their archive (and the Twilio adapter when Twilio is configured)."""
    global _installed, _fork_hook_registered
    _installed = context
    if not _fork_hook_registered:
        os.register_at_fork(after_in_child=_forget_inherited_connections)
        _fork_hook_registered = True


def _forget_inherited_connections() -> None:
    """A forked work horse must not reuse the parent's pooled database connections."""
    if _installed is not None and _installed.engine is not None:
        _installed.engine.dispose(close=False)


def _context() -> RecordingJobContext:
    if _installed is None:
        raise RuntimeError("recording jobs are not installed (amparo worker installs them)")
    return _installed


def process_twilio_recording(recording_id: str) -> str:
    """Download, seal, verify and delete at Twilio one recording."""
    context = _context()
    if context.twilio is None:
        raise RecordingError("Twilio is not configured in this worker")
    return context.archive.store_from_twilio(recording_id, context.twilio, utcnow())


def purge_due(every_seconds: int = int(PURGE_EVERY.total_seconds())) -> dict[str, int]:
    """Purge what is due; first schedule the next run so a failing purge keeps its schedule."""
    job = get_current_job()
    if job is not None:
        schedule_purge(job.connection, every=timedelta(seconds=every_seconds))
    report = _context().archive.purge_due(utcnow(), _context().twilio)
    log.info(
        "recordings purge: %d purged, %d held, %d failed",
        len(report.purged),
        report.held,
        report.failed,
    )
    return {
        "purged": len(report.purged),
        "held": report.held,
        "skipped_locked": report.skipped_locked,
        "failed": report.failed,
    }


def enqueue_twilio_recording(connection: redis.Redis, recording_id: str) -> bool:
    """Queue the store job for ``recording_id`` once; False when it is already queued."""
    try:
        job_queue(connection, STORE_QUEUE).enqueue(
            process_twilio_recording,
            recording_id,
            job_id=f"recording-store-{recording_id}",
            unique=True,
            retry=Retry(max=len(STORE_RETRY_INTERVALS), interval=STORE_RETRY_INTERVALS),
            result_ttl=3600,
            failure_ttl=int(timedelta(days=30).total_seconds()),
            job_timeout=900,
        )
    except DuplicateJobError:
        return False
    return True


def next_purge_slot(now: datetime, every: timedelta = PURGE_EVERY) -> datetime:
    step = int(every.total_seconds())
    if step < 60:
        raise ValueError("purge interval must be at least a minute")
    return datetime.fromtimestamp((int(now.timestamp()) // step + 1) * step, UTC)


def schedule_purge(
    connection: redis.Redis, *, every: timedelta = PURGE_EVERY, now: datetime | None = None
) -> str | None:
    """Schedule the purge for the next slot; return its job id, or None if already scheduled."""
    slot = next_purge_slot(now or utcnow(), every)
    job_id = f"recordings-purge-{slot:%Y%m%dT%H%M%S}"
    step = int(every.total_seconds())
    try:
        job_queue(connection, PURGE_QUEUE).enqueue_at(
            slot,
            purge_due,
            step,
            job_id=job_id,
            unique=True,
            result_ttl=2 * step,
            failure_ttl=int(timedelta(days=7).total_seconds()),
            job_timeout=3600,
        )
    except DuplicateJobError:
        return None
    return job_id
