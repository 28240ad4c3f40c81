"""Helpers for check-in tests: a controllable clock in the future, releasing rq's scheduled
jobs by that clock, and running real rq workers in burst mode."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.clock import ManualClock
from store.job_worker import InProcessJobWorker
from store.live_state import QUEUE_NAMES, job_queue
from store.models import Beneficiary
from store.records import CheckinAttempt, CheckinPlan


def future_monday(weeks_ahead: int = 1) -> date:
    """A Monday at least a week from today, so rq's own retry times (real time) are never
    later than the test clock."""
    today = datetime.now(UTC).date()
    return today + timedelta(days=(7 - today.weekday()) % 7 + 7 * weeks_ahead)


def last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1) if month < 12 else date(year, 12, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def release_due(jobs: redis.Redis, now: datetime) -> int:
    """What rq's scheduler does, by the test clock: move due scheduled jobs to their queues."""
    moved = 0
    for name in QUEUE_NAMES:
        queue = job_queue(jobs, name)
        registry = queue.scheduled_job_registry
        for job_id in registry.get_jobs_to_schedule(int(now.timestamp())):
            registry.remove(job_id)
            with contextlib.suppress(NoSuchJobError):
                queue.enqueue_job(Job.fetch(job_id, connection=jobs, serializer=JSONSerializer))
            moved += 1
    return moved


def run_burst(jobs: redis.Redis) -> None:
    queues = [job_queue(jobs, name) for name in QUEUE_NAMES]
    InProcessJobWorker(queues, connection=jobs, serializer=JSONSerializer).work(
        burst=True, with_scheduler=False, logging_level="WARNING"
    )


def queued(jobs: redis.Redis) -> int:
    return sum(job_queue(jobs, name).count for name in QUEUE_NAMES)


def drain(jobs: redis.Redis, clock: ManualClock, rounds: int = 20) -> None:
    """Run everything due by the test clock, including what those jobs schedule for now."""
    for _ in range(rounds):
        release_due(jobs, clock.now())
        if not queued(jobs):
            return
        run_burst(jobs)


def advance(jobs: redis.Redis, clock: ManualClock, by: timedelta) -> None:
    clock.advance(by)
    drain(jobs, clock)


def scheduled_job_ids(jobs: redis.Redis) -> list[str]:
    ids: list[str] = []
    for name in QUEUE_NAMES:
        ids += job_queue(jobs, name).scheduled_job_registry.get_job_ids()
    return ids


def add_plan(
    sessions: sessionmaker[Session],
    beneficiary_id: str,
    due: datetime | None,
    cadence_days: int = 30,
    **beneficiary: Any,
) -> str:
    with sessions() as db, db.begin():
        if beneficiary:
            row = db.get(Beneficiary, beneficiary_id)
            assert row is not None
            for name, value in beneficiary.items():
                setattr(row, name, value)
        plan = CheckinPlan(
            beneficiary_id=beneficiary_id, cadence_days=cadence_days, next_due_at=due
        )
        db.add(plan)
        db.flush()
        return plan.id


def attempts_of(sessions: sessionmaker[Session], beneficiary_id: str) -> list[CheckinAttempt]:
    with sessions() as db:
        return list(
            db.scalars(
                select(CheckinAttempt)
                .where(CheckinAttempt.beneficiary_id == beneficiary_id)
                .order_by(CheckinAttempt.scheduled_at, CheckinAttempt.attempt_no)
            )
        )


def deactivate_other_plans(sessions: sessionmaker[Session]) -> None:
    """The test database lives for the session: earlier tests' plans must not be planned."""
    with sessions() as db, db.begin():
        db.execute(update(CheckinPlan).values(active=False))


def signed_headers(
    serial: str, secret: str, body: bytes, at: float | None = None
) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Amparo-Device": serial,
        "X-Amparo-Timestamp": stamp,
        "X-Amparo-Signature": signature,
        "Content-Type": "application/json",
    }


def alarm_body(alarm_id: str, serial: str, **extra: Any) -> bytes:
    body: dict[str, Any] = {
        "device_id": serial,
        "alarm_id": alarm_id,
        "type": "assault",
        "location": {
            "lat": 40.4168,
            "lon": -3.7038,
            "accuracy": 12.5,
            "time": utcnow().isoformat(),
        },
        "battery": 64,
    }
    body.update(extra)
    return json.dumps(body).encode()
