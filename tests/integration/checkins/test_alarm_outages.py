"""An alarm stored while Redis is down starts its ladder within 10 s of Redis coming back,
with no restart: a real ``amparo worker`` process on a Redis of the test's own, stopped and
started again empty (as after a crash without persistence)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from app import create_app
from routing.views import open_escalations
from runtime import Runtime, build_runtime
from settings import Settings
from store.alarms import DeviceAlarm
from store.live_state import job_queue, key
from store.models import Device
from tests.harness.hotline import Hotline
from tests.harness.services import RedisProcess
from tests.integration.checkins.helpers import alarm_body, signed_headers

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
LADDER_BOUND_S = 10.0


@pytest.fixture
def outage_runtime(
    settings: Settings, hotline: Hotline, redis_process: RedisProcess
) -> Iterator[Runtime]:
    built = build_runtime(settings.with_overrides(redis_url=redis_process.url))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def spawn_worker(
    settings: Settings, redis_process: RedisProcess, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start ``amparo worker`` processes on the test's Redis (killed, with their work horses,
    at the end whatever happened)."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn() -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.update(
            {
                "AMPARO_DATA_DIR": str(tmp_path / f"worker{len(started)}"),
                "AMPARO_DATABASE_URL": settings.database_url,
                "AMPARO_REDIS_URL": redis_process.url,
                "AMPARO_DATA_KEY": base64.urlsafe_b64encode(settings.data_key).decode(),
                "AMPARO_SECRET_KEY": "s" * 40,
                "AMPARO_SIMULATOR": "on",
                "AMPARO_LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
            }
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"], cwd=ROOT, env=env, start_new_session=True
        )
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture
def worker(spawn_worker: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    return spawn_worker()


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``condition()`` held (fails after ``seconds``)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if condition():
                return time.monotonic() - started
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s")


def test_an_alarm_stored_while_redis_is_down_rings_within_10_s_of_redis_coming_back(
    outage_runtime: Runtime,
    hotline: Hotline,
    redis_process: RedisProcess,
    worker: subprocess.Popen[bytes],
) -> None:
    runtime = outage_runtime
    client: FlaskClient = create_app(runtime=runtime).test_client()
    with runtime.sessions() as db:
        device = db.get(Device, hotline.device_id)
        assert device is not None
        serial = device.serial
    lease = key("lease", "timekeeper")
    wait_for(lambda: bool(runtime.redis.exists(lease)), 60)  # the worker is up and leading

    redis_process.stop()
    body = alarm_body(f"OUT-{time.time_ns()}", serial)
    answer = client.post(
        "/api/devices/alarm", data=body, headers=signed_headers(serial, hotline.device_secret, body)
    )
    assert answer.status_code == 202  # stored: persist before acknowledging
    with runtime.sessions() as db:
        alarm = db.scalars(
            select(DeviceAlarm).where(DeviceAlarm.external_id == body_alarm_id(body))
        ).one()
    assert alarm.escalated_at is None  # the request could not start the ladder
    time.sleep(2)  # the worker meets the outage
    assert worker.poll() is None

    redis_process.start()  # the same port, with none of its data
    escalation_id = f"alarm:{alarm.id}"

    def ringing() -> bool:
        now = time.time()
        return any(e.escalation_id == escalation_id for e in open_escalations(runtime.redis, now))

    took = wait_for(ringing, LADDER_BOUND_S)
    print(f"ladder started {took:.1f} s after Redis came back")

    def recorded() -> bool:
        with runtime.sessions() as db:
            stored = db.get(DeviceAlarm, alarm.id)
            return stored is not None and stored.escalated_at is not None

    wait_for(recorded, 10)

    def planned_again() -> bool:
        scheduled = job_queue(runtime.jobs, "maintenance").scheduled_job_registry.get_job_ids()
        return any(job_id.startswith("checkins-plan-") for job_id in scheduled) and any(
            job_id.startswith("recordings-purge-") for job_id in scheduled
        )

    wait_for(planned_again, 30)  # the periodic schedule came back by itself
    assert worker.poll() is None


def body_alarm_id(body: bytes) -> str:
    return str(json.loads(body)["alarm_id"])


def test_when_the_worker_running_the_timers_is_killed_another_sweeps_the_alarms(
    outage_runtime: Runtime,
    hotline: Hotline,
    spawn_worker: Callable[[], subprocess.Popen[bytes]],
) -> None:
    runtime = outage_runtime
    workers = {process.pid: process for process in (spawn_worker(), spawn_worker())}
    lease = key("lease", "timekeeper")
    wait_for(lambda: bool(runtime.redis.exists(lease)), 60)
    leader_pid = int(str(runtime.redis.get(lease)).split(":")[1])
    os.killpg(leader_pid, signal.SIGKILL)
    workers.pop(leader_pid).wait(10)
    [standby] = workers.values()

    context = runtime.checkins
    working = context.alerts
    context.alerts = RedisRefuses()  # the request cannot start the ladder
    try:
        with runtime.sessions() as db:
            device = db.get(Device, hotline.device_id)
            assert device is not None
            serial = device.serial
        client = create_app(runtime=runtime).test_client()
        body = alarm_body(f"KILL-{time.time_ns()}", serial)
        answer = client.post(
            "/api/devices/alarm",
            data=body,
            headers=signed_headers(serial, hotline.device_secret, body),
        )
        assert answer.status_code == 202
    finally:
        context.alerts = working
    stored_at = time.monotonic()
    with runtime.sessions() as db:
        alarm_id = db.scalars(
            select(DeviceAlarm.id).where(DeviceAlarm.external_id == body_alarm_id(body))
        ).one()

    def ringing() -> bool:
        now = time.time()
        return any(
            e.escalation_id == f"alarm:{alarm_id}" for e in open_escalations(runtime.redis, now)
        )

    # The standby takes the lease once it runs out (5 s), then sweeps alarms older than 3 s.
    wait_for(ringing, LADDER_BOUND_S + 5)
    print(f"ladder started {time.monotonic() - stored_at:.1f} s after the alarm, leader dead")
    assert int(str(runtime.redis.get(lease)).split(":")[1]) == standby.pid


class RedisRefuses:
    def escalate(self, *_args: Any, **_kwargs: Any) -> Any:
        raise redis.ConnectionError("redis down (test)")

    def notify_supervisors(self, *_args: Any) -> None:
        raise redis.ConnectionError("redis down (test)")
