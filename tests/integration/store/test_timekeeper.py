"""The timekeeper: one worker of many runs the periodic work, another takes over when it dies,
and no failure (Redis down, a chore raising) ever stops it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq.job import Job
from rq.serializers import JSONSerializer

from store.lease import Lease
from store.live_state import job_queue, release_scheduled
from store.timekeeper import Chore, Timekeeper
from tests.harness.services import RedisProcess


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_lease_has_one_holder_until_it_runs_out_or_is_released(
    redis_client: redis.Redis,
) -> None:
    first = Lease(redis_client, "test", 300, holder="a")
    second = Lease(redis_client, "test", 300, holder="b")
    assert first.hold() and first.hold()  # taken, then renewed
    assert not second.hold()
    time.sleep(0.4)  # "a" died: nobody renewed it
    assert second.hold()
    assert not first.hold()
    assert not first.release()  # not ours any more: left alone
    assert second.release()
    assert first.hold()


def test_only_the_lease_holder_runs_the_chores_and_a_standby_takes_over_when_it_stops(
    redis_client: redis.Redis,
) -> None:
    runs: list[str] = []
    ticks = Ticks()

    def keeper(name: str) -> Timekeeper:
        lease = Lease(redis_client, "test-keeper", 3000, holder=name)
        return Timekeeper(lease, [Chore("sweep", 2.0, lambda: runs.append(name))], monotonic=ticks)

    leader, standby = keeper("leader"), keeper("standby")
    assert leader.tick() == ["sweep"] and standby.tick() == []
    ticks.now += 1
    assert leader.tick() == [] and standby.tick() == []  # not due yet
    ticks.now += 1
    assert leader.tick() == ["sweep"] and standby.tick() == []
    redis_client.delete(leader._lease.key)  # its lease ran out (the process died)
    assert standby.tick() == ["sweep"] and standby.leading
    assert leader.tick() == [] and not leader.leading
    assert runs == ["leader", "leader", "standby"]


def test_a_failing_chore_is_retried_every_tick_and_never_stops_the_others(
    redis_client: redis.Redis,
) -> None:
    ticks = Ticks()
    failing = {"left": 2}
    runs: list[str] = []

    def flaky() -> None:
        if failing["left"]:
            failing["left"] -= 1
            raise redis.ConnectionError("down (test)")
        runs.append("flaky")

    keeper = Timekeeper(
        Lease(redis_client, "test-keeper", 3000),
        [Chore("flaky", 60.0, flaky), Chore("steady", 60.0, lambda: runs.append("steady"))],
        monotonic=ticks,
    )
    assert keeper.tick() == ["steady"]
    ticks.now += 1
    assert keeper.tick() == []
    ticks.now += 1
    assert keeper.tick() == ["flaky"]
    assert runs == ["steady", "flaky"]


def test_the_timekeeper_outlives_a_redis_outage_and_leads_again_when_it_is_back(
    redis_process: RedisProcess,
) -> None:
    client = redis.Redis.from_url(redis_process.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    ran: list[float] = []
    keeper = Timekeeper(
        Lease(client, "timekeeper", 600), [Chore("mark", 0.1, lambda: ran.append(1))], tick_s=0.1
    ).start()
    try:
        _wait(lambda: keeper.leading and bool(ran))
        redis_process.stop()
        _wait(lambda: not keeper.leading)
        redis_process.start()  # the same port, with no data
        ran.clear()
        _wait(lambda: keeper.leading and bool(ran))
    finally:
        keeper.stop()
        client.close()


def test_due_scheduled_jobs_move_to_their_queue_and_later_ones_stay(
    redis_url: str, redis_client: redis.Redis
) -> None:
    jobs = redis.Redis.from_url(redis_url)
    queue = job_queue(jobs, "maintenance")
    now = datetime.now(UTC)
    queue.enqueue_at(now - timedelta(seconds=1), "checkins.jobs.plan_checkins", job_id="due")
    queue.enqueue_at(now + timedelta(hours=1), "checkins.jobs.plan_checkins", job_id="later")
    queue.scheduled_job_registry.schedule(
        Job.create(
            "checkins.jobs.plan_checkins", id="gone", connection=jobs, serializer=JSONSerializer
        ),
        now - timedelta(seconds=1),
    )
    assert release_scheduled(jobs, now.timestamp()) == 1
    assert queue.job_ids == ["due"]
    assert queue.scheduled_job_registry.get_job_ids() == ["later"]
    assert release_scheduled(jobs, now.timestamp()) == 0
    jobs.close()


def _wait(condition: object, seconds: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail("timed out waiting")
