"""Who an attempt calls and under which rules, read fresh from the database each time a job
runs (a late worker must see today's windows and risk, not yesterday's)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkins.policy import (
    NOTIFICATION_POLICIES,
    ContactPolicy,
    NotificationKind,
    Purpose,
    checkin_policy,
)
from checkins.windows import InvalidWindow, SafeWindow, parse_windows, zone
from store.alarms import Notification
from store.models import Beneficiary, BeneficiaryPhone, Line, Team
from store.records import CheckinAttempt, CheckinPlan
from store.vocabulary import RiskLevel


@dataclass(frozen=True)
class AttemptTarget:
    beneficiary_id: str
    line_id: str | None
    risk: RiskLevel
    windows: tuple[SafeWindow, ...]
    tz: ZoneInfo
    purpose: Purpose
    policy: ContactPolicy
    kind: NotificationKind | None
    plan_active: bool

    @property
    def queue(self) -> str:
        return self.policy.queue


def beneficiary_rules(beneficiary: Beneficiary) -> tuple[tuple[SafeWindow, ...], ZoneInfo]:
    """Her windows and zone; unreadable ones mean no safe window (never a guess)."""
    try:
        tz = zone(beneficiary.timezone)
    except InvalidWindow:
        return (), ZoneInfo("UTC")
    try:
        return parse_windows(beneficiary.safe_call_windows or []), tz
    except InvalidWindow:
        return (), tz


def load_target(db: Session, attempt: CheckinAttempt) -> AttemptTarget | None:
    beneficiary_id = attempt.beneficiary_id
    plan = db.get(CheckinPlan, attempt.plan_id) if attempt.plan_id else None
    if beneficiary_id is None and plan is not None:
        beneficiary_id = plan.beneficiary_id
    beneficiary = db.get(Beneficiary, beneficiary_id) if beneficiary_id else None
    if beneficiary is None:
        return None
    risk = RiskLevel(beneficiary.risk_level)
    windows, tz = beneficiary_rules(beneficiary)
    purpose = Purpose(attempt.purpose or Purpose.CHECKIN.value)
    kind: NotificationKind | None = None
    policy = checkin_policy(risk)
    if purpose is Purpose.NOTIFICATION and attempt.notification_id:
        notification = db.get(Notification, attempt.notification_id)
        if notification is not None:
            kind = NotificationKind(notification.kind)
            policy = NOTIFICATION_POLICIES[kind]
    return AttemptTarget(
        beneficiary_id=beneficiary.id,
        line_id=beneficiary.line_id or _only_line(db),
        risk=risk,
        windows=windows,
        tz=tz,
        purpose=purpose,
        policy=policy,
        kind=kind,
        plan_active=plan.active if plan is not None else purpose is Purpose.NOTIFICATION,
    )


def _only_line(db: Session) -> str | None:
    lines = list(db.scalars(select(Line.id).limit(2)))
    return lines[0] if len(lines) == 1 else None


def phone_number(db: Session, beneficiary_id: str) -> str | None:
    """The number to call: her primary phone, else any number she registered. Decrypted in
    memory for the dialer only; it never reaches a log, a job argument or Redis."""
    phones = list(
        db.scalars(
            select(BeneficiaryPhone).where(BeneficiaryPhone.beneficiary_id == beneficiary_id)
        )
    )
    phones.sort(key=lambda phone: (phone.kind != "primary", phone.id))
    return phones[0].number if phones else None


def urgent_team_for(db: Session, line_id: str | None) -> str | None:
    """The urgent team of her line, else the first team (an alarm never goes nowhere)."""
    if line_id is not None:
        team = db.scalar(select(Team.id).where(Team.line_id == line_id).order_by(Team.name))
        if team is not None:
            return team
    return db.scalar(select(Team.id).order_by(Team.name).limit(1))
