"""Durable model of the people and places: lines, beneficiaries, devices, agents, teams, queues,
and the resources callers are referred to.

Personal fields use ``Encrypted`` columns; phone numbers are found through ``*_hash`` columns
(HMAC of the E.164 number), never stored in clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base, Encrypted, UTCDateTime, new_id, utcnow
from store.vocabulary import AgentRole, RiskLevel


class Line(Base):
    """A hotline number that callers dial (the service's own number, not personal data)."""

    __tablename__ = "lines"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    default_locale: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Madrid")
    jurisdiction: Mapped[str] = mapped_column(String(8), default="ES")
    flow: Mapped[str] = mapped_column(String(64), default="inbound_triage")
    overflow_number: Mapped[str] = mapped_column(String(20))
    urgent_number: Mapped[str] = mapped_column(String(20))
    recording_retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    callback_offer_when_waiting: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """A surge: with this many callers waiting, a calm caller whose number is known is offered
    "press 2 to be called back" (None: never)."""
    interpreter_on_accept: Mapped[bool] = mapped_column(Boolean, default=False)
    """A caller who needs an interpreter gets one as soon as an agent accepts her call."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Beneficiary(Base):
    """A registered victim. Everything that identifies her is encrypted."""

    __tablename__ = "beneficiaries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(Encrypted("beneficiary.full_name"))
    address: Mapped[str | None] = mapped_column(Encrypted("beneficiary.address"), nullable=True)
    municipality: Mapped[str | None] = mapped_column(
        Encrypted("beneficiary.municipality"), nullable=True
    )
    notes: Mapped[str | None] = mapped_column(Encrypted("beneficiary.notes"), nullable=True)
    safety_plan: Mapped[str | None] = mapped_column(
        Encrypted("beneficiary.safety_plan"), nullable=True
    )
    preferred_locale: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    risk_level: Mapped[RiskLevel] = mapped_column(String(16), default=RiskLevel.NO_APRECIADO)
    risk_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    safe_call_windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    pin_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    duress_digit_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    voicemail_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    cover_script: Mapped[str] = mapped_column(String(32), default="survey")
    line_id: Mapped[str | None] = mapped_column(ForeignKey("lines.id"), nullable=True)
    provisioned_by: Mapped[str | None] = mapped_column(
        ForeignKey("external_systems.id"), nullable=True
    )
    """The external system that registered her through the integration API (its
    ``external_ref`` is her ``reference``); only that system may update her through it."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    phones: Mapped[list[BeneficiaryPhone]] = relationship(
        back_populates="beneficiary", cascade="all, delete-orphan"
    )
    devices: Mapped[list[Device]] = relationship(
        back_populates="beneficiary", cascade="all, delete-orphan"
    )


class BeneficiaryPhone(Base):
    """A phone number of a beneficiary: ``kind`` is ``primary`` or ``safe_alternative``."""

    __tablename__ = "beneficiary_phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    beneficiary_id: Mapped[str] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24), default="primary")
    number: Mapped[str] = mapped_column(Encrypted("beneficiary_phone.number"))
    number_hash: Mapped[str] = mapped_column(String(64), index=True)

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="phones")

    __table_args__ = (UniqueConstraint("beneficiary_id", "number_hash"),)


class Device(Base):
    """A panic-button device carried by a beneficiary; it signs its alarms with ``secret``."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    beneficiary_id: Mapped[str] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(Encrypted("device.number"))
    number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(Encrypted("device.secret"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="devices")


class Team(Base):
    """An urgent-response team; members are rung by tier when a severe call escalates."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    line_id: Mapped[str | None] = mapped_column(ForeignKey("lines.id"), nullable=True)
    tier_delays_s: Mapped[list[int]] = mapped_column(JSON, default=lambda: [60, 60])

    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan"
    )


class Agent(Base):
    """A person who answers calls: agent, supervisor or admin."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(Encrypted("agent.display_name"))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[AgentRole] = mapped_column(String(16), default=AgentRole.AGENT)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id"), nullable=True)
    sip_uri: Mapped[str | None] = mapped_column(String(200), nullable=True)
    on_call_number: Mapped[str | None] = mapped_column(
        Encrypted("agent.on_call_number"), nullable=True
    )
    """E.164; an urgent-team member off the console is called here (``calls.urgent_calls``)."""
    totp_secret: Mapped[str | None] = mapped_column(Encrypted("agent.totp_secret"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    tier: Mapped[int] = mapped_column(Integer, default=1)
    on_call: Mapped[bool] = mapped_column(Boolean, default=True)

    team: Mapped[Team] = relationship(back_populates="members")


class Queue(Base):
    """A queue of a line, with the rules that widen skills and overflow after a wait."""

    __tablename__ = "queues"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id"))
    name: Mapped[str] = mapped_column(String(64))
    specialty: Mapped[str | None] = mapped_column(String(64), nullable=True)
    offer_timeout_s: Mapped[int] = mapped_column(Integer, default=15)
    widen_after_s: Mapped[int] = mapped_column(Integer, default=60)
    max_wait_s: Mapped[int] = mapped_column(Integer, default=300)
    wrap_up_s: Mapped[int] = mapped_column(Integer, default=30)

    __table_args__ = (UniqueConstraint("line_id", "name"),)


class Interpreter(Base):
    """An interpreting service conferenced into calls in ``language`` (any BCP 47 tag): a phone
    number or a SIP URI (``target``), and the digits to send once it answers (an account PIN).
    ``line_id`` None: every line's. Matched by line and language from the hotline
    configuration; retired with ``active = false``."""

    __tablename__ = "interpreters"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    line_id: Mapped[str | None] = mapped_column(ForeignKey("lines.id"), nullable=True, index=True)
    language: Mapped[str] = mapped_column(String(35))
    target: Mapped[str] = mapped_column(Encrypted("interpreter.target"))
    dtmf: Mapped[str | None] = mapped_column(Encrypted("interpreter.dtmf"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Resource(Base):
    """A service a caller may be referred to: police, health, shelter, CAVI, legal or
    psychological help. Public places, not personal data. ``line_id`` None: every line's.
    Matched by line and name from the hotline configuration; retired with ``active = false``."""

    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    line_id: Mapped[str | None] = mapped_column(ForeignKey("lines.id"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    municipality: Mapped[str] = mapped_column(String(120))
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
