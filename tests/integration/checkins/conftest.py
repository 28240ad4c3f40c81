"""Fixtures for check-ins, alarms and notifications: the hotline with a 60-second first tier,
a runtime whose check-in context runs on a test clock, and its jobs installed for burst
workers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from checkins import jobs
from checkins.context import CheckinContext
from runtime import Runtime
from settings import Settings
from store.clock import ManualClock
from store.models import Team
from tests.harness.hotline import Hotline, make_hotline, staffed_runtime
from tests.integration.checkins.helpers import deactivate_other_plans, future_monday


@pytest.fixture
def hotline(db_sessions: sessionmaker[Session]) -> Hotline:
    deactivate_other_plans(db_sessions)
    built = make_hotline(db_sessions)
    with db_sessions() as db, db.begin():
        team = db.get(Team, built.team_id)
        assert team is not None
        team.tier_delays_s = [60, 60]
    return built


@pytest.fixture
def clock() -> ManualClock:
    """Monday 10:00 UTC, at least a week ahead (11:00 in Madrid in winter, 12:00 in summer)."""
    return ManualClock(datetime.combine(future_monday(), time(10, 0), tzinfo=UTC))


@pytest.fixture
def runtime(settings: Settings, hotline: Hotline, redis_client: redis.Redis) -> Iterator[Runtime]:
    with staffed_runtime(settings.with_overrides(outbound_cps=50.0), hotline) as built:
        yield built


@pytest.fixture
def ctx(runtime: Runtime, clock: ManualClock) -> CheckinContext:
    context = runtime.checkins
    context.clock = clock
    jobs.install(context)
    return context
