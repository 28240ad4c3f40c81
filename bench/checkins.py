"""Check-in benchmarks: planning a day for many beneficiaries, check-in jobs per second per
worker with simulator telephony, and how late the worker's timekeeper starts scheduled jobs.

Run from the repository root:

    python -m bench.checkins                       # 100,000 beneficiaries (a few minutes)
    python -m bench.checkins --beneficiaries 5000  # quicker

It builds its own embedded Redis and SQLite database in a temporary directory (or uses
``--database-url`` for PostgreSQL) and prints figures; it never passes or fails on time.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TIME_ZONES = ["Europe/Madrid", "Atlantic/Canary", "America/Lima", "Europe/Bucharest"]
WINDOWS = [
    [{"days": [0, 1, 2, 3, 4], "start": "10:00", "end": "13:00"}],
    [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "09:00", "end": "21:00"}],
    [
        {"days": [0, 2, 4], "start": "17:00", "end": "19:30"},
        {"days": [5], "start": "11:00", "end": "12:00"},
    ],
]
RISKS = ["bajo", "medio", "alto", "extremo", "no_apreciado"]


@dataclass
class Figures:
    beneficiaries: int
    plan_seconds: float
    planned: int
    jobs: int
    forking_jobs_per_second: float
    simple_jobs_per_second: float
    drift_jobs: int
    drift_p50: float
    drift_p99: float
    drift_max: float

    def lines(self) -> list[str]:
        rate = self.planned / self.plan_seconds if self.plan_seconds else 0.0
        return [
            f"planning a day: {self.beneficiaries} beneficiaries, {self.planned} attempts "
            f"planned and scheduled in {self.plan_seconds:.2f} s ({rate:,.0f} per s)",
            f"check-in jobs (simulator telephony), one worker: "
            f"{self.forking_jobs_per_second:.1f} jobs/s forking rq Worker (amparo worker), "
            f"{self.simple_jobs_per_second:.1f} jobs/s in-process SimpleWorker "
            f"({self.jobs} jobs each)",
            f"scheduling drift over {self.drift_jobs} scheduled jobs: p50 {self.drift_p50:.3f} s, "
            f"p99 {self.drift_p99:.3f} s, max {self.drift_max:.3f} s",
        ]


def _settings(data_dir: Path, database_url: str | None) -> Any:
    from settings import load_settings

    env = {
        "AMPARO_DATA_DIR": str(data_dir),
        "AMPARO_OUTBOUND_CPS": "1000",
        "AMPARO_LOG_LEVEL": "WARNING",
        "AMPARO_SIMULATOR": "on",
    }
    if database_url:
        env.update(
            {
                "AMPARO_DATABASE_URL": database_url,
                "AMPARO_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                "AMPARO_DATA_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            }
        )
    return load_settings(env)


def _hotline(sessions: Any) -> str:
    from store.credentials import hash_secret
    from store.models import Agent, Line, Team, TeamMember

    with sessions() as db, db.begin():
        line = Line(
            name="Bench line",
            number="+34900009999",
            default_locale="es",
            overflow_number="+34900009998",
            urgent_number="+34900009997",
        )
        db.add(line)
        db.flush()
        team = Team(name="Bench team", line_id=line.id, tier_delays_s=[60, 60])
        agent = Agent(login="bench", display_name="Bench", password_hash=hash_secret("x"))
        db.add_all([team, agent])
        db.flush()
        db.add(TeamMember(team_id=team.id, agent_id=agent.id, tier=1))
        return str(line.id)


def _people(sessions: Any, line_id: str, count: int, now: datetime, tag: str) -> list[str]:
    """``count`` beneficiaries with plans due within the next day, inserted in bulk."""
    from sqlalchemy import insert

    from store.base import new_id
    from store.models import Beneficiary, BeneficiaryPhone
    from store.phone_numbers import lookup_hash
    from store.records import CheckinPlan

    rng = random.Random(20261129)  # benchmark data, not security
    ids: list[str] = []
    for start in range(0, count, 5000):
        people, phones, plans = [], [], []
        for index in range(start, min(count, start + 5000)):
            person_id = new_id()
            ids.append(person_id)
            number = f"+346{index:08d}"
            people.append(
                {
                    "id": person_id,
                    "reference": f"{tag}{index:07d}",
                    "full_name": "Bench Beneficiary",
                    "preferred_locale": "es",
                    "timezone": TIME_ZONES[index % len(TIME_ZONES)],
                    "risk_level": RISKS[index % len(RISKS)],
                    "safe_call_windows": WINDOWS[index % len(WINDOWS)],
                    "voicemail_allowed": False,
                    "cover_script": "survey",
                    "line_id": line_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            phones.append(
                {
                    "beneficiary_id": person_id,
                    "kind": "primary",
                    "number": number,
                    "number_hash": lookup_hash(number),
                }
            )
            plans.append(
                {
                    "id": new_id(),
                    "beneficiary_id": person_id,
                    "cadence_days": 30,
                    "active": True,
                    "next_due_at": now + timedelta(seconds=rng.randint(0, 86_399)),
                    "created_at": now,
                }
            )
        with sessions() as db, db.begin():
            db.execute(insert(Beneficiary), people)
            db.execute(insert(BeneficiaryPhone), phones)
            db.execute(insert(CheckinPlan), plans)
    return ids


def _reset(runtime: Any) -> None:
    from sqlalchemy import update

    from store.records import CheckinPlan

    runtime.checkins.jobs.flushdb(asynchronous=True)  # a day of jobs takes a while
    with runtime.sessions() as db, db.begin():
        db.execute(update(CheckinPlan).values(active=False))


def plan_a_day(runtime: Any, count: int) -> tuple[float, int]:
    from checkins import planner

    now = datetime.now(UTC)
    _people(runtime.sessions, _hotline(runtime.sessions), count, now, "P")
    started = time.perf_counter()
    report = planner.plan_due(runtime.checkins, horizon=timedelta(days=1), now=now)
    return time.perf_counter() - started, report.planned


def _due_now(runtime: Any, count: int, tag: str) -> None:
    from sqlalchemy import select, update

    from checkins import planner
    from store.models import Line
    from store.records import CheckinPlan

    now = datetime.now(UTC)
    with runtime.sessions() as db:
        line_id = db.scalar(select(Line.id).limit(1))
    ids = _people(runtime.sessions, str(line_id), count, now, tag)
    with runtime.sessions() as db, db.begin():
        db.execute(
            update(CheckinPlan).where(CheckinPlan.beneficiary_id.in_(ids)).values(next_due_at=now)
        )
        from store.models import Beneficiary

        db.execute(
            update(Beneficiary)
            .where(Beneficiary.id.in_(ids))
            .values(safe_call_windows=[{"days": list(range(7)), "start": "00:00", "end": "23:59"}])
        )
    planner.plan_due(runtime.checkins, now=now)


def jobs_per_second(runtime: Any, count: int, forking: bool, tag: str) -> float:
    from rq.serializers import JSONSerializer

    from store.job_worker import InProcessJobWorker, JobWorker
    from store.live_state import job_queue

    _reset(runtime)
    _due_now(runtime, count, tag)
    connection = runtime.checkins.jobs
    queue = job_queue(connection, "checkins")
    queued = queue.count
    kind = JobWorker if forking else InProcessJobWorker
    started = time.perf_counter()
    kind([queue], connection=connection, serializer=JSONSerializer).work(
        burst=True, with_scheduler=False, logging_level="WARNING"
    )
    elapsed = time.perf_counter() - started
    return queued / elapsed if elapsed else 0.0


def _work_with_scheduler(redis_url: str) -> None:
    """An rq worker with what ``amparo worker`` releases scheduled jobs with: a timekeeper."""
    import time as clock

    from rq.serializers import JSONSerializer

    from store.job_worker import JobWorker
    from store.lease import Lease
    from store.live_state import QUEUE_NAMES, connect, job_queue, release_scheduled
    from store.timekeeper import Chore, Timekeeper

    connection = connect(redis_url, decode_responses=False)
    Timekeeper(
        Lease(connection, "bench-timekeeper", 5000),
        [Chore("scheduled jobs", 1.0, lambda: release_scheduled(connection, clock.time()))],
    ).start()
    queues = [job_queue(connection, name) for name in QUEUE_NAMES]
    JobWorker(queues, connection=connection, serializer=JSONSerializer).work(
        with_scheduler=False, logging_level="WARNING"
    )


def drift(runtime: Any, count: int, spread_s: float) -> list[float]:
    """Jobs scheduled at fractional times over ``spread_s``; how late each one started."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from checkins.scheduling import RING_TIMEOUT, schedule

    _reset(runtime)
    context = runtime.checkins
    base = datetime.now(UTC) + timedelta(seconds=3)
    wanted: dict[str, datetime] = {}
    for index in range(count):
        when = base + timedelta(seconds=spread_s * index / max(count, 1))
        job_id = f"bench-drift-{index}"
        schedule(
            context, "checkins", RING_TIMEOUT, [f"bench-none-{index}"], when=when, job_id=job_id
        )
        wanted[job_id] = when
    worker = multiprocessing.get_context("fork").Process(
        target=_work_with_scheduler, args=(runtime.redis_url,)
    )
    worker.start()
    late: list[float] = []
    deadline = time.monotonic() + spread_s + 60
    try:
        while time.monotonic() < deadline:
            jobs = Job.fetch_many(list(wanted), connection=context.jobs, serializer=JSONSerializer)
            if all(job is not None and job.ended_at is not None for job in jobs):
                for job in jobs:
                    assert job is not None and job.started_at is not None
                    started = job.started_at.replace(tzinfo=UTC)
                    late.append((started - wanted[job.id]).total_seconds())
                break
            time.sleep(0.5)
    finally:
        if worker.pid is not None:
            os.kill(worker.pid, signal.SIGTERM)
        worker.join(20)
        if worker.is_alive():
            worker.kill()
    return late


def run(
    beneficiaries: int,
    jobs: int,
    drift_jobs: int,
    drift_seconds: float,
    database_url: str | None = None,
) -> Figures:
    from checkins import jobs as checkin_jobs
    from runtime import build_runtime
    from store import crypto, database, migrate

    with tempfile.TemporaryDirectory(prefix="amparo-bench-") as tmp:
        settings = _settings(Path(tmp), database_url)
        crypto.configure(crypto.cipher_from_keys(settings.data_key))
        engine = database.make_engine(settings.database_url)
        migrate.upgrade(engine)
        engine.dispose()
        runtime = build_runtime(settings)
        try:
            checkin_jobs.install(runtime.checkins)
            plan_seconds, planned = plan_a_day(runtime, beneficiaries)
            print(f"(planned {planned} in {plan_seconds:.2f} s)", flush=True)
            forking = jobs_per_second(runtime, jobs, forking=True, tag="F")
            simple = jobs_per_second(runtime, jobs, forking=False, tag="S")
            print(f"(jobs/s: {forking:.1f} forking, {simple:.1f} simple)", flush=True)
            late = sorted(drift(runtime, drift_jobs, drift_seconds))
        finally:
            runtime.close()
    percentile = statistics.quantiles(late, n=100, method="inclusive") if len(late) > 1 else late
    return Figures(
        beneficiaries=beneficiaries,
        plan_seconds=plan_seconds,
        planned=planned,
        jobs=jobs,
        forking_jobs_per_second=forking,
        simple_jobs_per_second=simple,
        drift_jobs=len(late),
        drift_p50=statistics.median(late) if late else float("nan"),
        drift_p99=percentile[98] if len(late) > 1 else (late[0] if late else float("nan")),
        drift_max=max(late) if late else float("nan"),
    )


def main(argv: list[str] | None = None) -> Figures:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beneficiaries", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=500, help="check-in jobs per worker run")
    parser.add_argument("--drift-jobs", type=int, default=200)
    parser.add_argument("--drift-seconds", type=float, default=30.0)
    parser.add_argument("--database-url", default=os.environ.get("AMPARO_BENCH_DATABASE_URL"))
    args = parser.parse_args(argv)
    figures = run(
        args.beneficiaries, args.jobs, args.drift_jobs, args.drift_seconds, args.database_url
    )
    for line in figures.lines():
        print(line)
    return figures


if __name__ == "__main__":
    if __package__ in (None, ""):
        # Run as a file, bench/ would shadow the checkins package: use the repository root.
        sys.path[0] = str(ROOT)
    main()
