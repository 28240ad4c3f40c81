"""Panic-button devices: registered, given a new secret, revoked (the API and ``amparo
devices`` share these).

A device signs its alarms with its secret (:mod:`checkins.alarms`). The secret is made here,
returned once and stored only encrypted (``devices.secret``); rotating replaces it, so the old
one stops working at once. Revoking keeps the row (its alarms stay for audit) but marks it
inactive and replaces its secret with one nobody was shown: its alarms are then refused and
kept as an unknown device's are. Every act is audited in the same transaction.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from checkins.errors import ProvisioningConflict, ProvisioningMalformed, UnknownRecord
from store import audit
from store.models import Beneficiary, BeneficiaryPhone, Device, Line
from store.phone_numbers import InvalidPhoneNumber, lookup_hash, to_e164

log = logging.getLogger(__name__)

SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
"""What ``X-Amparo-Device`` carries and ``devices.serial`` holds (64 characters); no ``/``
or spaces, so it is also safe in a URL path."""


@dataclass(frozen=True)
class Actor:
    """Who acts, for the audit trail: ``system`` (an API key's system), ``cli``, or ``agent``
    (a supervisor on her page)."""

    kind: str
    id: str | None


@dataclass(frozen=True)
class IssuedSecret:
    serial: str
    secret: str


@dataclass(frozen=True)
class DeviceSummary:
    """What may be listed: no number, no secret, no name."""

    serial: str
    beneficiary_id: str
    active: bool
    created_at: datetime


def check_serial(serial: object) -> str:
    if not isinstance(serial, str) or not SERIAL.match(serial):
        raise ProvisioningMalformed(
            "serial must be 1-64 of A-Z a-z 0-9 _ . - (starting with a letter or digit)",
            error_id="device_serial_invalid",
        )
    return serial


def parse_new(body: dict[str, object]) -> tuple[str, str, str]:
    """``(serial, beneficiary_id, number)`` of a request to register a device."""
    unknown = sorted(set(body) - {"serial", "beneficiary_id", "number"})
    if unknown:
        raise ProvisioningMalformed(
            f"unknown fields: {', '.join(unknown)}", error_id="provisioning_unknown_field"
        )
    serial = check_serial(body.get("serial"))
    beneficiary_id, number = body.get("beneficiary_id"), body.get("number")
    if not isinstance(beneficiary_id, str) or not beneficiary_id:
        raise ProvisioningMalformed(
            "beneficiary_id is required", error_id="provisioning_missing_field"
        )
    if not isinstance(number, str) or not number:
        raise ProvisioningMalformed(
            "number (the device's phone number) is required",
            error_id="provisioning_missing_field",
        )
    return serial, beneficiary_id, number


def _new_secret() -> str:
    return secrets.token_urlsafe(24)


def add(
    sessions: sessionmaker[Session], actor: Actor, serial: str, beneficiary_id: str, number: str
) -> IssuedSecret:
    """Register her device and return its secret (shown only now).

    Args:
        number: the device's own phone number (its SIM), in any format of her line's country:
            calls and texts from it are alarms.

    Raises:
        ProvisioningMalformed: a bad serial or number. UnknownRecord: no such beneficiary.
        ProvisioningConflict: the serial exists, or the number is someone's.
    """
    check_serial(serial)
    secret = _new_secret()
    with sessions() as db, db.begin():
        person = db.get(Beneficiary, beneficiary_id)
        if person is None:
            raise UnknownRecord("no beneficiary with this id", error_id="unknown_beneficiary")
        e164 = _number(db, number, person.line_id)
        if db.scalar(select(Device.id).where(Device.serial == serial)) is not None:
            raise ProvisioningConflict(
                "a device with this serial exists (rotate its secret instead)",
                error_id="device_serial_taken",
            )
        digest = lookup_hash(e164)
        if _number_in_use(db, digest):
            raise ProvisioningConflict(
                "this number belongs to a device or a beneficiary", error_id="device_number_taken"
            )
        device = Device(
            serial=serial,
            beneficiary_id=person.id,
            number=e164,
            number_hash=digest,
            secret=secret,
            active=True,
        )
        db.add(device)
        db.flush()
        _audit(db, actor, "device_added", device)
    log.info("device %s added for beneficiary_id=%s", serial, beneficiary_id)
    return IssuedSecret(serial, secret)


def rotate(sessions: sessionmaker[Session], actor: Actor, serial: str) -> IssuedSecret:
    """A new secret for an active device; the old one stops working now."""
    secret = _new_secret()
    with sessions() as db, db.begin():
        device = _device(db, serial)
        if not device.active:
            raise ProvisioningConflict(
                "this device is revoked; register a new one", error_id="device_revoked"
            )
        device.secret = secret
        _audit(db, actor, "device_secret_rotated", device)
    log.info("device %s secret rotated", serial)
    return IssuedSecret(serial, secret)


def revoke(sessions: sessionmaker[Session], actor: Actor, serial: str) -> bool:
    """Revoke the device (again is no change); True when it was active until now."""
    with sessions() as db, db.begin():
        device = _device(db, serial)
        if not device.active:
            return False
        device.active = False
        device.secret = _new_secret()
        _audit(db, actor, "device_revoked", device)
    log.info("device %s revoked", serial)
    return True


def summaries(
    sessions: sessionmaker[Session], beneficiary_id: str | None = None
) -> list[DeviceSummary]:
    """Every device, or hers."""
    query = select(Device.serial, Device.beneficiary_id, Device.active, Device.created_at)
    if beneficiary_id is not None:
        query = query.where(Device.beneficiary_id == beneficiary_id)
    with sessions() as db:
        rows = db.execute(query.order_by(Device.serial)).all()
    return [DeviceSummary(*row) for row in rows]


def _device(db: Session, serial: str) -> Device:
    device = db.scalar(select(Device).where(Device.serial == check_serial(serial)))
    if device is None:
        raise UnknownRecord("no device with this serial", error_id="unknown_device")
    return device


def _number(db: Session, raw: str, line_id: str | None) -> str:
    region = db.scalar(select(Line.jurisdiction).where(Line.id == line_id)) if line_id else None
    try:
        if len(raw) > 32:
            raise InvalidPhoneNumber("not a phone number")
        return to_e164(raw, region)
    except InvalidPhoneNumber as exc:
        raise ProvisioningMalformed(
            "number must be the device's phone number", error_id="device_number_invalid"
        ) from exc


def _number_in_use(db: Session, digest: str) -> bool:
    """A device's number must be nobody's phone, not even hers: a call from it is an alarm."""
    owner = db.scalar(
        select(BeneficiaryPhone.id).where(BeneficiaryPhone.number_hash == digest).limit(1)
    )
    device = db.scalar(select(Device.id).where(Device.number_hash == digest).limit(1))
    return owner is not None or device is not None


def _audit(db: Session, actor: Actor, action: str, device: Device) -> None:
    audit.record(
        db,
        actor_type=actor.kind,
        actor_id=actor.id,
        action=action,
        subject_type="device",
        subject_id=device.id,
        detail={"serial": device.serial, "beneficiary_id": device.beneficiary_id},
    )
