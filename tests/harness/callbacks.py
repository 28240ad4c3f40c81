"""Callback tasks left open by an earlier test share the session's database with the next one
(and every line's queues are routing's): each callback test starts and ends with none open."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from store.callbacks import OPEN_STATUSES, Callback, CallbackStatus
from tests.harness.hotline import Hotline


def close_open_callbacks(sessions: sessionmaker[Session]) -> None:
    with sessions() as db, db.begin():
        db.execute(
            update(Callback)
            .where(Callback.status.in_([status.value for status in OPEN_STATUSES]))
            .values(status=CallbackStatus.FAILED, outcome="test_cleanup", number=None)
        )


@pytest.fixture(autouse=True)
def no_open_callbacks(db_sessions: sessionmaker[Session]) -> Iterator[None]:
    close_open_callbacks(db_sessions)
    yield
    close_open_callbacks(db_sessions)


def due_callback(sessions: sessionmaker[Session], hotline: Hotline, at: float) -> str:
    """A callback task owed to the hotline's registered woman (she abandoned the queue),
    due at ``at``; returns its id."""
    with sessions() as db, db.begin():
        task = Callback(
            source_call_id=f"due-{time.time_ns()}"[:32],
            reason="abandoned",
            line_id=hotline.line_id,
            beneficiary_id=hotline.beneficiary_id,
            number=hotline.beneficiary_number,
            queue=f"{hotline.line_id}.general",
            language="es",
            risk_level="medio",
            status=CallbackStatus.PENDING,
            attempts=0,
            created_at=datetime.fromtimestamp(at, UTC),
            due_at=datetime.fromtimestamp(at, UTC),
        )
        db.add(task)
        db.flush()
        return task.id
