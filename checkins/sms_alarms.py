"""A text message to the line from a device's or a registered beneficiary's number is an alarm.

Amparo never texts anyone, so a text from her number is her reaching out: it becomes an alarm
whether or not it carries a location (a location, when there is one, goes with it). The type
comes from a keyword (``prealarma``, ``médica``, ``psicosocial``...) and is ``assault``
otherwise: in doubt, the most urgent reading. A text from an unknown number is kept for audit
and nothing else. The reply is always empty: nothing ever comes back that names the service.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from checkins import alarms
from checkins.alarms import AlarmReceipt, AlarmReport
from checkins.context import CheckinContext
from checkins.errors import StoreUnavailable
from checkins.locations import find_location
from checkins.refused import keep_refused
from store.models import Beneficiary, BeneficiaryPhone, Device
from store.phone_numbers import InvalidPhoneNumber, lookup_hash, to_e164
from store.vocabulary import AlarmType

_KEYWORDS: tuple[tuple[AlarmType, tuple[str, ...]], ...] = (
    (AlarmType.PREALARM, ("prealarm", "pre-alarm", "prealarma", "pre-alarma")),
    (AlarmType.MEDICAL, ("medical", "medica", "medico", "ambulance", "ambulancia")),
    (AlarmType.PSYCHOSOCIAL, ("psychosocial", "psicosocial")),
)


def alarm_type_in(text: str) -> AlarmType:
    folded = "".join(
        char
        for char in unicodedata.normalize("NFKD", (text or "").lower())
        if not unicodedata.combining(char)
    )
    for alarm_type, words in _KEYWORDS:
        if any(word in folded for word in words):
            return alarm_type
    return AlarmType.ASSAULT


def receive_text(
    ctx: CheckinContext,
    *,
    message_id: str,
    from_number: str | None,
    text: str,
    remote_addr: str | None = None,
) -> AlarmReceipt | None:
    """Store (then escalate) the alarm a text raises; None when the sender is unknown."""
    sender = _sender(ctx, from_number)
    if sender is None:
        keep_refused(
            ctx, "sms", "sms_unknown_sender", None, remote_addr, text.encode("utf-8", "replace")
        )
        return None
    device_id, beneficiary_id = sender
    location = find_location(text)
    report = AlarmReport(
        alarm_id=message_id[:64],
        alarm_type=alarm_type_in(text),
        location=location,
        warnings=() if location else ("no_location",),
    )
    receipt = alarms.store(
        ctx, f"sms:{message_id[:64]}", "sms", report, device_id, beneficiary_id, None
    )
    if not receipt.duplicate:
        alarms.escalate(ctx, receipt.stored_id)
    return receipt


def _sender(ctx: CheckinContext, from_number: str | None) -> tuple[str | None, str] | None:
    if not from_number:
        return None
    try:
        digest = lookup_hash(to_e164(from_number))
    except InvalidPhoneNumber:
        return None
    try:
        with ctx.sessions() as db:
            device = db.scalar(select(Device).where(Device.number_hash == digest, Device.active))
            if device is not None:
                return device.id, device.beneficiary_id
            owner = db.scalar(
                select(Beneficiary.id)
                .join(BeneficiaryPhone)
                .where(BeneficiaryPhone.number_hash == digest)
                .limit(1)
            )
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the alarm store is unavailable; retry") from exc
    if owner is None:
        return None
    active_device = None
    with ctx.sessions() as db:
        active_device = db.scalar(
            select(Device.id).where(Device.beneficiary_id == owner, Device.active).limit(1)
        )
    return active_device, owner
