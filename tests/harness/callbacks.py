"""Callback tasks left open by an earlier test share the session's database with the next one
(and every line's queues are routing's): each callback test starts and ends with none open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from store.callbacks import OPEN_STATUSES, Callback, CallbackStatus


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
