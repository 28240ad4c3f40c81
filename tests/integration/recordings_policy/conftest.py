"""Fixtures for recordings: a call factory, the archive on the test database, and the app with
the recordings blueprint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from recordings_policy.parts import RecordingParts
from runtime import build_runtime
from settings import Settings
from tests.integration.recordings_policy.recording_helpers import CallFactory


@pytest.fixture
def make_call(db_sessions: sessionmaker[Session]) -> CallFactory:
    return CallFactory(db_sessions)


@pytest.fixture
def parts(settings: Settings, redis_client: redis.Redis) -> Iterator[RecordingParts]:
    """The recording parts as the composition root builds them, on the test database."""
    runtime = build_runtime(settings)
    try:
        yield runtime.recordings
    finally:
        runtime.close()


@pytest.fixture
def recordings_app(
    settings: Settings, redis_client: redis.Redis
) -> Iterator[tuple[Flask, RecordingParts]]:
    """The real app, with the recordings blueprint as app.py wires it."""
    runtime = build_runtime(settings)
    app = create_app(runtime=runtime)
    parts = runtime.recordings
    try:
        yield app, parts
    finally:
        runtime.close()
