from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from runtime import Runtime, build_runtime
from settings import Settings
from tests.harness.hotline import Hotline, make_hotline


@pytest.fixture
def hotline(db_sessions: sessionmaker[Session]) -> Hotline:
    return make_hotline(db_sessions)


@pytest.fixture
def runtime(settings: Settings, hotline: Hotline, redis_client: redis.Redis) -> Iterator[Runtime]:
    """A runtime whose router knows the hotline (built after it exists)."""
    built = build_runtime(settings)
    try:
        yield built
    finally:
        built.close()
