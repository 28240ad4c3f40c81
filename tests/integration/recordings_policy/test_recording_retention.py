"""Retention: the purge deletes what is due, keeps what is held, leaves tombstones and an audit
trail, and runs on rq's scheduler."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from rq.serializers import JSONSerializer
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from recordings_policy import jobs
from recordings_policy.errors import AccessDenied, ReasonRequired, RecordingPurged
from recordings_policy.parts import RecordingParts
from settings import Settings
from store import live_state
from store.base import utcnow
from store.job_worker import JobWorker
from store.records import Recording
from tests.integration.recordings_policy.recording_helpers import (
    CallFactory,
    audit_trail,
    write_wav,
)


def _store(parts: RecordingParts, make_call: CallFactory, settings: Settings, days_ago: int) -> str:
    """A recording taken in ``days_ago`` days ago on an ES inbound line (90-day retention)."""
    source = settings.data_dir / "spool" / "r.wav"
    write_wav(source, seconds=1)
    return parts.archive.store_local_file(make_call(), source, utcnow() - timedelta(days=days_ago))


def _row(sessions: sessionmaker[Session], recording_id: str) -> Recording:
    with sessions() as db:
        row = db.get(Recording, recording_id)
        assert row is not None
        return row


def test_purge_deletes_due_recordings_keeps_held_and_young_ones(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
) -> None:
    due = _store(parts, make_call, settings, days_ago=91)
    held = _store(parts, make_call, settings, days_ago=91)
    young = _store(parts, make_call, settings, days_ago=10)
    parts.archive.place_hold(
        held, actor_id="sup-1", role="supervisor", reason="Court order 123/2026, Juzgado n.º 4"
    )
    due_ref = _row(db_sessions, due).storage_ref
    assert due_ref is not None

    report = parts.archive.purge_due(utcnow())

    assert due in report.purged and report.failed == 0
    assert held not in report.purged and young not in report.purged and report.held >= 1
    tombstone = _row(db_sessions, due)
    assert tombstone.deleted_at is not None
    assert tombstone.storage_ref is None and tombstone.wrapped_key is None
    assert tombstone.sha256 and tombstone.size_bytes
    assert not parts.archive.storage.exists(due_ref)
    for kept in (held, young):
        row = _row(db_sessions, kept)
        assert row.deleted_at is None and parts.archive.storage.exists(row.storage_ref or "")
    purge_entries = [e for e in audit_trail(db_sessions, due) if e.action == "recording_purged"]
    assert len(purge_entries) == 1 and purge_entries[0].actor_type == "system"

    again = parts.archive.purge_due(utcnow())
    assert again.purged == [] and again.held >= 1


def test_released_hold_lets_the_next_purge_delete_and_both_acts_are_audited(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
) -> None:
    recording_id = _store(parts, make_call, settings, days_ago=100)
    parts.archive.place_hold(
        recording_id, actor_id="sup-1", role="supervisor", reason="Evidence for hearing on 3 May"
    )
    assert _row(db_sessions, recording_id).hold_reason == "Evidence for hearing on 3 May"
    assert recording_id not in parts.archive.purge_due(utcnow()).purged
    parts.archive.release_hold(
        recording_id, actor_id="adm-1", role="admin", reason="Case closed, court notified"
    )
    assert recording_id in parts.archive.purge_due(utcnow()).purged

    trail = audit_trail(db_sessions, recording_id)
    assert [(e.action, e.actor_id, e.reason) for e in trail if e.actor_type == "agent"] == [
        ("recording_hold_placed", "sup-1", "Evidence for hearing on 3 May"),
        ("recording_hold_released", "adm-1", "Case closed, court notified"),
    ]
    with pytest.raises(RecordingPurged):
        parts.archive.place_hold(
            recording_id, actor_id="sup-1", role="supervisor", reason="Too late for this one"
        )


def test_agents_cannot_hold_and_a_hold_needs_a_reason(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
) -> None:
    recording_id = _store(parts, make_call, settings, days_ago=1)
    with pytest.raises(AccessDenied):
        parts.archive.place_hold(
            recording_id, actor_id="agent-1", role="agent", reason="I want to keep it forever"
        )
    with pytest.raises(ReasonRequired):
        parts.archive.place_hold(recording_id, actor_id="sup-1", role="supervisor", reason=" ok ")
    assert _row(db_sessions, recording_id).legal_hold is False
    denied = [e for e in audit_trail(db_sessions, recording_id) if e.action.endswith("denied")]
    assert [(e.actor_id, e.detail["attempted"]) for e in denied] == [
        ("agent-1", "recording_hold_placed")
    ]


def test_a_purge_that_fails_on_one_file_still_purges_the_others(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stuck = _store(parts, make_call, settings, days_ago=95)
    fine = _store(parts, make_call, settings, days_ago=95)
    stuck_ref = _row(db_sessions, stuck).storage_ref
    real_delete = parts.archive.storage.delete

    def delete(ref: str) -> None:
        if ref == stuck_ref:
            raise OSError("read-only file system")
        real_delete(ref)

    monkeypatch.setattr(parts.archive.storage, "delete", delete)
    report = parts.archive.purge_due(utcnow())
    assert fine in report.purged and stuck not in report.purged and report.failed == 1
    assert _row(db_sessions, stuck).deleted_at is None
    assert _row(db_sessions, stuck).wrapped_key is not None


@pytest.fixture
def jobs_connection(redis_client: redis.Redis, redis_url: str) -> Iterator[redis.Redis]:
    connection = live_state.connect(redis_url, decode_responses=False)
    try:
        yield connection
    finally:
        connection.close()


def test_the_purge_job_runs_on_a_real_rq_worker_and_schedules_its_next_run(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
    db_engine: Engine,
    jobs_connection: redis.Redis,
) -> None:
    due = _store(parts, make_call, settings, days_ago=120)
    held = _store(parts, make_call, settings, days_ago=120)
    parts.archive.place_hold(
        held, actor_id="sup-1", role="supervisor", reason="Police request ref. 2026-118"
    )
    jobs.install(jobs.RecordingJobContext(archive=parts.archive, engine=db_engine))
    queue = live_state.job_queue(jobs_connection, jobs.PURGE_QUEUE)
    job = queue.enqueue(jobs.purge_due)

    JobWorker([queue], connection=jobs_connection, serializer=JSONSerializer).work(burst=True)

    finished = queue.fetch_job(job.id)
    assert finished is not None and finished.get_status() == "finished"
    counts = finished.return_value()
    assert counts is not None
    assert counts["purged"] >= 1 and counts["held"] >= 1 and counts["failed"] == 0
    assert _row(db_sessions, due).deleted_at is not None
    assert _row(db_sessions, held).deleted_at is None
    scheduled = queue.scheduled_job_registry.get_job_ids()
    assert len(scheduled) == 1 and scheduled[0].startswith("recordings-purge-")


def test_the_purge_is_scheduled_once_per_slot_however_many_workers_start(
    jobs_connection: redis.Redis,
) -> None:
    now = datetime(2026, 3, 1, 10, 17, tzinfo=UTC)
    first = jobs.schedule_purge(jobs_connection, now=now)
    assert first == "recordings-purge-20260301T110000"
    assert jobs.schedule_purge(jobs_connection, now=now + timedelta(minutes=5)) is None
    queue = live_state.job_queue(jobs_connection, jobs.PURGE_QUEUE)
    assert queue.scheduled_job_registry.get_job_ids() == [first]
    assert jobs.next_purge_slot(now, timedelta(days=1)) == datetime(2026, 3, 2, tzinfo=UTC)


class _FakeTwilio:
    """A Twilio stand-in that only notes deletions (the real adapter is tested against Prism)."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def download(self, recording_sid: str, directory: Path) -> Path:
        raise AssertionError("a purge never downloads")

    def delete(self, recording_sid: str) -> None:
        self.deleted.append(recording_sid)


def test_purge_also_deletes_a_copy_still_held_by_twilio(
    parts: RecordingParts, make_call: CallFactory, db_sessions: sessionmaker[Session]
) -> None:
    sid = "RE" + "7" * 32
    recording_id = parts.archive.accept_twilio_recording(
        make_call(), sid, utcnow() - timedelta(days=91)
    )
    twilio = _FakeTwilio()
    report = parts.archive.purge_due(utcnow(), twilio)
    assert recording_id in report.purged and twilio.deleted == [sid]
    row = _row(db_sessions, recording_id)
    assert row.deleted_at is not None and row.source_deleted_at is not None


def test_racing_deliveries_of_one_twilio_callback_register_one_recording(
    parts: RecordingParts, make_call: CallFactory, db_sessions: sessionmaker[Session]
) -> None:
    call_id, sid = make_call(), "RE" + secrets.token_hex(16)
    start = threading.Barrier(4)

    def deliver() -> str:
        start.wait()
        return parts.archive.accept_twilio_recording(call_id, sid, utcnow())

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(lambda _: deliver(), range(4)))
    assert len(set(ids)) == 1
    with db_sessions() as db:
        assert db.scalar(select(func.count()).where(Recording.external_id == sid)) == 1
