"""Durable records of what reaches a beneficiary from outside a call: device alarms (and the
messages refused at the door, kept for audit), external systems and their notifications, and
the caseworker tasks left when nobody could be reached.

A location is personal data of the most dangerous kind (where she is now): latitude and
longitude are encrypted, and reading them is audited (``checkins.alarms.read_location``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Encrypted, UTCDateTime, new_id, utcnow


class DeviceAlarm(Base):
    """A panic-button alarm (from the device's API or an SMS), stored before it is answered.

    ``dedupe_key`` is ``<device id>:<alarm id>`` for the API and ``sms:<message sid>`` for a
    text, so a retried delivery lands on the same row and acts once.
    """

    __tablename__ = "device_alarms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.id"), nullable=True, index=True
    )
    beneficiary_id: Mapped[str] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    alarm_type: Mapped[str] = mapped_column(String(16))
    latitude: Mapped[str | None] = mapped_column(Encrypted("device_alarm.latitude"), nullable=True)
    longitude: Mapped[str | None] = mapped_column(
        Encrypted("device_alarm.longitude"), nullable=True
    )
    accuracy_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    located_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    battery: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="received")
    escalation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


class RejectedDeviceMessage(Base):
    """A device or SMS message refused at the door (bad signature, replay, malformed), kept so
    that a broken device or an attack is visible. The body may hold a location: encrypted."""

    __tablename__ = "rejected_device_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(48))
    device_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    remote_addr: Mapped[str | None] = mapped_column(
        Encrypted("rejected_device_message.remote_addr"), nullable=True
    )
    raw_body: Mapped[str | None] = mapped_column(
        Encrypted("rejected_device_message.raw_body"), nullable=True
    )


class ExternalSystem(Base):
    """A system allowed to call the integration API (VioGén, a court registry, a device
    operator...). Only a SHA-256 of its random key is kept; the key is shown once when the
    system is added. ``scopes`` names what the key may do (``notifications``,
    ``provisioning``)."""

    __tablename__ = "external_systems"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    scopes: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["notifications"], server_default='["notifications"]'
    )


class Notification(Base):
    """A notification from an external system, stored before it is acknowledged; the same
    ``(system, external id)`` twice is the same notification."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    system_id: Mapped[str] = mapped_column(ForeignKey("external_systems.id"))
    external_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    data: Mapped[str | None] = mapped_column(Encrypted("notification.data"), nullable=True)
    beneficiary_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    unknown_references: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (UniqueConstraint("system_id", "external_id"),)


class CaseworkerTask(Base):
    """Work for a person: a beneficiary nobody could reach by phone. ``source_key`` names what
    left it (a slot, a notification), so a job run twice leaves one task."""

    __tablename__ = "caseworker_tasks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    source_key: Mapped[str] = mapped_column(String(128), unique=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done_by: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), nullable=True)
