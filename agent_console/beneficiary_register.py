"""The beneficiary register: caseworkers find, register and keep current a woman's record.

Every save is one transaction with its audit entry (``beneficiary_created`` /
``beneficiary_changed``, naming the fields changed, never their values). Opening a record
decrypts her file and is audited as ``beneficiary_file_viewed``; a search is audited as
``beneficiary_searched`` with how it searched and the ids it found. Phone numbers are found by
their lookup hash only; PINs and duress digits are stored as argon2 hashes and never read back.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from agent_console.beneficiary_form import (
    BeneficiaryForm,
    CheckedForm,
    LineChoice,
    PhoneRow,
    Stored,
    WindowRow,
    check,
    default_cadence,
    due_text,
)
from checkins.register import assign_phones
from store import audit
from store.credentials import hash_secret
from store.models import Beneficiary, BeneficiaryPhone, Device, Line
from store.phone_numbers import InvalidPhoneNumber, lookup_hash, to_e164
from store.records import CheckinPlan
from store.vocabulary import RiskLevel

log = logging.getLogger(__name__)

_ID = re.compile(r"[0-9a-f]{32}")
_PHONE_LIKE = re.compile(r"\+?[0-9][0-9 ().\-]{5,}")


class FormInvalid(Exception):
    """The form cannot be saved; ``errors`` maps each field to its error key."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("the beneficiary form has errors")
        self.errors = errors


class UnknownBeneficiary(Exception):
    error_id = "console.unknown_beneficiary"


@dataclass(frozen=True)
class SearchHit:
    id: str
    reference: str
    risk_level: str
    line: str | None


@dataclass(frozen=True)
class DeviceView:
    serial: str
    active: bool


@dataclass(frozen=True)
class RecordView:
    id: str
    form: BeneficiaryForm
    has_secrets: bool
    devices: list[DeviceView]


class BeneficiaryRegister:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], float]) -> None:
        self._sessions = sessions
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def lines(self) -> dict[str, LineChoice]:
        with self._sessions() as db:
            return {
                line.id: LineChoice(line.id, line.name, line.jurisdiction, line.timezone)
                for line in db.scalars(select(Line).order_by(Line.name))
            }

    def blank_form(self) -> BeneficiaryForm:
        lines = self.lines()
        first = next(iter(lines.values()), None)
        risk = RiskLevel.NO_APRECIADO.value
        return BeneficiaryForm(
            line_id=first.id if first and len(lines) == 1 else "",
            risk_level=risk,
            cadence_days=str(default_cadence(risk)),
        )

    def search(self, query: str, actor_id: str) -> list[SearchHit]:
        """By id, by reference, or by phone number (its lookup hash, under every region of
        the configured lines when it is written without its country code)."""
        query = query.strip()
        if not query:
            return []
        with self._sessions() as db, db.begin():
            if _ID.fullmatch(query.lower()):
                by, found = (
                    "id",
                    list(db.scalars(select(Beneficiary).where(Beneficiary.id == query.lower()))),
                )
            elif _PHONE_LIKE.fullmatch(query):
                by, found = "phone", self._by_phone(db, query)
            else:
                by = "reference"
                # References are typed as read out ("demo-002" finds DEMO-002).
                same = func.upper(Beneficiary.reference) == query.upper()
                found = list(db.scalars(select(Beneficiary).where(same)))
            names = {line.id: line.name for line in db.scalars(select(Line))}
            hits = [
                SearchHit(b.id, b.reference, str(b.risk_level), names.get(b.line_id or ""))
                for b in found
            ]
            audit.record(
                db,
                actor_type="agent",
                actor_id=actor_id,
                action="beneficiary_searched",
                subject_type="beneficiary",
                detail={"by": by, "found": [hit.id for hit in hits]},
            )
        return hits

    def _by_phone(self, db: Session, raw: str) -> list[Beneficiary]:
        regions: list[str | None] = [None]
        regions += sorted(set(db.scalars(select(Line.jurisdiction))))
        hashes = set()
        for region in regions:
            try:
                hashes.add(lookup_hash(to_e164(raw, region)))
            except InvalidPhoneNumber:
                continue
        if not hashes:
            return []
        owners = set(
            db.scalars(
                select(BeneficiaryPhone.beneficiary_id).where(
                    BeneficiaryPhone.number_hash.in_(hashes)
                )
            )
        )
        owners |= set(
            db.scalars(select(Device.beneficiary_id).where(Device.number_hash.in_(hashes)))
        )
        if not owners:
            return []
        return list(
            db.scalars(
                select(Beneficiary)
                .where(Beneficiary.id.in_(owners))
                .order_by(Beneficiary.reference)
            )
        )

    def record(self, beneficiary_id: str, actor_id: str) -> RecordView:
        """Her record as the form shows it, decrypted; audited as a read of her file."""
        with self._sessions() as db, db.begin():
            row = db.get(Beneficiary, beneficiary_id)
            if row is None:
                raise UnknownBeneficiary(beneficiary_id)
            plan = _plan_of(db, row.id)
            audit.record(
                db,
                actor_type="agent",
                actor_id=actor_id,
                action="beneficiary_file_viewed",
                subject_type="beneficiary",
                subject_id=row.id,
                detail={"via": "register"},
            )
            form = BeneficiaryForm(
                reference=row.reference,
                full_name=row.full_name,
                address=row.address or "",
                line_id=row.line_id or "",
                preferred_locale=row.preferred_locale,
                risk_level=str(row.risk_level),
                timezone=row.timezone,
                notes=row.notes or "",
                safety_plan=row.safety_plan or "",
                phones=[
                    PhoneRow(phone.number, phone.kind)
                    for phone in sorted(row.phones, key=lambda p: (p.kind != "primary", p.id))
                ],
                windows=[
                    WindowRow(
                        [str(day) for day in w.get("days", [])],
                        w.get("start", ""),
                        w.get("end", ""),
                    )
                    for w in row.safe_call_windows or []
                ],
                plan_active=plan.active if plan else False,
                cadence_days=str(
                    plan.cadence_days if plan else default_cadence(str(row.risk_level))
                ),
                next_due=due_text(plan.next_due_at if plan else None, row.timezone),
            )
            devices = [
                DeviceView(d.serial, d.active) for d in sorted(row.devices, key=lambda d: d.serial)
            ]
            return RecordView(row.id, form, bool(row.pin_hash and row.duress_digit_hash), devices)

    def create(self, form: BeneficiaryForm, actor_id: str) -> str:
        checked, errors = check(form, self.lines(), None)
        if errors:
            raise FormInvalid(errors)
        assert checked.identity is not None
        try:
            with self._sessions() as db, db.begin():
                identity = checked.identity
                reference = identity.reference or _new_reference()
                row = Beneficiary(
                    reference=reference,
                    full_name=identity.full_name,
                    preferred_locale=identity.preferred_locale,
                    timezone=identity.timezone,
                    risk_level=identity.risk_level,
                    risk_reviewed_at=self._now(),
                    line_id=identity.line_id,
                    safe_call_windows=[],
                )
                db.add(row)
                changed = self._apply(db, row, checked, actor_id, creating=True)
                db.flush()
                audit.record(
                    db,
                    actor_type="agent",
                    actor_id=actor_id,
                    action="beneficiary_created",
                    subject_type="beneficiary",
                    subject_id=row.id,
                    detail={"fields": changed},
                )
                beneficiary_id = row.id
        except IntegrityError as exc:
            raise FormInvalid({"reference": "reference_taken"}) from exc
        log.info("beneficiary_id=%s registered by agent_id=%s", beneficiary_id, actor_id)
        return beneficiary_id

    def update(self, beneficiary_id: str, form: BeneficiaryForm, actor_id: str) -> list[str]:
        """Apply the submitted sections; returns the names of the fields that changed."""
        lines = self.lines()
        try:
            with self._sessions() as db, db.begin():
                row = db.get(Beneficiary, beneficiary_id)
                if row is None:
                    raise UnknownBeneficiary(beneficiary_id)
                stored = Stored(
                    line_id=row.line_id,
                    timezone=row.timezone,
                    has_secrets=bool(row.pin_hash and row.duress_digit_hash),
                )
                checked, errors = check(form, lines, stored)
                if errors:
                    raise FormInvalid(errors)
                changed = self._apply(db, row, checked, actor_id, creating=False)
                if changed:
                    audit.record(
                        db,
                        actor_type="agent",
                        actor_id=actor_id,
                        action="beneficiary_changed",
                        subject_type="beneficiary",
                        subject_id=row.id,
                        detail={"fields": changed},
                    )
        except IntegrityError as exc:
            raise FormInvalid({"reference": "reference_taken"}) from exc
        if changed:
            log.info("beneficiary_id=%s changed by agent_id=%s", beneficiary_id, actor_id)
        return changed

    def _apply(
        self,
        db: Session,
        row: Beneficiary,
        checked: CheckedForm,
        actor_id: str,
        *,
        creating: bool,
    ) -> list[str]:
        changed: list[str] = []
        errors: dict[str, str] = {}
        if checked.identity is not None:
            changed += self._apply_identity(db, row, checked, actor_id, creating, errors)
        if checked.phones is not None:
            changed += _apply_phones(db, row, checked.phones, errors)
        if checked.windows is not None and checked.windows != (row.safe_call_windows or []):
            row.safe_call_windows = checked.windows
            changed.append("safe_call_windows")
        if checked.secrets is not None:
            pin, duress = checked.secrets
            row.pin_hash = hash_secret(pin)
            row.duress_digit_hash = hash_secret(duress)
            changed.append("pin")
        if errors:
            raise FormInvalid(errors)
        if checked.plan is not None:
            db.flush()
            changed += self._apply_plan(db, row.id, checked)
        return changed

    def _apply_identity(
        self,
        db: Session,
        row: Beneficiary,
        checked: CheckedForm,
        actor_id: str,
        creating: bool,
        errors: dict[str, str],
    ) -> list[str]:
        """Lowering her risk needs a reason and is audited (``risk_lowered``): only a person
        may lower it."""
        identity = checked.identity
        assert identity is not None
        stored_risk = RiskLevel.NO_APRECIADO if creating else RiskLevel(row.risk_level)
        changed = []
        if identity.reference and identity.reference != row.reference:
            taken = db.scalar(
                select(Beneficiary.id).where(
                    Beneficiary.reference == identity.reference, Beneficiary.id != row.id
                )
            )
            if taken:
                errors["reference"] = "reference_taken"
            row.reference = identity.reference
            changed.append("reference")
        values: dict[str, Any] = {
            "full_name": identity.full_name,
            "address": identity.address,
            "line_id": identity.line_id,
            "preferred_locale": identity.preferred_locale,
            "timezone": identity.timezone,
            "notes": identity.notes,
            "safety_plan": identity.safety_plan,
        }
        for name, value in values.items():
            if creating or getattr(row, name) != value:
                setattr(row, name, value)
                changed.append(name)
        if identity.risk_level != stored_risk or creating:
            if not creating and identity.risk_level.rank < stored_risk.rank:
                if identity.risk_reason is None:
                    errors["risk_reason"] = "risk_reason_required"
                else:
                    audit.record(
                        db,
                        actor_type="agent",
                        actor_id=actor_id,
                        action="risk_lowered",
                        subject_type="beneficiary",
                        subject_id=row.id,
                        reason=identity.risk_reason,
                        detail={"from": stored_risk.value, "to": identity.risk_level.value},
                    )
            row.risk_level = identity.risk_level
            row.risk_reviewed_at = self._now()
            changed.append("risk_level")
        return changed

    def _apply_plan(self, db: Session, beneficiary_id: str, checked: CheckedForm) -> list[str]:
        plan_in = checked.plan
        assert plan_in is not None
        plan = _plan_of(db, beneficiary_id)
        if plan is None:
            if not plan_in.active:
                return []
            plan = CheckinPlan(beneficiary_id=beneficiary_id, cadence_days=plan_in.cadence_days)
            db.add(plan)
        changed = []
        if plan.cadence_days != plan_in.cadence_days:
            plan.cadence_days = plan_in.cadence_days
            changed.append("plan.cadence_days")
        if plan.active != plan_in.active:
            plan.active = plan_in.active
            changed.append("plan.active")
        tz_name = checked.identity.timezone if checked.identity else None
        shown = due_text(plan.next_due_at, tz_name or _timezone_of(db, beneficiary_id))
        if plan_in.next_due_at is None:
            # Left empty: one cadence from now, as the caller card does.
            plan.next_due_at = self._now() + timedelta(days=plan_in.cadence_days)
            changed.append("plan.next_due_at")
        elif plan_in.next_due_text != shown:
            plan.next_due_at = plan_in.next_due_at
            changed.append("plan.next_due_at")
        return changed


def _apply_phones(
    db: Session, row: Beneficiary, wanted: list[tuple[str, str]], errors: dict[str, str]
) -> list[str]:
    """A number registered to another beneficiary or to a device is refused
    (:func:`checkins.register.assign_phones`)."""
    changed, taken = assign_phones(db, row, wanted)
    for index in taken:
        errors[f"phone-{index}-number"] = "phone_taken"
    return ["phones"] if changed else []


def _plan_of(db: Session, beneficiary_id: str) -> CheckinPlan | None:
    return db.scalar(select(CheckinPlan).where(CheckinPlan.beneficiary_id == beneficiary_id))


def _timezone_of(db: Session, beneficiary_id: str) -> str | None:
    return db.scalar(select(Beneficiary.timezone).where(Beneficiary.id == beneficiary_id))


def _new_reference() -> str:
    return "B-" + secrets.token_hex(5).upper()
