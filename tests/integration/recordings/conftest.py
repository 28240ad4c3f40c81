"""Fixtures for recordings: a call factory, the archive on the test database, and the app with
the recordings blueprint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from app import build_runtime, create_app
from recordings_policy.assembly import RecordingParts, assemble
from recordings_policy.http import recordings_blueprint
from settings import Settings
from tests.integration.recordings.recording_helpers import CallFactory


@pytest.fixture
def make_call(db_sessions: sessionmaker[Session]) -> CallFactory:
    return CallFactory(db_sessions)


@pytest.fixture
def parts(
    settings: Settings,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    data_key: bytes,
) -> RecordingParts:
    return assemble(settings.data_dir, db_sessions, redis_client, data_key)


@pytest.fixture
def recordings_app(
    settings: Settings, redis_client: redis.Redis
) -> Iterator[tuple[Flask, RecordingParts]]:
    """The real app with the recordings blueprint: as app.py wires it (``runtime.extras``), or
    registered here the same way while app.py does not yet."""
    runtime = build_runtime(settings)
    app = create_app(runtime=runtime)
    parts = runtime.extras.get("recordings")
    if parts is None:
        parts = assemble(settings.data_dir, runtime.sessions, runtime.redis, settings.data_key)
        app.register_blueprint(recordings_blueprint(parts.archive, parts.access, parts.tokens))
    try:
        yield app, parts
    finally:
        runtime.close()
