"""The call journal: callers who call while the database is down reach the overflow, their calls
are journalled, and written to the database when it returns; no caller is missing from the
records, nothing is written twice. The database is a PostgreSQL cluster of the test's own,
stopped for 20 s mid-traffic."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from routing.state import routing_key
from runtime import Runtime, build_runtime
from settings import Settings
from store import database, migrate
from store.call_journal import JOURNAL_KEY, CallJournal
from store.records import Call, CallEvent
from store.vocabulary import CallRecordStatus
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import make_hotline, staff_line
from tests.harness.postgres import PostgresCluster, postgres_bin, wait_until
from tests.harness.services import RedisProcess

LOW_RISK = ("1", "1", "2", "2", "2", "2")
OUTAGE_S = 20.0


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    if postgres_bin() is None:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    created = PostgresCluster().create()
    try:
        yield created
    finally:
        created.destroy()


def _rows(sessions: sessionmaker[Session], call_ids: list[str]) -> dict[str, Call]:
    with sessions() as db:
        return {call.id: call for call in db.scalars(select(Call).where(Call.id.in_(call_ids)))}


def test_calls_during_a_20_s_database_outage_are_journalled_and_written_when_it_returns(
    cluster: PostgresCluster, settings: Settings, redis_client: redis.Redis
) -> None:
    url = cluster.create_database("amparo")
    engine = database.make_engine(url)
    migrate.upgrade(engine)
    sessions = database.session_factory(engine)
    hotline = make_hotline(sessions)
    runtime = build_runtime(settings.with_overrides(database_url=url))
    try:
        staff_line(runtime.router, hotline)  # on a break: callers wait for a human
        phones = runtime.simulator
        waiting = []
        for _ in range(2):
            call = phones.dial(hotline.line_number, "+34600000001")
            for digit in LOW_RISK:
                call = phones.press(call.call_id, digit)
            assert call.status is PhoneStatus.ON_HOLD
            waiting.append(call.call_id)

        cluster.stop()
        stopped_at = time.monotonic()
        during: list[str] = []
        while time.monotonic() - stopped_at < OUTAGE_S:
            call = phones.dial(hotline.line_number, f"+3460000{len(during):04d}")
            assert call.status is PhoneStatus.TRANSFERRED, "she reaches the overflow"
            during.append(call.call_id)
            if len(during) % 2:
                phones.hang_up(call.call_id)
            time.sleep(1.5)
        # A waiting caller's event fails (the overflow), the other hangs up.
        assert phones.press(waiting[0], "1").status is PhoneStatus.TRANSFERRED
        phones.hang_up(waiting[1])
        assert runtime.call_journal.pending() >= len(during)
        cluster.start()

        assert wait_until(lambda: _replayed(runtime), 30), "the journal is written"

        rows = _rows(sessions, [*waiting, *during])
        assert sorted(rows) == sorted([*waiting, *during]), "no caller missing from the records"
        for index, call_id in enumerate(during):
            assert rows[call_id].status == CallRecordStatus.OVERFLOWED
            assert (rows[call_id].ended_at is not None) == bool(index % 2 == 0)
            assert rows[call_id].caller_number == f"+3460000{index:04d}"
        assert rows[waiting[0]].status == CallRecordStatus.OVERFLOWED
        assert rows[waiting[1]].status == CallRecordStatus.ABANDONED
        assert rows[waiting[1]].ended_at is not None
        assert not redis_client.zrange(routing_key("waiting"), 0, -1), "nobody left waiting"
        assert redis_client.llen(JOURNAL_KEY) == 0

        assert runtime.journal_replay.run() == 0
        with sessions() as db:
            journalled = db.execute(
                select(CallEvent.call_id, func.count())
                .where(CallEvent.kind == "journalled")
                .group_by(CallEvent.call_id)
            ).all()
        assert {count for _, count in journalled} == {1}, "each written once"
        assert len(journalled) == len(during) + 1
    finally:
        runtime.close()
        engine.dispose()


def _replayed(runtime: Runtime) -> bool:
    try:
        runtime.journal_replay.run()
    except Exception:
        return False
    return runtime.call_journal.pending() == 0


def test_with_redis_down_too_entries_go_to_the_local_file_and_are_replayed_in_order(
    tmp_path: Path, redis_process: RedisProcess
) -> None:
    live = redis.Redis.from_url(redis_process.url, decode_responses=True, socket_timeout=0.5)
    journal = CallJournal(live, tmp_path / "journal")
    redis_process.stop()
    journal.write({"kind": "hangup", "call_id": "b", "at": 2.0})
    journal.write({"kind": "hangup", "call_id": "c", "at": 3.0})
    assert (tmp_path / "journal" / "calls.jsonl").read_text().count("\n") == 2
    redis_process.start()
    journal.write({"kind": "started", "call_id": "a", "at": 4.0})

    seen: list[str] = []
    assert journal.replay(lambda entry: seen.append(str(entry["call_id"]))) == 3
    assert seen == ["b", "c", "a"], "the file first (in order), then Redis"
    assert not (tmp_path / "journal" / "calls.jsonl").exists()

    def refuse(_entry: object) -> None:
        raise RuntimeError("database down")

    journal.write({"kind": "hangup", "call_id": "d", "at": 4.0})
    with pytest.raises(RuntimeError):
        journal.replay(refuse)
    assert journal.pending() == 1, "an entry not applied stays"
