"""Beneficiaries registered by an external system (``POST /api/beneficiaries``).

The system names her by its own ``external_ref``, which becomes her ``reference`` (the one its
notifications name). The same ``external_ref`` again from the same system updates her: what is
sent replaces what is stored, what is left out stays. A reference that a person or another
system registered is never touched from here.

Automation may only raise risk: a lower ``risk_level`` than the stored one is refused with
nothing written (a caseworker lowers it in the console, with a reason). Every write is one
transaction with its audit entry (the system as actor, the fields changed, never their
values); personal fields are encrypted by their columns, as in the console's register.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from checkins.errors import ProvisioningConflict, ProvisioningMalformed
from checkins.register import MAX_LONG, MAX_PHONES, MAX_SHORT, assign_phones
from locales import SUPPORTED_LOCALES
from store import audit
from store.models import Beneficiary, Line
from store.phone_numbers import InvalidPhoneNumber, to_e164
from store.vocabulary import RiskLevel

log = logging.getLogger(__name__)

EXTERNAL_REF = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
REQUIRED = ("external_ref", "line", "name", "phones")
OPTIONAL_TEXT = {"address": MAX_LONG, "municipality": MAX_SHORT, "safety_plan": MAX_LONG}
FIELDS = frozenset((*REQUIRED, "locale", "risk_level", *OPTIONAL_TEXT))


@dataclass(frozen=True)
class BeneficiaryRequest:
    """A checked request; ``None`` for an optional field that was left out."""

    external_ref: str
    line_number: str
    name: str
    phones: tuple[str, ...]
    locale: str | None
    risk_level: RiskLevel | None
    texts: dict[str, str | None]
    """``address``, ``municipality``, ``safety_plan`` that were sent (``null`` clears one)."""


@dataclass(frozen=True)
class Provisioned:
    beneficiary_id: str
    created: bool
    changed: tuple[str, ...]


def _malformed(message: str, error_id: str = "provisioning_malformed") -> ProvisioningMalformed:
    return ProvisioningMalformed(message, error_id=error_id)


def parse(raw: dict[str, Any]) -> BeneficiaryRequest:
    """Check the body's shape (not what is stored): 400s with their ``error_id``."""
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise _malformed(f"unknown fields: {', '.join(unknown)}", "provisioning_unknown_field")
    missing = [name for name in REQUIRED if raw.get(name) in (None, "", [])]
    if missing:
        raise _malformed(f"required: {', '.join(missing)}", "provisioning_missing_field")
    ref, line, name, phones = (raw[key] for key in REQUIRED)
    if not isinstance(ref, str) or not EXTERNAL_REF.match(ref):
        raise _malformed("external_ref must be 1-32 of A-Z a-z 0-9 _ . -")
    if not isinstance(line, str) or len(line) > 32:
        raise _malformed("line must be the line's phone number")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_SHORT:
        raise _malformed(f"name must be a text of 1-{MAX_SHORT} characters")
    if (
        not isinstance(phones, list)
        or len(phones) > MAX_PHONES
        or not all(isinstance(item, str) and len(item) <= 32 for item in phones)
    ):
        raise _malformed(f"phones must be a list of 1-{MAX_PHONES} phone numbers")
    locale = raw.get("locale")
    if locale is not None and locale not in SUPPORTED_LOCALES:
        raise _malformed(f"locale must be one of {', '.join(SUPPORTED_LOCALES)}")
    risk = raw.get("risk_level")
    if risk is not None and risk not in {level.value for level in RiskLevel}:
        levels = ", ".join(level.value for level in RiskLevel)
        raise _malformed(f"risk_level must be one of {levels}")
    texts: dict[str, str | None] = {}
    for key, limit in OPTIONAL_TEXT.items():
        if key not in raw:
            continue
        value = raw[key]
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise _malformed(f"{key} must be a text of at most {limit} characters, or null")
        texts[key] = value.strip() or None if isinstance(value, str) else None
    return BeneficiaryRequest(
        external_ref=ref,
        line_number=line,
        name=name.strip(),
        phones=tuple(phones),
        locale=locale,
        risk_level=None if risk is None else RiskLevel(risk),
        texts=texts,
    )


def provision(
    sessions: sessionmaker[Session],
    system_id: str,
    request: BeneficiaryRequest,
    now: Callable[[], datetime],
) -> Provisioned:
    """Register her, or update her when this system already registered ``external_ref``.

    Raises:
        ProvisioningMalformed: an unknown line, a number that is not one, a number twice.
        ProvisioningConflict: a lower risk, a number someone else has, a reference that a
            person or another system registered.
    """
    for attempt in (1, 2):
        try:
            with sessions() as db, db.begin():
                done = _provision(db, system_id, request, now())
        except IntegrityError:
            # Two requests with one new external_ref at once: the second is an update.
            if attempt == 2:
                raise
            continue
        log.info(
            "beneficiary_id=%s %s by system_id=%s",
            done.beneficiary_id,
            "provisioned" if done.created else "updated",
            system_id,
        )
        return done
    raise AssertionError("unreachable")


def _provision(
    db: Session, system_id: str, request: BeneficiaryRequest, now: datetime
) -> Provisioned:
    line = _line(db, request.line_number)
    phones = _phones(request.phones, line.jurisdiction)
    row = db.scalar(select(Beneficiary).where(Beneficiary.reference == request.external_ref))
    created = row is None
    if row is None:
        row = Beneficiary(
            reference=request.external_ref,
            provisioned_by=system_id,
            risk_level=RiskLevel.NO_APRECIADO,
            risk_reviewed_at=now,
            safe_call_windows=[],
        )
        db.add(row)
    elif row.provisioned_by != system_id:
        raise ProvisioningConflict(
            "this external_ref names a beneficiary this system did not register",
            error_id="provisioning_reference_taken",
        )
    changed = _apply(row, request, line, now, created)
    phones_changed, taken = assign_phones(db, row, phones)
    if taken:
        raise ProvisioningConflict(
            f"phones[{taken[0]}] is registered to someone else", error_id="provisioning_phone_taken"
        )
    if phones_changed:
        changed.append("phones")
    db.flush()
    if changed:
        audit.record(
            db,
            actor_type="system",
            actor_id=system_id,
            action="beneficiary_created" if created else "beneficiary_changed",
            subject_type="beneficiary",
            subject_id=row.id,
            detail={"fields": changed, "via": "api"},
        )
    return Provisioned(row.id, created, tuple(changed))


def _apply(
    row: Beneficiary, request: BeneficiaryRequest, line: Line, now: datetime, created: bool
) -> list[str]:
    stored_risk = RiskLevel(row.risk_level)
    wanted_risk = request.risk_level or stored_risk
    if wanted_risk.rank < stored_risk.rank:
        raise ProvisioningConflict(
            f"risk_level is {stored_risk.value}: only a person lowers it, in the console",
            error_id="risk_lowering_refused",
        )
    values: dict[str, Any] = {"full_name": request.name, "line_id": line.id}
    if created or row.line_id != line.id:
        values["timezone"] = line.timezone
    if request.locale is not None or created:
        values["preferred_locale"] = request.locale or line.default_locale
    values.update(request.texts)
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    if wanted_risk != stored_risk:
        row.risk_level = wanted_risk
        row.risk_reviewed_at = now
        changed.append("risk_level")
    return changed


def _line(db: Session, raw: str) -> Line:
    regions: list[str | None] = [None, *sorted(set(db.scalars(select(Line.jurisdiction))))]
    for region in regions:
        try:
            number = to_e164(raw, region)
        except InvalidPhoneNumber:
            continue
        line = db.scalar(select(Line).where(Line.number == number))
        if line is not None:
            return line
    raise _malformed(
        "line is not the number of a line of this hotline", "provisioning_unknown_line"
    )


def _phones(raw: tuple[str, ...], region: str) -> list[tuple[str, str]]:
    """``(E.164, kind)``: the first number is her primary one, the others safe alternatives."""
    found: list[tuple[str, str]] = []
    for index, number in enumerate(raw):
        try:
            e164 = to_e164(number, region)
        except InvalidPhoneNumber:
            raise _malformed(
                f"phones[{index}] is not a phone number", "provisioning_bad_phone"
            ) from None
        if any(e164 == seen for seen, _ in found):
            raise _malformed(f"phones[{index}] is listed twice", "provisioning_bad_phone")
        found.append((e164, "primary" if index == 0 else "safe_alternative"))
    return found
