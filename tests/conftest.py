"""Shared fixtures: real Redis and a real database for every test that needs them.

With ``AMPARO_TEST_REDIS_URL`` / ``AMPARO_TEST_DATABASE_URL`` set (``.ci/run`` sets them) the
tests use that Redis and PostgreSQL; otherwise an embedded redis-server and SQLite, and the run
says so in its header.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from settings import Settings, load_settings
from store import crypto, database, migrate
from store.base import Base
from store.embedded_redis import EmbeddedRedis
from tests.harness.services import RedisProcess, fresh_database

TEST_REDIS_URL = os.environ.get("AMPARO_TEST_REDIS_URL") or None
TEST_DATABASE_URL = os.environ.get("AMPARO_TEST_DATABASE_URL") or None


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    if TEST_DATABASE_URL:
        lines.append("amparo: database = PostgreSQL from AMPARO_TEST_DATABASE_URL")
    else:
        lines.append(
            "amparo: database = SQLite (AMPARO_TEST_DATABASE_URL not set: "
            "PostgreSQL-only checks are skipped)"
        )
    if TEST_REDIS_URL:
        lines.append("amparo: redis = external server from AMPARO_TEST_REDIS_URL")
    else:
        lines.append("amparo: redis = embedded redis-server (AMPARO_TEST_REDIS_URL not set)")
    return lines


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the Redis the tests share (external in CI, embedded otherwise)."""
    if TEST_REDIS_URL:
        yield TEST_REDIS_URL
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A decoded client on a Redis database flushed before and after the test."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of the test's own, which the test may stop and restart."""
    server = RedisProcess(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a database created empty for this test session."""
    with fresh_database(TEST_DATABASE_URL, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def on_postgresql() -> bool:
    return TEST_DATABASE_URL is not None


@pytest.fixture(scope="session")
def data_key() -> bytes:
    """The data key of this test session; field encryption is configured with it."""
    key = os.urandom(32)
    crypto.configure(crypto.cipher_from_keys(key))
    return key


@pytest.fixture(scope="session")
def db_engine(database_url: str, data_key: bytes) -> Iterator[Engine]:
    """An engine on the session's database, migrated to head."""
    engine = database.make_engine(database_url)
    migrate.upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def empty_database(db_engine: Engine) -> None:
    """Empty every table of the session's database before the test.

    Tests share one database per session; a test whose assertions read the whole database (a
    sweep's count, a routing rebuild, a full export) asks for this first, so that what earlier
    tests left behind cannot change its result. Put it before the fixtures that add rows.
    """
    with db_engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def db_sessions(db_engine: Engine) -> sessionmaker[Session]:
    return database.session_factory(db_engine)


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, redis_url: str, data_key: bytes, db_engine: Engine
) -> Settings:
    """Settings for an app on the session's database and Redis, with its own data dir."""
    base = load_settings({"AMPARO_DATA_DIR": str(tmp_path / "data")})
    return base.with_overrides(
        database_url=database_url, redis_url=redis_url, data_key=data_key, simulator_enabled=True
    )
