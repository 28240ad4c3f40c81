"""The caseworkers' beneficiary form: parsing keeps what was typed, checking names each
field's problem, and the PIN rule of the duress digit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from agent_console.beneficiary_form import (
    SECTIONS,
    BeneficiaryForm,
    LineChoice,
    Stored,
    check,
)
from checkins.pins import secret_problem

LINES = {"l1": LineChoice("l1", "Línea", "ES", "Europe/Madrid")}


def _data(**changes: object) -> MultiDict[str, str]:
    fields: dict[str, object] = {
        "section": list(SECTIONS),
        "full_name": "Ana García (ficticia)",
        "line_id": "l1",
        "preferred_locale": "es",
        "risk_level": "medio",
        "timezone": "",
        "phone-0-number": "612 345 678",
        "phone-0-kind": "primary",
        "phone-1-number": "",
        "phone-1-kind": "safe_alternative",
        "window-0-days": ["0", "2"],
        "window-0-start": "10:00",
        "window-0-end": "12:30",
        "window-1-start": "",
        "window-1-end": "",
        "plan_active": "1",
        "cadence_days": "15",
        "next_due": "2030-03-04T10:15",
        "pin": "2468",
        "duress_digit": "7",
    }
    fields.update(changes)
    data: MultiDict[str, str] = MultiDict()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            data.add(name, str(item))
    return data


def test_a_complete_form_is_checked_into_stored_shapes() -> None:
    checked, errors = check(BeneficiaryForm.from_request(_data()), LINES, None)
    assert errors == {}
    assert checked.identity is not None
    assert checked.identity.timezone == "Europe/Madrid"  # empty: the line's
    assert checked.phones == [("+34612345678", "primary")]
    assert checked.windows == [{"days": [0, 2], "start": "10:00", "end": "12:30"}]
    assert checked.plan is not None
    assert checked.plan.next_due_at == datetime(2030, 3, 4, 9, 15, tzinfo=UTC)
    assert checked.secrets == ("2468", "7")


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"full_name": ""}, "full_name", "required"),
        ({"line_id": "nope"}, "line_id", "unknown_line"),
        ({"preferred_locale": "xx"}, "preferred_locale", "unknown_locale"),
        ({"risk_level": "huge"}, "risk_level", "unknown_risk"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown_zone"),
        ({"phone-0-number": "12"}, "phone-0-number", "bad_phone"),
        ({"phone-0-number": ""}, "phones", "phone_required"),
        ({"phone-1-number": "+34 612345678"}, "phone-1-number", "phone_repeated"),
        ({"phone-1-number": "+34 622 000 111", "phone-1-kind": "primary"}, "phones", "one_primary"),
        ({"window-0-end": "09:00"}, "window-0", "bad_window"),
        ({"window-0-days": []}, "window-0", "bad_window"),
        ({"cadence_days": "2"}, "cadence_days", "bad_cadence"),
        ({"next_due": "tomorrow"}, "next_due", "bad_due"),
        ({"pin": "123"}, "pin", "pin_format"),
        ({"duress_digit": "8"}, "duress_digit", "duress_format"),
        ({"duress_digit": ""}, "duress_digit", "pin_pair"),
        ({"pin": "", "duress_digit": ""}, "pin", "required"),
    ],
)
def test_each_problem_is_named_on_its_field(
    changes: dict[str, object], field: str, error: str
) -> None:
    _checked, errors = check(BeneficiaryForm.from_request(_data(**changes)), LINES, None)
    assert errors.get(field) == error


def test_an_edit_checks_only_the_submitted_sections_and_may_keep_the_pin() -> None:
    form = BeneficiaryForm.from_request(
        _data(section=["secrets"], pin="", duress_digit="", full_name="")
    )
    checked, errors = check(form, LINES, Stored("l1", "Europe/Madrid", has_secrets=True))
    assert errors == {}
    assert checked.identity is None and checked.phones is None and checked.plan is None
    assert checked.secrets is None


def test_a_form_shown_again_keeps_what_was_typed_but_the_pin() -> None:
    form = BeneficiaryForm.from_request(_data(full_name="Nadia", **{"phone-0-number": "bad"}))
    shown = form.without_secrets()
    assert shown.full_name == "Nadia"
    assert shown.phones[0].number == "bad"
    assert shown.pin == "" and shown.duress_digit == ""


@pytest.mark.parametrize(
    ("pin", "duress", "problem"),
    [
        ("2468", "7", None),
        ("12345678", "0", None),
        ("246", "7", "pin_format"),
        ("123456789", "7", "pin_format"),
        ("24a8", "7", "pin_format"),
        ("٢٤٦٨", "7", "pin_format"),
        ("2468", "8", "duress_format"),
        ("2468", "77", "duress_format"),
        ("2468", "#", "duress_format"),
    ],
)
def test_the_pin_and_duress_digit_rule(pin: str, duress: str, problem: str | None) -> None:
    assert secret_problem(pin, duress) == problem
