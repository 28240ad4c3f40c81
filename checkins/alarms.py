"""Device alarms: authenticate, store durably, then escalate to the urgent team.

Persist before acknowledging: the alarm row is committed in one transaction before the device
hears 202; if the database does not take it the device hears 503 and sends it again (nothing
half-stored). The same alarm id from the same device is one alarm. Escalating happens after the
commit; if it fails (Redis down), the alarm stays stored with ``escalated_at`` empty and the
workers' timekeeper sweep (:func:`sweep`, every 2 s through any outage) escalates it.

Authentication: ``X-Amparo-Signature`` is the hex HMAC-SHA256 of ``<timestamp>.<body>`` under
the device's secret, ``X-Amparo-Timestamp`` Unix seconds within five minutes of ours. See
``docs/devices.md``.

Tolerance: once a message is authentic and names an alarm id, it is acted on even if other
fields are wrong (an unknown type becomes ``assault``, a bad location is dropped): a real
device in trouble must never be refused for a detail. Those details come back as warnings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from checkins.context import CheckinContext
from checkins.errors import AlarmMalformed, DeviceAuthFailed, StoreUnavailable
from checkins.handover import REASONS
from checkins.locations import Location, valid
from checkins.refused import keep_refused
from checkins.targets import urgent_team_for
from store import audit, metrics
from store.alarms import DeviceAlarm
from store.models import Beneficiary, Device
from store.records import Escalation
from store.vocabulary import AlarmType

log = logging.getLogger(__name__)

REPLAY_WINDOW_S = 300
_ALARM_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


@dataclass(frozen=True)
class SignedRequest:
    """What the HTTP edge read, untouched."""

    device_ref: str | None
    timestamp: str | None
    signature: str | None
    body: bytes
    remote_addr: str | None


@dataclass(frozen=True)
class AlarmReport:
    alarm_id: str
    alarm_type: AlarmType
    location: Location | None = None
    accuracy_m: float | None = None
    located_at: datetime | None = None
    battery: int | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlarmReceipt:
    alarm_id: str
    stored_id: str
    status: str
    duplicate: bool
    warnings: tuple[str, ...] = field(default=())

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"alarm_id": self.alarm_id, "status": self.status}
        if self.warnings:
            answer["warnings"] = list(self.warnings)
        return answer


def signature_for(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def receive(ctx: CheckinContext, request: SignedRequest) -> AlarmReceipt:
    """Authenticate, parse, store (then escalate) one alarm from a device's API call."""
    now = ctx.clock.now()
    try:
        device_id = _authenticate(ctx, request, now)
        report = parse_report(request.body, request.device_ref or "")
    except (DeviceAuthFailed, AlarmMalformed) as refusal:
        keep_refused(
            ctx, "api", refusal.error_id, request.device_ref, request.remote_addr, request.body
        )
        raise
    sent_at = datetime.fromtimestamp(int(str(request.timestamp)), UTC)
    receipt = store(
        ctx, f"{device_id}:{report.alarm_id}", "device_api", report, device_id, None, sent_at
    )
    if not receipt.duplicate:
        escalate(ctx, receipt.stored_id)
    return receipt


def _authenticate(ctx: CheckinContext, request: SignedRequest, now: datetime) -> str:
    if not request.device_ref or not request.timestamp or not request.signature:
        raise DeviceAuthFailed(
            "X-Amparo-Device, X-Amparo-Timestamp and X-Amparo-Signature are required",
            error_id="device_auth_missing",
        )
    try:
        sent = int(request.timestamp)
    except ValueError as exc:
        raise DeviceAuthFailed(
            "X-Amparo-Timestamp must be Unix seconds", error_id="device_timestamp_invalid"
        ) from exc
    if abs(now.timestamp() - sent) > REPLAY_WINDOW_S:
        raise DeviceAuthFailed(
            "X-Amparo-Timestamp is more than 5 minutes from the server's clock",
            error_id="device_timestamp_out_of_window",
        )
    try:
        with ctx.sessions() as db:
            device = db.scalar(
                select(Device).where(Device.serial == request.device_ref[:64], Device.active)
            )
            secret = device.secret if device is not None else None
            device_id = device.id if device is not None else None
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the alarm store is unavailable; retry") from exc
    expected = signature_for(secret or "unknown device", request.timestamp, request.body)
    if not hmac.compare_digest(expected, request.signature.strip().lower()) or device_id is None:
        raise DeviceAuthFailed(
            "the signature does not match this device", error_id="device_signature_invalid"
        )
    return device_id


def parse_report(body: bytes, device_ref: str) -> AlarmReport:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise AlarmMalformed("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise AlarmMalformed("the body must be a JSON object")
    alarm_id = data.get("alarm_id")
    if not isinstance(alarm_id, str) or not _ALARM_ID.match(alarm_id):
        raise AlarmMalformed("alarm_id must be 1-64 of A-Z a-z 0-9 _ . : -")
    named = data.get("device_id")
    if named is not None and named != device_ref:
        raise AlarmMalformed("device_id differs from X-Amparo-Device")
    warnings: list[str] = []
    try:
        alarm_type = AlarmType(str(data.get("type")))
    except ValueError:
        alarm_type = AlarmType.ASSAULT
        warnings.append("type_unknown_treated_as_assault")
    location, accuracy, located_at = _location(data.get("location"), warnings)
    battery = data.get("battery")
    if battery is not None and (
        isinstance(battery, bool) or not isinstance(battery, int | float) or not 0 <= battery <= 100
    ):
        warnings.append("battery_ignored")
        battery = None
    return AlarmReport(
        alarm_id=alarm_id,
        alarm_type=alarm_type,
        location=location,
        accuracy_m=accuracy,
        located_at=located_at,
        battery=None if battery is None else int(battery),
        warnings=tuple(warnings),
    )


def _location(
    raw: Any, warnings: list[str]
) -> tuple[Location | None, float | None, datetime | None]:
    if raw is None:
        warnings.append("no_location")
        return None, None, None
    try:
        latitude, longitude = float(raw["lat"]), float(raw["lon"])
        if not valid(latitude, longitude):
            raise ValueError("out of range")
    except (TypeError, KeyError, ValueError):
        warnings.append("location_ignored")
        return None, None, None
    accuracy = raw.get("accuracy")
    if accuracy is not None and (not isinstance(accuracy, int | float) or accuracy < 0):
        warnings.append("accuracy_ignored")
        accuracy = None
    located_at = None
    when = raw.get("time")
    if when is not None:
        try:
            located_at = (
                datetime.fromtimestamp(float(when), UTC)
                if isinstance(when, int | float)
                else datetime.fromisoformat(str(when).replace("Z", "+00:00"))
            )
            if located_at.tzinfo is None:
                located_at = located_at.replace(tzinfo=UTC)
        except (ValueError, OverflowError, OSError):
            warnings.append("location_time_ignored")
            located_at = None
    return Location(latitude, longitude), None if accuracy is None else float(accuracy), located_at


def store(
    ctx: CheckinContext,
    dedupe_key: str,
    source: str,
    report: AlarmReport,
    device_id: str | None,
    beneficiary_id: str | None,
    sent_at: datetime | None,
) -> AlarmReceipt:
    """Commit the alarm (or find it, if this is a repeat); raise StoreUnavailable otherwise."""
    now = ctx.clock.now()
    try:
        with ctx.sessions() as db, db.begin():
            existing = db.scalar(select(DeviceAlarm).where(DeviceAlarm.dedupe_key == dedupe_key))
            if existing is not None:
                return _receipt(existing, duplicate=True, warnings=report.warnings)
            if beneficiary_id is None:
                device = db.get(Device, device_id) if device_id else None
                if device is None:
                    raise StoreUnavailable("the device is gone")
                beneficiary_id = device.beneficiary_id
            alarm = DeviceAlarm(
                dedupe_key=dedupe_key,
                source=source,
                external_id=report.alarm_id,
                device_id=device_id,
                beneficiary_id=beneficiary_id,
                alarm_type=report.alarm_type.value,
                latitude=None if report.location is None else repr(report.location.latitude),
                longitude=None if report.location is None else repr(report.location.longitude),
                accuracy_m=report.accuracy_m,
                located_at=report.located_at,
                battery=report.battery,
                sent_at=sent_at,
                received_at=now,
                status="received",
            )
            db.add(alarm)
            db.flush()
            receipt = _receipt(alarm, duplicate=False, warnings=report.warnings)
    except IntegrityError:
        with ctx.sessions() as db:
            existing = db.scalar(select(DeviceAlarm).where(DeviceAlarm.dedupe_key == dedupe_key))
            if existing is None:
                raise StoreUnavailable("the alarm could not be stored; retry") from None
            return _receipt(existing, duplicate=True, warnings=report.warnings)
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the alarm store is unavailable; retry") from exc
    log.info("alarm %s stored (%s)", receipt.stored_id, source)
    return receipt


def _receipt(alarm: DeviceAlarm, *, duplicate: bool, warnings: tuple[str, ...]) -> AlarmReceipt:
    return AlarmReceipt(
        alarm_id=alarm.external_id,
        stored_id=alarm.id,
        status="received",
        duplicate=duplicate,
        warnings=warnings,
    )


def escalate(ctx: CheckinContext, stored_id: str) -> bool:
    """Start the urgent team's ladder for a stored alarm (once); True when started now.
    Never raises: the alarm is stored, and the sweep escalates what failed here."""
    try:
        return _escalate(ctx, stored_id)
    except Exception:
        log.exception("alarm %s: escalation failed; the sweep will retry", stored_id)
        return False


def _escalate(ctx: CheckinContext, stored_id: str) -> bool:
    now = ctx.clock.now()
    with ctx.sessions() as db, db.begin():
        alarm = db.get(DeviceAlarm, stored_id)
        if alarm is None or alarm.escalated_at is not None:
            return False
        beneficiary = db.get(Beneficiary, alarm.beneficiary_id)
        team_id = urgent_team_for(db, beneficiary.line_id if beneficiary else None)
        escalation_id = f"alarm:{alarm.id}"
        if team_id is not None and db.get(Escalation, escalation_id) is None:
            db.add(
                Escalation(id=escalation_id, team_id=team_id, reason="device_alarm", opened_at=now)
            )
        alarm.escalation_id = escalation_id
        received_at = alarm.received_at
        details = {
            "alarm_id": alarm.id,
            "beneficiary_id": alarm.beneficiary_id,
            "type": alarm.alarm_type,
            "has_location": alarm.latitude is not None,
            "escalation_id": escalation_id,
        }
    if team_id is not None:
        ctx.alerts.escalate(escalation_id, team_id, "device_alarm", now.timestamp())
    ctx.alerts.notify_supervisors("device_alarm", {**details, "no_team": team_id is None})
    with ctx.sessions() as db, db.begin():
        alarm = db.get(DeviceAlarm, stored_id)
        if alarm is not None:
            alarm.escalated_at = now
            alarm.status = "escalated" if team_id is not None else "unrouted"
    if team_id is not None:
        waited = (now - received_at).total_seconds()
        metrics.observe(ctx.live, metrics.ALARM_TO_LADDER, (), waited)
    return True


@dataclass
class SweepReport:
    alarms: int = 0
    ladders: int = 0


def sweep(
    ctx: CheckinContext,
    *,
    grace: timedelta = timedelta(seconds=10),
    recent: timedelta = timedelta(hours=1),
) -> SweepReport:
    """Escalate alarms stored but not escalated; start again ladders opened here that Redis
    lost (``escalate`` answers ``duplicate`` for every ladder it still has)."""
    now = ctx.clock.now()
    report = SweepReport()
    with ctx.sessions() as db:
        waiting = list(
            db.scalars(
                select(DeviceAlarm.id)
                .where(DeviceAlarm.escalated_at.is_(None), DeviceAlarm.received_at <= now - grace)
                .order_by(DeviceAlarm.received_at)
                .limit(500)
            )
        )
        ladders = db.execute(
            select(Escalation.id, Escalation.team_id, Escalation.reason).where(
                Escalation.reason.in_(sorted(REASONS)),
                Escalation.acknowledged_at.is_(None),
                Escalation.opened_at >= now - recent,
                Escalation.call_id.is_(None),
            )
        ).all()
    for stored_id in waiting:
        report.alarms += int(escalate(ctx, stored_id))
    for escalation_id, team_id, reason in ladders:
        try:
            ctx.alerts.escalate(escalation_id, team_id, reason, now.timestamp())
            report.ladders += 1
        except Exception:
            log.exception("ladder %s could not be re-asserted", escalation_id)
    return report


def read_location(
    sessions: sessionmaker[Session], stored_id: str, *, agent_id: str, reason: str | None = None
) -> dict[str, Any] | None:
    """An alarm's location for the agent handling it, with an audit entry in the same
    transaction (where she is is the most sensitive thing Amparo holds)."""
    with sessions() as db, db.begin():
        alarm = db.get(DeviceAlarm, stored_id)
        if alarm is None:
            return None
        audit.record(
            db,
            actor_type="agent",
            actor_id=agent_id,
            action="alarm_location_read",
            subject_type="device_alarm",
            subject_id=alarm.id,
            reason=reason,
            detail={"beneficiary_id": alarm.beneficiary_id},
        )
        if alarm.latitude is None or alarm.longitude is None:
            return {"alarm_id": alarm.id, "location": None}
        return {
            "alarm_id": alarm.id,
            "location": {
                "lat": float(alarm.latitude),
                "lon": float(alarm.longitude),
                "accuracy_m": alarm.accuracy_m,
                "time": alarm.located_at.isoformat() if alarm.located_at else None,
            },
        }
