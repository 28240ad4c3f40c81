"""Notifications from external systems (VioGén and the like): each one becomes calls.

``aggressor_released``, ``order_expiring``, ``proximity_alert`` or ``outage``, naming
beneficiaries by their reference (``outage`` may instead name a line: everyone with an active
check-in plan on it). The notification is stored before it is acknowledged, idempotently on
(system, id); a job then fans it out into one call attempt per beneficiary, under the policy of
its kind (``checkins.policy``), paced at the outbound rate for broadcasts. Progress is counted
in Redis for supervisors (``checkins.progress``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from checkins import progress
from checkins.context import CheckinContext
from checkins.errors import (
    NotificationAuthFailed,
    NotificationMalformed,
    ScopeMissing,
    StoreUnavailable,
)
from checkins.handover import AfterCommit, open_escalation, open_task
from checkins.outcomes import NOTICE_SLOT
from checkins.policy import NOTIFICATION_POLICIES, NotificationKind
from checkins.scheduling import FAN_OUT, schedule, schedule_attempt
from checkins.targets import beneficiary_rules, urgent_team_for
from checkins.windows import next_safe_moment
from store.alarms import ExternalSystem, Notification
from store.base import new_id, utcnow
from store.models import Beneficiary, Line
from store.records import CheckinAttempt, CheckinPlan

log = logging.getLogger(__name__)

MAX_BENEFICIARIES = 50_000
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
SCOPES = ("notifications", "provisioning")
"""What a system's key may do: send notifications, or register beneficiaries and devices."""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_system(
    sessions: sessionmaker[Session], name: str, scopes: Sequence[str] = ("notifications",)
) -> tuple[str, str]:
    """Register an external system; return (its id, its key). The key is shown only now:
    only its SHA-256 is kept (the key is 256 random bits, so a plain hash is enough)."""
    if not _NAME.match(name):
        raise NotificationMalformed("a system name is 1-64 of A-Z a-z 0-9 _ . -")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise NotificationMalformed(
            f"scopes are one or more of {', '.join(SCOPES)}", error_id="system_scope_unknown"
        )
    api_key = "amp_" + secrets.token_urlsafe(32)
    with sessions() as db, db.begin():
        if db.scalar(select(ExternalSystem.id).where(ExternalSystem.name == name)):
            raise NotificationMalformed(f"a system named {name!r} exists", error_id="system_exists")
        system = ExternalSystem(
            name=name,
            key_hash=_hash(api_key),
            active=True,
            scopes=[scope for scope in SCOPES if scope in scopes],
        )
        db.add(system)
        db.flush()
        return system.id, api_key


def authenticate(
    sessions: sessionmaker[Session], presented: str | None, scope: str = "notifications"
) -> str:
    """The id of the active system whose key was presented, or NotificationAuthFailed;
    ScopeMissing when that system was not given ``scope``."""
    if not presented:
        raise NotificationAuthFailed("an API key is required (Authorization: Bearer <key>)")
    try:
        with sessions() as db, db.begin():
            system = db.scalar(
                select(ExternalSystem).where(ExternalSystem.key_hash == _hash(presented.strip()))
            )
            if system is None or not system.active:
                raise NotificationAuthFailed("unknown or disabled API key")
            if scope not in (system.scopes or []):
                raise ScopeMissing(f"this key does not have the {scope!r} scope")
            system.last_used_at = utcnow()
            return system.id
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the notification store is unavailable; retry") from exc


@dataclass(frozen=True)
class NotificationRequest:
    external_id: str
    kind: NotificationKind
    references: tuple[str, ...]
    line: str | None
    data: dict[str, Any]


def parse(body: bytes) -> NotificationRequest:
    try:
        raw = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotificationMalformed("the body is not JSON") from exc
    if not isinstance(raw, dict):
        raise NotificationMalformed("the body must be a JSON object")
    external_id = raw.get("id")
    if not isinstance(external_id, str) or not _ID.match(external_id):
        raise NotificationMalformed("id must be 1-64 of A-Z a-z 0-9 _ . : -")
    try:
        kind = NotificationKind(str(raw.get("type")))
    except ValueError as exc:
        kinds = ", ".join(item.value for item in NotificationKind)
        raise NotificationMalformed(f"type must be one of {kinds}") from exc
    references = raw.get("beneficiaries", [])
    if not isinstance(references, list) or not all(
        isinstance(item, str) and _REFERENCE.match(item) for item in references
    ):
        raise NotificationMalformed("beneficiaries must be a list of beneficiary references")
    if len(references) > MAX_BENEFICIARIES:
        raise NotificationMalformed(f"at most {MAX_BENEFICIARIES} beneficiaries per notification")
    data = raw.get("data") or {}
    if not isinstance(data, dict):
        raise NotificationMalformed("data must be a JSON object")
    line = data.get("line")
    if line is not None and not isinstance(line, str):
        raise NotificationMalformed("data.line must be a line id or number")
    if not references and not (kind is NotificationKind.OUTAGE and line):
        raise NotificationMalformed("name beneficiaries (or, for an outage, data.line)")
    return NotificationRequest(external_id, kind, tuple(dict.fromkeys(references)), line, data)


@dataclass(frozen=True)
class NotificationReceipt:
    notification_id: str
    external_id: str
    kind: str
    accepted: int
    unknown_references: tuple[str, ...]
    duplicate: bool

    def body(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "id": self.external_id,
            "type": self.kind,
            "accepted": self.accepted,
            "unknown_references": list(self.unknown_references),
            "duplicate": self.duplicate,
        }


def receive(ctx: CheckinContext, system_id: str, body: bytes) -> NotificationReceipt:
    """Store the notification (once per system and id), then queue its fan-out."""
    request = parse(body)
    try:
        receipt = _store(ctx, system_id, request)
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the notification store is unavailable; retry") from exc
    if not receipt.duplicate:
        try:
            progress.start(ctx.live, receipt.notification_id, request.kind.value, receipt.accepted)
            queue_fan_out(ctx, receipt.notification_id, request.kind)
        except Exception:
            log.exception(
                "notification %s stored; fan-out left to the sweep", receipt.notification_id
            )
    return receipt


def _store(
    ctx: CheckinContext, system_id: str, request: NotificationRequest
) -> NotificationReceipt:
    with ctx.sessions() as db, db.begin():
        existing = db.scalar(
            select(Notification).where(
                Notification.system_id == system_id,
                Notification.external_id == request.external_id,
            )
        )
        if existing is not None:
            return _receipt(existing, (), duplicate=True)
        found = _resolve(db, request)
        unknown = tuple(ref for ref in request.references if ref not in found)
        notification = Notification(
            system_id=system_id,
            external_id=request.external_id,
            kind=request.kind.value,
            data=json.dumps(request.data) if request.data else None,
            beneficiary_ids=sorted(set(found.values())),
            unknown_references=len(unknown),
            received_at=ctx.clock.now(),
        )
        try:
            with db.begin_nested():
                db.add(notification)
        except IntegrityError:
            stored = db.scalar(
                select(Notification).where(
                    Notification.system_id == system_id,
                    Notification.external_id == request.external_id,
                )
            )
            if stored is None:
                raise
            return _receipt(stored, (), duplicate=True)
        return _receipt(notification, unknown, duplicate=False)


def _receipt(
    notification: Notification, unknown: tuple[str, ...], *, duplicate: bool
) -> NotificationReceipt:
    return NotificationReceipt(
        notification_id=notification.id,
        external_id=notification.external_id,
        kind=notification.kind,
        accepted=len(notification.beneficiary_ids or []),
        unknown_references=unknown,
        duplicate=duplicate,
    )


def _resolve(db: Session, request: NotificationRequest) -> dict[str, str]:
    """reference -> beneficiary id for those that exist (and, for an outage of a line,
    every beneficiary of the line with an active check-in plan)."""
    found: dict[str, str] = {}
    references = list(request.references)
    for start in range(0, len(references), 1000):
        chunk = references[start : start + 1000]
        for reference, beneficiary_id in db.execute(
            select(Beneficiary.reference, Beneficiary.id).where(Beneficiary.reference.in_(chunk))
        ):
            found[reference] = beneficiary_id
    if request.kind is NotificationKind.OUTAGE and request.line:
        line_id = db.scalar(
            select(Line.id).where((Line.id == request.line) | (Line.number == request.line))
        )
        if line_id is not None:
            for reference, beneficiary_id in db.execute(
                select(Beneficiary.reference, Beneficiary.id)
                .join(CheckinPlan, CheckinPlan.beneficiary_id == Beneficiary.id)
                .where(Beneficiary.line_id == line_id, CheckinPlan.active)
            ):
                found[reference] = beneficiary_id
    return found


def queue_fan_out(ctx: CheckinContext, notification_id: str, kind: NotificationKind) -> bool:
    return schedule(
        ctx,
        NOTIFICATION_POLICIES[kind].queue,
        FAN_OUT,
        [notification_id],
        when=ctx.clock.now(),
        job_id=f"notice-fanout-{notification_id}",
        timeout_s=900,
    )


def fan_out(ctx: CheckinContext, notification_id: str) -> int:
    """One call attempt per beneficiary (once, however often this runs); return how many
    were scheduled by this run."""
    now = ctx.clock.now()
    after = AfterCommit()
    with ctx.sessions() as db, db.begin():
        notification = db.get(Notification, notification_id)
        if notification is None or notification.fanned_out_at is not None:
            return 0
        kind = NotificationKind(notification.kind)
        policy = NOTIFICATION_POLICIES[kind]
        total = len(notification.beneficiary_ids or [])
        after.add(lambda: progress.start(ctx.live, notification_id, kind.value, total))
        rows: list[dict[str, Any]] = []
        for index, beneficiary_id in enumerate(notification.beneficiary_ids or []):
            beneficiary = db.get(Beneficiary, beneficiary_id)
            if beneficiary is None:
                continue
            when = _first_call(beneficiary, policy.immediate, now)
            if when is None:
                open_task(
                    db,
                    after,
                    ctx,
                    beneficiary_id=beneficiary_id,
                    kind="notice_no_safe_window",
                    source_key=f"notice-nowindow:{notification_id}:{beneficiary_id}",
                    detail={"notification_id": notification_id, "type": kind.value},
                    at=now,
                )
                continue
            # Pace a broadcast at the outbound rate (the dial itself is also rate limited).
            when = max(when, now + timedelta(seconds=index * ctx.rate_limit.interval_s))
            attempt_id = new_id()
            rows.append(
                {
                    "id": attempt_id,
                    "beneficiary_id": beneficiary_id,
                    "purpose": "notification",
                    "notification_id": notification_id,
                    "slot": NOTICE_SLOT,
                    "attempt_no": 1,
                    "scheduled_at": when,
                    "idempotency_key": (
                        f"notice:{notification_id}:{beneficiary_id}:{NOTICE_SLOT}:1"
                    ),
                }
            )
            if policy.escalate_at_once:
                open_escalation(
                    db,
                    after,
                    ctx,
                    escalation_id=f"prox:{notification_id}:{beneficiary_id[:24]}",
                    team_id=urgent_team_for(db, beneficiary.line_id),
                    reason="proximity_alert",
                    at=now,
                    alert={"beneficiary_id": beneficiary_id, "notification_id": notification_id},
                )
        created = _insert_attempts(db, rows)
        notification.fanned_out_at = now
    pipe = ctx.jobs.pipeline(transaction=False)
    for attempt_id, when in created:
        schedule_attempt(ctx, attempt_id, when, policy.queue, pipeline=pipe)
    pipe.execute()
    progress.count(ctx.live, notification_id, "scheduled", len(created))
    after.run()
    log.info("notification %s: %d calls scheduled", notification_id, len(created))
    return len(created)


def _first_call(beneficiary: Beneficiary, immediate: bool, now: datetime) -> datetime | None:
    if immediate:
        return now
    windows, tz = beneficiary_rules(beneficiary)
    return next_safe_moment(windows, tz, now)


def _insert_attempts(db: Session, rows: list[dict[str, Any]]) -> list[tuple[str, datetime]]:
    if not rows:
        return []
    table = cast(Table, CheckinAttempt.__table__)
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(table.c.id, table.c.scheduled_at)
    )
    return [(row[0], row[1]) for row in db.execute(statement, rows)]


def sweep(ctx: CheckinContext, *, grace: timedelta = timedelta(minutes=1)) -> int:
    """Queue the fan-out of notifications stored but never fanned out (Redis was down)."""
    now = ctx.clock.now()
    with ctx.sessions() as db:
        waiting = db.execute(
            select(Notification.id, Notification.kind).where(
                Notification.fanned_out_at.is_(None),
                Notification.received_at <= now - grace,
                Notification.received_at >= now - timedelta(days=2),
            )
        ).all()
    for notification_id, kind in waiting:
        queue_fan_out(ctx, notification_id, NotificationKind(kind))
    return len(waiting)
