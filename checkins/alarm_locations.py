"""An alarm's type and location in the call's event log: sealed by whatever raises the alarm,
read by the caller card.

A device's own alarm is a row (:class:`store.alarms.DeviceAlarm`, its location encrypted in
columns); :func:`alarm_for_call` finds the one behind a call on any channel: her latest alarm
within :data:`RECENT_ALARM` before the call, else what the call's own log carries.

The ``alarm`` event carries the type; the location is personal data, so it travels in an
``alarm_location`` event whose ``location_sealed`` field is encrypted with the data key (purpose
``call_event.location``), never in clear in the log. Whatever raises an alarm (the device alarm
service, the simulator's panic button) appends that event with :func:`seal_location`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import crypto
from store.alarms import DeviceAlarm
from store.models import Device
from store.records import Call, CallEvent

LOCATION_PURPOSE = "call_event.location"
RECENT_ALARM = timedelta(minutes=30)
"""A call from her device or her phone this long after her alarm is about that alarm."""


@dataclass(frozen=True)
class AlarmLocation:
    latitude: float
    longitude: float
    accuracy_m: float | None
    fixed_at: float | None
    """When the device took the fix (epoch seconds); the card shows its age."""


@dataclass(frozen=True)
class AlarmDetails:
    alarm_type: str | None
    location: AlarmLocation | None
    alarm_id: str | None = None
    """The stored alarm's id (None for what only a call's log carries)."""


def seal_location(
    latitude: float, longitude: float, accuracy_m: float | None, fixed_at: float | None
) -> str:
    """The ``location_sealed`` value of an ``alarm_location`` event."""
    payload = {
        "latitude": latitude,
        "longitude": longitude,
        "accuracy_m": accuracy_m,
        "fixed_at": fixed_at,
    }
    return crypto.active().encrypt(json.dumps(payload), LOCATION_PURPOSE)


def open_location(sealed: str) -> AlarmLocation:
    data: dict[str, Any] = json.loads(crypto.active().decrypt(sealed, LOCATION_PURPOSE))
    accuracy, fixed_at = data.get("accuracy_m"), data.get("fixed_at")
    return AlarmLocation(
        latitude=float(data["latitude"]),
        longitude=float(data["longitude"]),
        accuracy_m=None if accuracy is None else float(accuracy),
        fixed_at=None if fixed_at is None else float(fixed_at),
    )


def alarm_details(db: Session, call_id: str) -> AlarmDetails | None:
    """The latest alarm type and location logged for the call; None when it was no alarm."""
    events = db.scalars(
        select(CallEvent)
        .where(CallEvent.call_id == call_id, CallEvent.kind.in_(("alarm", "alarm_location")))
        .order_by(CallEvent.seq)
    ).all()
    if not events:
        return None
    alarm_type: str | None = None
    location: AlarmLocation | None = None
    for event in events:
        data = event.data or {}
        if data.get("alarm_type"):
            alarm_type = str(data["alarm_type"])
        sealed = data.get("location_sealed")
        if sealed:
            location = open_location(str(sealed))
    return AlarmDetails(alarm_type, location)


def stored_alarm_details(alarm: DeviceAlarm) -> AlarmDetails:
    """The type and decrypted location of a stored alarm (the caller audits the read)."""
    location = None
    if alarm.latitude is not None and alarm.longitude is not None:
        location = AlarmLocation(
            latitude=float(alarm.latitude),
            longitude=float(alarm.longitude),
            accuracy_m=alarm.accuracy_m,
            fixed_at=alarm.located_at.timestamp() if alarm.located_at else None,
        )
    return AlarmDetails(alarm.alarm_type, location, alarm.id)


def recent_alarm(
    db: Session, beneficiary_id: str, until: datetime, within: timedelta = RECENT_ALARM
) -> DeviceAlarm | None:
    """Her latest alarm received in the ``within`` before ``until``."""
    return db.scalar(
        select(DeviceAlarm)
        .where(
            DeviceAlarm.beneficiary_id == beneficiary_id,
            DeviceAlarm.received_at >= until - within,
            DeviceAlarm.received_at <= until,
        )
        .order_by(DeviceAlarm.received_at.desc())
        .limit(1)
    )


def caller_beneficiary(db: Session, call: Call) -> str | None:
    """Whose call it is: the registered caller, or the owner of the device that calls."""
    if call.beneficiary_id is not None:
        return call.beneficiary_id
    device = db.get(Device, call.device_id) if call.device_id else None
    return device.beneficiary_id if device is not None else None


def alarm_for_call(db: Session, call: Call, now: datetime) -> AlarmDetails | None:
    """The alarm behind a call, on every channel: what the call's own log carries when it
    has a location (a device that sends it with its call), else her latest stored alarm from
    :data:`RECENT_ALARM` before the call started until now."""
    logged = alarm_details(db, call.id)
    if logged is not None and logged.location is not None:
        return logged
    owner = caller_beneficiary(db, call)
    if owner is not None:
        alarm = recent_alarm(db, owner, now, within=RECENT_ALARM + (now - call.started_at))
        if alarm is not None and alarm.received_at >= call.started_at - RECENT_ALARM:
            return stored_alarm_details(alarm)
    return logged
