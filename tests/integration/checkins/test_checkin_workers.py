"""Real rq workers in their own processes: no beneficiary is ever called twice, with two
workers racing and with a worker killed in the middle of a job."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import select

from checkins import planner
from checkins.context import CheckinContext
from runtime import Runtime
from settings import Settings
from store.clock import ManualClock
from store.credentials import hash_secret
from store.live_state import job_queue
from store.models import Beneficiary, BeneficiaryPhone
from store.phone_numbers import lookup_hash
from store.records import Call, CheckinAttempt
from store.vocabulary import RiskLevel
from tests.harness.hotline import Hotline
from tests.integration.checkins.calls import ALL_DAY
from tests.integration.checkins.helpers import add_plan, deactivate_other_plans, release_due
from tests.integration.checkins.worker_main import BLOCKED_KEY, CLOCK_KEY, DIALS_KEY

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def only_this_tests_plans(ctx: CheckinContext) -> None:
    """The workers plan with a clock a week ahead: earlier tests' plans in the session's
    database would all come due and keep a burst worker dialling for minutes."""
    deactivate_other_plans(ctx.sessions)


@pytest.fixture
def spawn(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, block: str = "") -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.update(
            {
                "AMPARO_DATA_DIR": str(tmp_path / f"worker{len(started)}"),
                "AMPARO_DATABASE_URL": settings.database_url,
                "AMPARO_REDIS_URL": str(settings.redis_url),
                "AMPARO_DATA_KEY": base64.urlsafe_b64encode(settings.data_key).decode(),
                "AMPARO_SECRET_KEY": "s" * 40,
                "AMPARO_OUTBOUND_CPS": "50",
                "AMPARO_SIMULATOR": "on",
                "AMPARO_LOG_LEVEL": "WARNING",
                "AMPARO_TEST_BLOCK": block,
                "AMPARO_CHECKIN_CALLER_ID": "+34910000099",
                "PYTHONPATH": str(ROOT),
            }
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.checkins.worker_main", *args],
            cwd=ROOT,
            env=env,
            start_new_session=True,  # its work horses share its process group
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def finish(process: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    """Wait for a burst worker to end; if it does not, its stacks and its work horse's go to
    stderr (the worker registers faulthandler on SIGUSR1) before the test fails."""
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        for pid in [process.pid, *children(process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
        time.sleep(2)
        raise


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(item) for item in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def freeze(runtime: Runtime, clock: ManualClock) -> None:
    runtime.redis.set(CLOCK_KEY, str(clock.now().timestamp()))


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def dials(runtime: Runtime) -> list[str]:
    return [str(item).split("|")[0] for item in runtime.redis.lrange(DIALS_KEY, 0, -1)]


def more_beneficiaries(
    ctx: CheckinContext, hotline: Hotline, clock: ManualClock, count: int
) -> list[str]:
    ids = []
    with ctx.sessions() as db, db.begin():
        for index in range(count):
            number = f"+3466{index:07d}"
            person = Beneficiary(
                reference=f"W-{hotline.beneficiary_id[:6]}-{index}",
                full_name="Worker Test",
                preferred_locale="es",
                timezone="Europe/Madrid",
                risk_level=RiskLevel.ALTO,
                line_id=hotline.line_id,
                safe_call_windows=ALL_DAY,
                pin_hash=hash_secret("2468"),
            )
            person.phones.append(BeneficiaryPhone(number=number, number_hash=lookup_hash(number)))
            db.add(person)
            db.flush()
            ids.append(person.id)
    for beneficiary_id in ids:
        add_plan(ctx.sessions, beneficiary_id, clock.now())
    return ids


def test_two_workers_racing_call_each_beneficiary_exactly_once(
    runtime: Runtime,
    ctx: CheckinContext,
    clock: ManualClock,
    hotline: Hotline,
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    freeze(runtime, clock)
    people = more_beneficiaries(ctx, hotline, clock, 8)
    queue = job_queue(ctx.jobs, "maintenance")
    for run in range(3):  # three planner runs at once (a restart, a second machine...)
        queue.enqueue("checkins.jobs.plan_checkins", job_id=f"test-plan-{run}")
    spawn()
    spawn()

    def all_dialed() -> bool:
        with ctx.sessions() as db:
            rows = db.scalars(
                select(CheckinAttempt).where(CheckinAttempt.beneficiary_id.in_(people))
            ).all()
        return len(rows) == len(people) and all(row.dialed_at is not None for row in rows)

    wait_for(all_dialed)
    time.sleep(1.0)  # anything still running would show up now
    placed = dials(runtime)
    assert len(placed) == len(set(placed)) == len(people)
    shown = {str(item).split("|")[1] for item in runtime.redis.lrange(DIALS_KEY, 0, -1)}
    assert shown == {"+34910000099"}  # the neutral caller id, never the hotline's number
    with ctx.sessions() as db:
        called = db.scalars(select(Call.beneficiary_id).where(Call.id.in_(placed))).all()
    assert sorted(str(item) for item in called) == sorted(people)


def kill_mid_job(
    runtime: Runtime,
    ctx: CheckinContext,
    clock: ManualClock,
    hotline: Hotline,
    spawn: Callable[..., subprocess.Popen[bytes]],
    where: str,
) -> CheckinAttempt:
    """Worker A blocks at ``where`` in the attempt's job and is SIGKILLed; rq's maintenance
    finds the job abandoned and retries it; worker B runs the retry after the claim's lease."""
    freeze(runtime, clock)
    add_plan(ctx.sessions, hotline.beneficiary_id, clock.now(), safe_call_windows=ALL_DAY)
    planner.plan_due(ctx)
    doomed = spawn(block=where)
    wait_for(lambda: runtime.redis.llen(BLOCKED_KEY) > 0)
    os.killpg(doomed.pid, signal.SIGKILL)
    # rq's work horse calls setpgrp: it is outside the worker's group, and is killed by its pid
    # (which it wrote when it blocked), as a dead machine would take it too.
    for entry in runtime.redis.lrange(BLOCKED_KEY, 0, -1):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(str(entry).rsplit(":", 1)[1]), signal.SIGKILL)
    doomed.wait(10)
    registry = StartedJobRegistry("checkins", connection=ctx.jobs, serializer=JSONSerializer)
    registry.cleanup(timestamp=time.time() + 86400)  # what rq's maintenance does, later
    clock.advance(ctx.claim_lease + timedelta(seconds=1))
    freeze(runtime, clock)
    assert release_due(ctx.jobs, clock.now()) >= 1  # the retry, with its back-off
    finish(spawn("--burst"))
    with ctx.sessions() as db:
        attempt = db.scalar(
            select(CheckinAttempt)
            .where(CheckinAttempt.beneficiary_id == hotline.beneficiary_id)
            .order_by(CheckinAttempt.attempt_no)
            .limit(1)
        )
    assert attempt is not None
    return attempt


def test_a_worker_killed_after_claiming_but_before_dialing_is_retried_and_dials_once(
    runtime: Runtime,
    ctx: CheckinContext,
    clock: ManualClock,
    hotline: Hotline,
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    attempt = kill_mid_job(runtime, ctx, clock, hotline, spawn, "open")
    assert dials(runtime) == [attempt.call_id]
    assert attempt.dialed_at is not None


def test_a_worker_killed_after_the_phone_rang_is_retried_without_calling_again(
    runtime: Runtime,
    ctx: CheckinContext,
    clock: ManualClock,
    hotline: Hotline,
    spawn: Callable[..., subprocess.Popen[bytes]],
) -> None:
    attempt = kill_mid_job(runtime, ctx, clock, hotline, spawn, "dial")
    assert dials(runtime) == [attempt.call_id]
    # Her phone rang while the worker died; the ring timeout (45 s) has long passed by the
    # time the retry ran, so the retry only stopped the ringing and the ladder went on.
    with ctx.sessions() as db:
        rows = db.scalars(
            select(CheckinAttempt)
            .where(CheckinAttempt.beneficiary_id == hotline.beneficiary_id)
            .order_by(CheckinAttempt.attempt_no)
        ).all()
    assert [row.outcome for row in rows] == ["no_answer", None]
    assert rows[0].started_at is not None
    assert rows[1].scheduled_at == rows[0].started_at + timedelta(hours=1)  # medio ladder
    assert attempt.call_id not in runtime.simulator.ringing()
    clock.set(rows[1].scheduled_at)
    freeze(runtime, clock)
    release_due(ctx.jobs, clock.now())
    finish(spawn("--burst"))
    assert len(dials(runtime)) == 2  # the ladder's second attempt, once
