"""An alarm's type and location in the call's event log: sealed by whatever raises the alarm,
read by the caller card.

The ``alarm`` event carries the type; the location is personal data, so it travels in an
``alarm_location`` event whose ``location_sealed`` field is encrypted with the data key (purpose
``call_event.location``), never in clear in the log. Whatever raises an alarm (the device alarm
service, the simulator's panic button) appends that event with :func:`seal_location`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import crypto
from store.records import CallEvent

LOCATION_PURPOSE = "call_event.location"


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
