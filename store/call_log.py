"""The durable, append-only event log of each call, and of each ladder about no call.

An event is committed before the edge answers (persist before acknowledging). A retried webhook
or job carries the same idempotency key and lands once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.base import new_id
from store.records import Call, CallEvent

_MAX_RACE_RETRIES = 5

log = logging.getLogger(__name__)


def _is_call_id(subject: str) -> bool:
    """A call's id, not another subject's (``alarm:<id>``, ``prox:...``, ``checkin:...``)."""
    return ":" not in subject


class CallLog:
    """Appends events to calls; safe with many processes writing the same call."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def append(
        self,
        call_id: str,
        kind: str,
        data: dict[str, Any] | None = None,
        at: float | None = None,
        idempotency_key: str | None = None,
    ) -> CallEvent | None:
        """Append one event; return it, or None when ``idempotency_key`` was already used."""
        when = datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)
        for _ in range(_MAX_RACE_RETRIES):
            with self._sessions() as session:
                if idempotency_key is not None and session.scalar(
                    select(CallEvent.id).where(CallEvent.idempotency_key == idempotency_key)
                ):
                    return None
                last = session.scalar(
                    select(func.max(CallEvent.seq)).where(CallEvent.call_id == call_id)
                )
                if last is None and _is_call_id(call_id) and session.get(Call, call_id) is None:
                    log.warning("event %s for unknown call %s not logged", kind, call_id)
                    return None
                seq = (last or 0) + 1
                event = CallEvent(
                    call_id=call_id,
                    seq=seq,
                    at=when,
                    kind=kind,
                    data=data or {},
                    idempotency_key=idempotency_key,
                )
                session.add(event)
                try:
                    session.commit()
                except IntegrityError:
                    # Another process took this seq (or this idempotency key): look again.
                    session.rollback()
                    continue
                return event
        raise RuntimeError("could not append call event after concurrent retries")

    def events(self, call_id: str) -> list[CallEvent]:
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.seq)
                )
            )

    def ensure_call(self, call: Call) -> Call:
        """Insert ``call`` unless a call with its id already exists; return the stored one."""
        if call.id is None:
            call.id = new_id()
        with self._sessions() as session:
            existing = session.get(Call, call.id)
            if existing is not None:
                return existing
            session.add(call)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                stored = session.get(Call, call.id)
                if stored is None:
                    raise
                return stored
            return call
