"""When a callback task may ring her, and which tasks supervisors must see."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from checkins.windows import InvalidWindow, is_inside, next_safe_moment, parse_windows, zone
from store.callbacks import OPEN_STATUSES, Callback, CallbackStatus
from store.models import Beneficiary

log = logging.getLogger(__name__)

OVERDUE_AFTER = timedelta(minutes=15)
FAILED_SHOWN_FOR = timedelta(days=1)
AGENT_PLACED = "agent"
"""Reason of a task that is a call an agent placed from her console (``calls.placed_calls``)."""


def _when(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def next_safe(db: Session, callback: Callback, now: float) -> datetime | None:
    """Now, when calling her now is safe; else the next safe moment (None: none soon, none on
    her file, or unreadable: as for check-ins, a registered woman is only called inside a
    window; the task stays due and shows as overdue to supervisors). A caller with no file
    asked for the call from the number she is called on: any time."""
    at = _when(now)
    owner = db.get(Beneficiary, callback.beneficiary_id) if callback.beneficiary_id else None
    if owner is None:
        return at
    if not owner.safe_call_windows:
        return None
    try:
        windows, tz = parse_windows(owner.safe_call_windows), zone(owner.timezone)
    except InvalidWindow:
        log.error("callback %s: her safe windows are unreadable; not called", callback.id)
        return None
    return at if is_inside(windows, tz, at) else next_safe_moment(windows, tz, at)


def overdue(sessions: sessionmaker[Session], now: float, limit: int = 50) -> list[dict[str, Any]]:
    """Open tasks due for longer than ``OVERDUE_AFTER``, and those failed in the last day:
    ids, line, risk, tries and how late (no personal data). A call an agent placed herself
    is no promise to a woman: it is never listed."""
    late = _when(now) - OVERDUE_AFTER
    still_open = Callback.status.in_([status.value for status in OPEN_STATUSES])
    failed = Callback.status == CallbackStatus.FAILED
    with sessions() as db:
        rows = list(
            db.scalars(
                select(Callback)
                .where(
                    (still_open & (Callback.due_at <= late))
                    | (failed & (Callback.closed_at >= _when(now) - FAILED_SHOWN_FOR))
                )
                .where(Callback.reason != AGENT_PLACED)
                .order_by(Callback.due_at)
                .limit(limit)
            )
        )
        return [
            {
                "callback_id": row.id,
                "call_id": row.source_call_id,
                "line_id": row.line_id,
                "risk": row.risk_level,
                "status": row.status,
                "attempts": row.attempts,
                "outcome": row.outcome,
                "late_s": max(0, round(now - row.due_at.timestamp())),
            }
            for row in rows
        ]
