"""Durable records of what happened: calls and their event logs, referrals, escalations,
check-ins, recordings and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Encrypted, UTCDateTime, new_id, utcnow


class Call(Base):
    """One call, inbound or outbound, on any channel.

    The caller's number is kept only encrypted (for a callback) and as a lookup hash.
    ``flow`` is the IVR flow the call was opened with, so the call goes on in it when its live
    state in Redis is lost; it is NULL on calls stored before it was kept.
    """

    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    line_id: Mapped[str | None] = mapped_column(ForeignKey("lines.id"), nullable=True)
    direction: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    caller_number: Mapped[str | None] = mapped_column(
        Encrypted("call.caller_number"), nullable=True
    )
    caller_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    beneficiary_id: Mapped[str | None] = mapped_column(
        ForeignKey("beneficiaries.id"), nullable=True, index=True
    )
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"), nullable=True)
    flow: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    risk_level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="ivr")
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    disposition: Mapped[str | None] = mapped_column(String(32), nullable=True)
    notes: Mapped[str | None] = mapped_column(Encrypted("call.notes"), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CallEvent(Base):
    """Append-only log of every event of a call (or of a ladder about no call), in order;
    ``data`` holds ids and flags only.

    ``idempotency_key`` makes a retried webhook or job land once.
    """

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(80), index=True)
    """The subject: a call's id, or the id of an escalation about no call (``alarm:<id>``,
    ``prox:...``: what routing's ladders log under), so no foreign key."""
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)

    __table_args__ = (UniqueConstraint("call_id", "seq"),)


class Referral(Base):
    """A caller referred to a resource during a call, by the agent on it (once per resource)."""

    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    referred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("call_id", "resource_id"),)


class Escalation(Base):
    """An urgent-team ladder. Its id names what it is about (``call:<id>``, ``alarm:<id>``,
    ``checkin:<attempt id>``, ``prox:<notification>:<beneficiary>``), the same id routing's
    ladder carries, so it is 80 characters wide."""

    __tablename__ = "escalations"

    id: Mapped[str] = mapped_column(String(80), primary_key=True, default=new_id)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), nullable=True, index=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id"))
    reason: Mapped[str] = mapped_column(String(64))
    tier: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
    #: Stopped with nobody acknowledging it: ``answered`` (an agent took her call) or
    #: ``call_ended`` (her call reached a person and ended). See calls.escalations.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class CheckinPlan(Base):
    """How often and when a beneficiary is called to check she is safe."""

    __tablename__ = "checkin_plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(ForeignKey("beneficiaries.id"), unique=True)
    #: Days between check-ins she asked for; the risk's default applies when it is shorter.
    cadence_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CheckinAttempt(Base):
    """One outbound call attempt at one slot; ``idempotency_key`` is unique so a slot's attempt
    is created once.

    ``purpose`` is ``checkin`` (a slot of a plan) or ``notification`` (a call an external
    system asked for, ``notification_id``). ``started_at`` is the claim of the worker about to
    dial; ``call_id`` is set before the phone rings and ``dialed_at`` once it does, so a job run
    again never dials twice. ``outcome`` is set once, by whoever concludes the attempt first.
    """

    __tablename__ = "checkin_attempts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str | None] = mapped_column(
        ForeignKey("checkin_plans.id"), nullable=True, index=True
    )
    beneficiary_id: Mapped[str | None] = mapped_column(
        ForeignKey("beneficiaries.id"), nullable=True, index=True
    )
    purpose: Mapped[str] = mapped_column(String(16), default="checkin", server_default="checkin")
    notification_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    slot: Mapped[str] = mapped_column(String(48))
    attempt_no: Mapped[int] = mapped_column(Integer, default=1)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dialed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), nullable=True, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)


class Recording(Base):
    """An encrypted recording; the row outlives the audio as a tombstone once purged."""

    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), index=True)
    storage_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    wrapped_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    master_key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delete_after: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str | None] = mapped_column(
        Encrypted("recording.hold_reason"), nullable=True
    )
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Where the audio came from ("twilio", "sip"), the provider's id for it (a Twilio
    # RecordingSid, so a re-delivered callback lands once) and when the provider's copy was
    # deleted: until then the audio also exists outside Amparo.
    source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    external_id: Mapped[str | None] = mapped_column(
        String(64), nullable=True, index=True, unique=True
    )
    source_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditEntry(Base):
    """Who did what to which record, when and why. Append-only, and tamper-evident once sealed:
    each sealed entry carries the hash of the one before it."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Encrypted("audit.reason"), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The chain (store/audit_chain.py): set when the entry is sealed, never by the act itself.
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entry_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
