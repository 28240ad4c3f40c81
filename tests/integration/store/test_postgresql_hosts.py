"""PostgreSQL with a standby: ``AMPARO_DATABASE_URL`` lists both hosts with
``target_session_attrs=read-write``, and every process writes to whichever one is the primary,
also after a failover (two clusters of the test's own, the "standby" being one whose sessions
are read-only, as a hot standby's are)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from settings import load_settings
from store import database, migrate
from tests.harness.postgres import PostgresCluster, postgres_bin

pytestmark = pytest.mark.slow


@pytest.fixture
def clusters() -> Iterator[tuple[PostgresCluster, PostgresCluster]]:
    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin) in CI")
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    made: list[PostgresCluster] = []
    try:
        for _ in range(2):
            made.append(PostgresCluster().create())
            made[-1].create_database("amparo")
        yield made[0], made[1]
    finally:
        for cluster in made:
            cluster.destroy()


def read_only(cluster: PostgresCluster, on: bool) -> None:
    admin = create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(f"ALTER SYSTEM SET default_transaction_read_only = {'on' if on else 'off'}")
        )
        conn.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()


def test_a_multi_host_url_writes_to_the_primary_before_and_after_a_failover(
    clusters: tuple[PostgresCluster, PostgresCluster], tmp_path: Path
) -> None:
    standby, primary = clusters
    read_only(standby, True)
    url = (
        "postgresql+psycopg://postgres@/amparo"
        f"?host=127.0.0.1:{standby.port}&host=127.0.0.1:{primary.port}"
        "&target_session_attrs=read-write"
    )
    settings = load_settings(
        {
            "AMPARO_DATA_DIR": str(tmp_path),
            "AMPARO_DATABASE_URL": url,
            "AMPARO_SECRET_KEY": "s" * 40,
            "AMPARO_DATA_KEY": "A" * 43 + "=",
        }
    )
    engine = database.make_engine(settings.database_url)
    migrate.upgrade(engine)  # written: so it reached the primary, listed second
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT current_setting('port')")) == str(primary.port)

    primary.stop()  # the primary dies; the standby is promoted
    read_only(standby, False)
    with engine.begin() as conn:  # the pool's dead connection is replaced, on the new primary
        assert conn.scalar(text("SELECT current_setting('port')")) == str(standby.port)
        conn.execute(text("CREATE TABLE after_failover (id int)"))
    engine.dispose()
