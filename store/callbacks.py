"""Callback tasks: a caller to phone back (she abandoned the queue from a safe number, or asked
to be called back), worked by agents through routing and dialled from the console.

The number is kept encrypted, and only for as long as the task is open; it never reaches
routing, a job or a log line (routing and the console know the task by its call ids).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Encrypted, UTCDateTime, new_id, utcnow


class CallbackStatus(StrEnum):
    PENDING = "pending"  # waiting for its due time (and her safe window)
    ROUTED = "routed"  # an attempt waits in routing for an agent
    DIALING = "dialing"  # an agent took it; her phone is ringing
    REACHED = "reached"  # she answered and was put through to the agent
    FAILED = "failed"  # every try was used up without reaching her


OPEN_STATUSES = frozenset({CallbackStatus.PENDING, CallbackStatus.ROUTED, CallbackStatus.DIALING})


class Callback(Base):
    __tablename__ = "callbacks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    source_call_id: Mapped[str] = mapped_column(String(32), unique=True)
    """The call she left (or asked from): one task per call, however often it is reported."""
    reason: Mapped[str] = mapped_column(String(16))
    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id"))
    beneficiary_id: Mapped[str | None] = mapped_column(
        ForeignKey("beneficiaries.id"), nullable=True
    )
    number: Mapped[str | None] = mapped_column(Encrypted("callback.number"), nullable=True)
    queue: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    risk_level: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempt_call_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    """The current attempt's call (routing's task, then the call that rings her)."""
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The last attempt's outcome: answered, no_answer, machine, outside_window, expired."""
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    dialled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
