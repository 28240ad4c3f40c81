"""The operations page: supervisors and admins see queues and dead letters; failed jobs come
back with back-off, end in the failed registry, and can be run again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from rq.job import Job
from rq.serializers import JSONSerializer

from app import create_app
from checkins import planner
from checkins.context import CheckinContext
from checkins.scheduling import RETRY_INTERVALS
from runtime import Runtime
from store.clock import ManualClock
from store.live_state import job_queue
from tests.harness.hotline import Hotline
from tests.harness.signin import sign_in
from tests.integration.checkins.calls import ALL_DAY
from tests.integration.checkins.helpers import add_plan, drain, release_due, run_burst


class BrokenBucket:
    interval_s = 1.0

    def reserve(self, *_args: Any) -> Any:
        raise ConnectionError("rate limit store unavailable (test)")


@pytest.fixture
def client(runtime: Runtime, ctx: CheckinContext) -> FlaskClient:
    return create_app(runtime=runtime).test_client()


def test_only_supervisors_and_admins_see_the_operations_page(
    client: FlaskClient, ctx: CheckinContext, hotline: Hotline
) -> None:
    assert client.get("/operations").status_code == 302  # to the sign-in page
    sign_in(client, ctx.sessions, hotline.agents["ana"])
    assert client.get("/operations").status_code == 403
    assert client.get("/operations/api").status_code == 403
    sign_in(client, ctx.sessions, hotline.agents["boss"])
    page = client.get("/operations")
    assert page.status_code == 200 and b"checkins" in page.data
    overview = client.get("/operations/api").get_json()
    assert {queue["name"] for queue in overview["queues"]} == {
        "urgent",
        "default",
        "checkins",
        "maintenance",
    }


def test_a_failing_job_retries_with_back_off_then_is_a_visible_dead_letter_to_run_again(
    client: FlaskClient, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    add_plan(ctx.sessions, hotline.beneficiary_id, clock.now(), safe_call_windows=ALL_DAY)
    planner.plan_due(ctx)
    working = ctx.rate_limit
    ctx.rate_limit = BrokenBucket()  # type: ignore[assignment]
    queue = job_queue(ctx.jobs, "checkins")
    [job_id] = queue.job_ids
    run_burst(ctx.jobs)
    scheduled = queue.scheduled_job_registry
    assert job_id in scheduled.get_job_ids()  # back off, not lost
    wait = scheduled.get_scheduled_time(job_id) - datetime.now(UTC)
    assert 0 < wait.total_seconds() <= RETRY_INTERVALS[0] + 1
    drain(ctx.jobs, clock)  # every retry fails too
    failed = queue.failed_job_registry
    assert failed.get_job_ids() == [job_id]
    job = Job.fetch(job_id, connection=ctx.jobs, serializer=JSONSerializer)
    assert job.retries_left == 0 or job.retries_left is None
    token = sign_in(client, ctx.sessions, hotline.agents["boss"])
    [dead] = client.get("/operations/api").get_json()["failed"]
    assert dead["job_id"] == job_id and dead["function"] == "run_attempt"
    assert "rate limit store unavailable" in dead["reason"]
    page = client.get("/operations").data
    assert job_id.encode() in page
    requeue = f"/operations/failed/checkins/{job_id}/requeue"
    assert client.post(requeue).status_code == 400  # no CSRF token
    ctx.rate_limit = working
    assert client.post(requeue, data={"csrf_token": token}).status_code == 302
    assert failed.get_job_ids() == []
    release_due(ctx.jobs, clock.now())
    run_burst(ctx.jobs)
    assert Job.fetch(job_id, connection=ctx.jobs, serializer=JSONSerializer).get_status() == (
        "finished"
    )
