"""The caseworkers' beneficiary form: what was typed, and each field's problem.

The form comes in sections (``identity``, ``phones``, ``windows``, ``plan``, ``secrets``), each
announced by a hidden ``section`` field: a section that was not submitted is left as stored, so
a save changes only what was sent. Parsing keeps every value as typed, so a form with errors is
shown again as it was (the PIN fields excepted: they are never sent back to a browser).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from werkzeug.datastructures import MultiDict

from checkins.pins import secret_problem
from checkins.register import MAX_LONG, MAX_PHONES, MAX_REFERENCE, MAX_SHORT, PHONE_KINDS
from checkins.schedule import DEFAULT_CADENCE_DAYS
from checkins.windows import InvalidWindow, SafeWindow, zone
from locales.markers import N_
from settings import SUPPORTED_LOCALES
from store.phone_numbers import InvalidPhoneNumber, to_e164
from store.vocabulary import RiskLevel

SECTIONS = ("identity", "phones", "windows", "plan", "secrets")
SECTION_FIELDS = {
    "identity": (
        "reference",
        "full_name",
        "address",
        "line_id",
        "preferred_locale",
        "risk_level",
        "risk_reason",
        "timezone",
        "notes",
        "safety_plan",
    ),
    "phones": ("phones",),
    "windows": ("windows",),
    "plan": ("plan_active", "cadence_days", "next_due"),
    "secrets": (),
}
CADENCES = (1, 3, 7, 15, 30)
"""Days between check-ins a caseworker may choose (the console's caller card offers the same);
the risk's own cadence still applies when it is shorter."""
MAX_WINDOWS = 10
SPARE_ROWS = 2
"""Empty phone and window rows shown under the filled ones, to add without a script."""
DUE_FORMAT = "%Y-%m-%dT%H:%M"
"""``<input type="datetime-local">``'s value, on her own wall clock."""

ERRORS = {
    "required": N_("console.beneficiary.error.required"),
    "too_long": N_("console.beneficiary.error.too_long"),
    "unknown_line": N_("console.beneficiary.error.unknown_line"),
    "unknown_locale": N_("console.beneficiary.error.unknown_locale"),
    "unknown_risk": N_("console.beneficiary.error.unknown_risk"),
    "unknown_zone": N_("console.beneficiary.error.unknown_zone"),
    "bad_phone": N_("console.beneficiary.error.bad_phone"),
    "bad_phone_kind": N_("console.beneficiary.error.bad_phone_kind"),
    "phone_repeated": N_("console.beneficiary.error.phone_repeated"),
    "phone_taken": N_("console.beneficiary.error.phone_taken"),
    "phone_required": N_("console.beneficiary.error.phone_required"),
    "one_primary": N_("console.beneficiary.error.one_primary"),
    "bad_window": N_("console.beneficiary.error.bad_window"),
    "bad_cadence": N_("console.beneficiary.error.bad_cadence"),
    "bad_due": N_("console.beneficiary.error.bad_due"),
    "pin_format": N_("console.beneficiary.error.pin_format"),
    "duress_format": N_("console.beneficiary.error.duress_format"),
    "pin_pair": N_("console.beneficiary.error.pin_pair"),
    "reference_taken": N_("console.beneficiary.error.reference_taken"),
    "risk_reason_required": N_("console.beneficiary.error.risk_reason_required"),
}


@dataclass
class PhoneRow:
    number: str = ""
    kind: str = "primary"


@dataclass
class WindowRow:
    days: list[str] = field(default_factory=list)
    start: str = ""
    end: str = ""


@dataclass
class BeneficiaryForm:
    """The form's fields as text, exactly as typed (or as stored, for an edit)."""

    sections: frozenset[str] = frozenset(SECTIONS)
    reference: str = ""
    full_name: str = ""
    address: str = ""
    line_id: str = ""
    preferred_locale: str = "es"
    risk_level: str = RiskLevel.NO_APRECIADO.value
    risk_reason: str = ""
    timezone: str = ""
    notes: str = ""
    safety_plan: str = ""
    phones: list[PhoneRow] = field(default_factory=list)
    windows: list[WindowRow] = field(default_factory=list)
    plan_active: bool = True
    cadence_days: str = ""
    next_due: str = ""
    pin: str = field(default="", repr=False)
    duress_digit: str = field(default="", repr=False)

    @classmethod
    def from_request(cls, data: MultiDict[str, str]) -> BeneficiaryForm:
        sections = frozenset(s for s in data.getlist("section") if s in SECTIONS)

        def text(name: str) -> str:
            return str(data.get(name, "") or "").strip()

        phones = [
            PhoneRow(text(f"phone-{i}-number"), text(f"phone-{i}-kind") or "primary")
            for i in range(MAX_PHONES)
            if f"phone-{i}-number" in data
        ]
        windows = [
            WindowRow(
                [str(day) for day in data.getlist(f"window-{i}-days")],
                text(f"window-{i}-start"),
                text(f"window-{i}-end"),
            )
            for i in range(MAX_WINDOWS)
            if f"window-{i}-start" in data or f"window-{i}-days" in data
        ]
        return cls(
            sections=sections,
            reference=text("reference"),
            full_name=text("full_name"),
            address=text("address"),
            line_id=text("line_id"),
            preferred_locale=text("preferred_locale"),
            risk_level=text("risk_level"),
            risk_reason=text("risk_reason"),
            timezone=text("timezone"),
            notes=str(data.get("notes", "") or "").strip(),
            safety_plan=str(data.get("safety_plan", "") or "").strip(),
            phones=[row for row in phones if row.number],
            windows=[row for row in windows if row.days or row.start or row.end],
            plan_active=data.get("plan_active") in ("1", "on", "true"),
            cadence_days=text("cadence_days"),
            next_due=text("next_due"),
            pin=str(data.get("pin", "") or "").strip(),
            duress_digit=str(data.get("duress_digit", "") or "").strip(),
        )

    def without_secrets(self) -> BeneficiaryForm:
        """The form to show again: everything typed but the PIN and the duress digit."""
        return replace(self, pin="", duress_digit="")

    def over(self, stored: BeneficiaryForm) -> BeneficiaryForm:
        """The stored form with this one's submitted sections on top, to show again."""
        typed = {
            name: getattr(self, name)
            for section in self.sections
            for name in SECTION_FIELDS[section]
        }
        return replace(stored, **typed)

    def rows(self) -> tuple[list[PhoneRow], list[WindowRow]]:
        """Phone and window rows to render: the filled ones and a few empty ones."""
        # The first number of a woman with none yet is her primary one; the spare rows after it
        # are safe alternatives (exactly one primary is required).
        first = [] if self.phones else [PhoneRow(kind="primary")]
        spare = [PhoneRow(kind="safe_alternative") for _ in range(SPARE_ROWS)]
        phones = self.phones + first + spare
        windows = self.windows + [WindowRow() for _ in range(SPARE_ROWS)]
        return phones[:MAX_PHONES], windows[:MAX_WINDOWS]


@dataclass(frozen=True)
class LineChoice:
    id: str
    name: str
    jurisdiction: str
    timezone: str


@dataclass(frozen=True)
class Identity:
    reference: str
    full_name: str
    address: str | None
    line_id: str
    preferred_locale: str
    risk_level: RiskLevel
    risk_reason: str | None
    timezone: str
    notes: str | None
    safety_plan: str | None


@dataclass(frozen=True)
class Plan:
    active: bool
    cadence_days: int
    next_due_at: datetime | None
    """None: the caseworker left it empty (the service sets it one cadence from now)."""
    next_due_text: str


@dataclass
class CheckedForm:
    """The submitted sections, checked; a section not submitted is None."""

    identity: Identity | None = None
    phones: list[tuple[str, str]] | None = None
    windows: list[dict[str, Any]] | None = None
    plan: Plan | None = None
    secrets: tuple[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Stored:
    """What the check needs from the stored record when a section is not resubmitted."""

    line_id: str | None = None
    timezone: str | None = None
    has_secrets: bool = False


def check(
    form: BeneficiaryForm, lines: Mapping[str, LineChoice], stored: Stored | None
) -> tuple[CheckedForm, dict[str, str]]:
    """Check every submitted section; ``stored`` is None for a new beneficiary (then every
    section is required). Returns the checked values and ``{field: error key}``."""
    errors: dict[str, str] = {}
    checked = CheckedForm()
    creating = stored is None
    stored = stored or Stored()
    sections = frozenset(SECTIONS) if creating else form.sections
    if creating and form.sections != frozenset(SECTIONS):
        errors["form"] = "required"
    line_id = form.line_id if "identity" in sections else (stored.line_id or "")
    line = lines.get(line_id)
    if "identity" in sections:
        checked.identity = _identity(form, line, errors)
    tz_name = checked.identity.timezone if checked.identity else stored.timezone
    if "phones" in sections:
        checked.phones = _phones(form, line.jurisdiction if line else None, errors)
    if "windows" in sections:
        checked.windows = _windows(form, errors)
    if "plan" in sections:
        checked.plan = _plan(form, tz_name, errors)
    if "secrets" in sections:
        checked.secrets = _secrets(form, required=creating or not stored.has_secrets, errors=errors)
    return checked, errors


def _text(
    value: str, name: str, errors: dict[str, str], *, required: bool = False, limit: int = MAX_SHORT
) -> str | None:
    if not value:
        if required:
            errors[name] = "required"
        return None
    if len(value) > limit:
        errors[name] = "too_long"
    return value


def _identity(form: BeneficiaryForm, line: LineChoice | None, errors: dict[str, str]) -> Identity:
    full_name = _text(form.full_name, "full_name", errors, required=True)
    reference = _text(form.reference, "reference", errors, limit=MAX_REFERENCE)
    if line is None:
        errors["line_id"] = "required" if not form.line_id else "unknown_line"
    if form.preferred_locale not in SUPPORTED_LOCALES:
        errors["preferred_locale"] = "unknown_locale"
    try:
        risk = RiskLevel(form.risk_level)
    except ValueError:
        errors["risk_level"] = "unknown_risk"
        risk = RiskLevel.NO_APRECIADO
    tz_name = form.timezone or (line.timezone if line else "")
    if tz_name:
        try:
            zone(tz_name)
        except InvalidWindow:
            errors["timezone"] = "unknown_zone"
    return Identity(
        reference=reference or "",
        full_name=full_name or "",
        address=_text(form.address, "address", errors, limit=MAX_LONG),
        line_id=line.id if line else "",
        preferred_locale=form.preferred_locale,
        risk_level=risk,
        risk_reason=_text(form.risk_reason, "risk_reason", errors, limit=MAX_LONG),
        timezone=tz_name,
        notes=_text(form.notes, "notes", errors, limit=MAX_LONG),
        safety_plan=_text(form.safety_plan, "safety_plan", errors, limit=MAX_LONG),
    )


def _phones(
    form: BeneficiaryForm, region: str | None, errors: dict[str, str]
) -> list[tuple[str, str]]:
    """``(E.164, kind)`` per row; exactly one primary, no number twice."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, row in enumerate(form.phones):
        name = f"phone-{index}-number"
        if row.kind not in PHONE_KINDS:
            errors[f"phone-{index}-kind"] = "bad_phone_kind"
        try:
            e164 = to_e164(row.number, region)
        except InvalidPhoneNumber:
            errors[name] = "bad_phone"
            continue
        if e164 in seen:
            errors[name] = "phone_repeated"
            continue
        seen.add(e164)
        found.append((e164, row.kind))
    if not form.phones:
        errors["phones"] = "phone_required"
    elif sum(1 for row in form.phones if row.kind == "primary") != 1:
        errors["phones"] = "one_primary"
    return found


def _windows(form: BeneficiaryForm, errors: dict[str, str]) -> list[dict[str, Any]]:
    """In :mod:`checkins.windows`' stored shape; no windows at all is allowed (she is then
    never called, and the planner opens a caseworker task instead)."""
    found = []
    for index, row in enumerate(form.windows):
        try:
            window = SafeWindow.from_dict({"days": row.days, "start": row.start, "end": row.end})
        except InvalidWindow:
            errors[f"window-{index}"] = "bad_window"
            continue
        found.append(window.to_dict())
    return found


def _plan(form: BeneficiaryForm, tz_name: str | None, errors: dict[str, str]) -> Plan:
    cadence = int(form.cadence_days) if form.cadence_days.isdigit() else 0
    if cadence not in CADENCES:
        errors["cadence_days"] = "bad_cadence"
    due: datetime | None = None
    if form.next_due:
        try:
            local = datetime.strptime(form.next_due, DUE_FORMAT)
            due = local.replace(tzinfo=_zone_or_utc(tz_name)).astimezone(UTC)
        except ValueError:
            errors["next_due"] = "bad_due"
    return Plan(form.plan_active, cadence, due, form.next_due)


def _zone_or_utc(name: str | None) -> tzinfo:
    try:
        return zone(name) if name else UTC
    except InvalidWindow:
        return UTC


def _secrets(
    form: BeneficiaryForm, *, required: bool, errors: dict[str, str]
) -> tuple[str, str] | None:
    """Both or neither: a duress digit is only checked against the PIN it goes with, and a
    stored hash cannot tell its last digit."""
    if not form.pin and not form.duress_digit:
        if required:
            errors["pin"] = "required"
            errors["duress_digit"] = "required"
        return None
    if not form.pin or not form.duress_digit:
        errors["pin" if not form.pin else "duress_digit"] = "pin_pair"
        return None
    problem = secret_problem(form.pin, form.duress_digit)
    if problem is not None:
        errors["pin" if problem == "pin_format" else "duress_digit"] = problem
        return None
    return form.pin, form.duress_digit


def due_text(at: datetime | None, tz_name: str | None) -> str:
    """A stored due date on her wall clock, as the form shows it."""
    return at.astimezone(_zone_or_utc(tz_name)).strftime(DUE_FORMAT) if at else ""


def default_cadence(risk: str) -> int:
    try:
        return DEFAULT_CADENCE_DAYS[RiskLevel(risk)]
    except ValueError:
        return DEFAULT_CADENCE_DAYS[RiskLevel.NO_APRECIADO]
