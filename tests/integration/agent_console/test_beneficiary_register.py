"""Caseworkers register a woman and keep her record current from the console; she is then
recognised when she calls and her check-ins get planned."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from checkins import planner
from checkins.pins import check_pin
from ivr_flows.events import PinResult
from runtime import Runtime
from store.models import Beneficiary
from store.records import AuditEntry, Call, CheckinPlan
from store.vocabulary import RiskLevel
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import SignedIn
from tests.integration.checkins.helpers import attempts_of, deactivate_other_plans, future_monday

MADRID = ZoneInfo("Europe/Madrid")
PIN = "73915846"
DURESS = "2"
SECTIONS = ["identity", "phones", "windows", "plan", "secrets"]


def _number() -> str:
    return "+3465" + datetime.now(UTC).strftime("%H%M%S%f")[-7:]


def _form(hotline: Hotline, number: str, **changes: Any) -> dict[str, Any]:
    due = datetime.combine(future_monday(), time(10, 30))
    form: dict[str, Any] = {
        "section": SECTIONS,
        "full_name": "Nadia Benali (ficticia)",
        "reference": "",
        "line_id": hotline.line_id,
        "preferred_locale": "ar",
        "risk_level": "alto",
        "timezone": "Europe/Madrid",
        "notes": "Prefiere mañanas.",
        "safety_plan": "Bolsa en casa de su hermana.",
        "phone-0-number": number,
        "phone-0-kind": "primary",
        "phone-1-number": "",
        "phone-1-kind": "safe_alternative",
        "window-0-days": ["0", "1", "2", "3", "4"],
        "window-0-start": "10:00",
        "window-0-end": "13:00",
        "plan_active": "1",
        "cadence_days": "7",
        "next_due": due.strftime("%Y-%m-%dT%H:%M"),
        "pin": PIN,
        "duress_digit": DURESS,
    }
    form.update(changes)
    return form


def _post(who: SignedIn, url: str, form: dict[str, Any]) -> Any:
    return who.client.post(url, data={**form, "csrf_token": who.csrf})


def _register(who: SignedIn, hotline: Hotline, number: str, **changes: Any) -> str:
    response = _post(who, "/beneficiaries", _form(hotline, number, **changes))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    found = re.fullmatch(r".*/beneficiaries/([0-9a-f]{32})\?saved=1", response.headers["Location"])
    assert found is not None, response.headers["Location"]
    return found.group(1)


def _stored(sessions: sessionmaker[Session], beneficiary_id: str) -> Beneficiary:
    with sessions() as db:
        row = db.get(Beneficiary, beneficiary_id)
        assert row is not None
        _ = row.phones, row.devices
        db.expunge(row)
        return row


def test_a_registered_woman_is_recognised_when_she_calls_and_her_check_ins_are_planned(
    runtime: Runtime,
    hotline: Hotline,
    supervisor: SignedIn,
    db_sessions: sessionmaker[Session],
) -> None:
    deactivate_other_plans(db_sessions)
    number = _number()
    beneficiary_id = _register(supervisor, hotline, number)

    stored = _stored(db_sessions, beneficiary_id)
    assert stored.full_name == "Nadia Benali (ficticia)"
    assert stored.risk_level == RiskLevel.ALTO
    assert stored.reference.startswith("B-")
    assert stored.safe_call_windows == [{"days": [0, 1, 2, 3, 4], "start": "10:00", "end": "13:00"}]
    assert [(p.number, p.kind) for p in stored.phones] == [(number, "primary")]
    assert check_pin(stored.pin_hash, stored.duress_digit_hash, PIN) is PinResult.OK
    assert check_pin(stored.pin_hash, stored.duress_digit_hash, PIN + DURESS) is PinResult.DURESS
    with db_sessions() as db:
        entry = db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "beneficiary_created", AuditEntry.subject_id == beneficiary_id
            )
        )
        assert entry is not None
        assert entry.actor_id == supervisor.account.agent_id
        assert "pin" in entry.detail["fields"]

    call = runtime.simulator.dial(hotline.line_number, number)
    with db_sessions() as db:
        row = db.get(Call, call.call_id)
        assert row is not None
        assert row.beneficiary_id == beneficiary_id

    with db_sessions() as db:
        plan = db.scalar(select(CheckinPlan).where(CheckinPlan.beneficiary_id == beneficiary_id))
        assert plan is not None and plan.active and plan.cadence_days == 7
        due = plan.next_due_at
    assert due == datetime.combine(future_monday(), time(10, 30), tzinfo=MADRID)
    ctx = runtime.checkins
    assert planner.plan_due(ctx, now=due).planned >= 1
    attempts = attempts_of(db_sessions, beneficiary_id)
    assert len(attempts) == 1
    assert attempts[0].scheduled_at == due


def test_the_pin_is_never_shown_logged_or_stored_in_clear(
    hotline: Hotline,
    supervisor: SignedIn,
    db_sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    number = _number()
    beneficiary_id = _register(supervisor, hotline, number)
    page = supervisor.client.get(f"/beneficiaries/{beneficiary_id}").get_data(as_text=True)
    assert "Nadia Benali" in page
    assert PIN not in page
    refused = _post(supervisor, "/beneficiaries", _form(hotline, _number(), full_name=""))
    assert refused.status_code == 400
    assert PIN not in refused.get_data(as_text=True)

    assert PIN not in caplog.text and number not in caplog.text
    assert "Nadia" not in caplog.text
    with db_sessions() as db:
        raw = db.execute(
            text("SELECT * FROM beneficiaries WHERE id = :id"), {"id": beneficiary_id}
        ).one()
        phones = db.execute(
            text("SELECT * FROM beneficiary_phones WHERE beneficiary_id = :id"),
            {"id": beneficiary_id},
        ).all()
        audit_rows = db.execute(
            text("SELECT detail FROM audit_entries WHERE subject_id = :id"), {"id": beneficiary_id}
        ).all()
    stored = " ".join(str(value) for value in (*raw, *[v for row in phones for v in row]))
    stored += " ".join(str(row) for row in audit_rows)
    assert PIN not in stored
    assert number not in stored and number[1:] not in stored
    assert "Nadia" not in stored


def test_an_agent_is_refused(hotline: Hotline, agent: SignedIn) -> None:
    assert agent.client.get("/beneficiaries").status_code == 403
    assert agent.client.get("/beneficiaries/new").status_code == 403
    response = _post(agent, "/beneficiaries", _form(hotline, _number()))
    assert response.status_code == 403


def test_invalid_input_shows_each_error_and_keeps_what_was_typed_but_the_pin(
    hotline: Hotline, admin: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    number = _number()
    form = _form(
        hotline,
        number,
        **{
            "full_name": "Laura Rojas (ficticia)",
            "phone-1-number": "not a number",
            "window-0-end": "09:00",
            "duress_digit": PIN[-1],
            "timezone": "Mars/Olympus",
        },
    )
    response = _post(admin, "/beneficiaries", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field in ("phone-1-number", "window-0", "duress_digit", "timezone"):
        assert f'id="error-{field}"' in page, field
    assert 'id="error-full_name"' not in page
    assert 'value="Laura Rojas (ficticia)"' in page
    assert f'value="{number}"' in page
    assert 'value="not a number"' in page
    assert "Prefiere mañanas." in page
    assert 'value="Mars/Olympus"' in page
    assert PIN not in page
    with db_sessions() as db:
        names = [b.full_name for b in db.scalars(select(Beneficiary))]
    assert "Laura Rojas (ficticia)" not in names


def test_a_number_already_registered_to_another_woman_is_refused(
    hotline: Hotline, supervisor: SignedIn
) -> None:
    response = _post(supervisor, "/beneficiaries", _form(hotline, hotline.beneficiary_number))
    assert response.status_code == 400
    assert 'id="error-phone-0-number"' in response.get_data(as_text=True)


def test_editing_changes_only_what_was_submitted(
    hotline: Hotline, supervisor: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    number = _number()
    beneficiary_id = _register(supervisor, hotline, number)
    before = _stored(db_sessions, beneficiary_id)
    with db_sessions() as db:
        plan_before = db.scalar(
            select(CheckinPlan.next_due_at).where(CheckinPlan.beneficiary_id == beneficiary_id)
        )

    identity_only = {
        key: value
        for key, value in _form(hotline, number).items()
        if not key.startswith(("phone-", "window-", "pin", "duress", "plan", "cadence", "next"))
    }
    identity_only.update(section=["identity"], risk_level="extremo", notes="Cambió de trabajo.")
    response = _post(supervisor, f"/beneficiaries/{beneficiary_id}", identity_only)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]

    after = _stored(db_sessions, beneficiary_id)
    assert after.risk_level == RiskLevel.EXTREMO
    assert after.notes == "Cambió de trabajo."
    assert after.full_name == before.full_name
    assert after.pin_hash == before.pin_hash
    assert after.duress_digit_hash == before.duress_digit_hash
    assert after.safe_call_windows == before.safe_call_windows
    assert [(p.id, p.number) for p in after.phones] == [(p.id, p.number) for p in before.phones]
    with db_sessions() as db:
        plan_after = db.scalar(
            select(CheckinPlan.next_due_at).where(CheckinPlan.beneficiary_id == beneficiary_id)
        )
        changed = db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "beneficiary_changed", AuditEntry.subject_id == beneficiary_id
            )
        )
    assert plan_after == plan_before
    assert changed is not None
    assert sorted(changed.detail["fields"]) == ["notes", "risk_level"]
    assert changed.actor_id == supervisor.account.agent_id


def test_lowering_her_risk_needs_a_reason_and_is_audited(
    hotline: Hotline, supervisor: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    beneficiary_id = _register(supervisor, hotline, _number())
    url = f"/beneficiaries/{beneficiary_id}"
    lowered = {"section": ["identity"], **_identity(hotline), "risk_level": "bajo"}
    refused = _post(supervisor, url, lowered)
    assert refused.status_code == 400
    assert 'id="error-risk_reason"' in refused.get_data(as_text=True)
    assert _stored(db_sessions, beneficiary_id).risk_level == RiskLevel.ALTO

    accepted = _post(supervisor, url, {**lowered, "risk_reason": "Orden de alejamiento cumplida"})
    assert accepted.status_code == 303
    assert _stored(db_sessions, beneficiary_id).risk_level == RiskLevel.BAJO
    with db_sessions() as db:
        entry = db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "risk_lowered", AuditEntry.subject_id == beneficiary_id
            )
        )
    assert entry is not None and entry.reason == "Orden de alejamiento cumplida"


def test_a_new_pin_needs_its_duress_digit_and_replaces_the_old_one(
    hotline: Hotline, supervisor: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    beneficiary_id = _register(supervisor, hotline, _number())
    url = f"/beneficiaries/{beneficiary_id}"
    alone = _post(supervisor, url, {"section": ["secrets"], "pin": "5555", "duress_digit": ""})
    assert alone.status_code == 400
    assert 'id="error-duress_digit"' in alone.get_data(as_text=True)

    both = _post(supervisor, url, {"section": ["secrets"], "pin": "5551", "duress_digit": "9"})
    assert both.status_code == 303
    stored = _stored(db_sessions, beneficiary_id)
    assert check_pin(stored.pin_hash, stored.duress_digit_hash, "5551") is PinResult.OK
    assert check_pin(stored.pin_hash, stored.duress_digit_hash, PIN) is PinResult.WRONG
    assert check_pin(stored.pin_hash, stored.duress_digit_hash, "55519") is PinResult.DURESS


def test_search_by_number_or_id_finds_her_and_the_number_never_reaches_a_url(
    hotline: Hotline, supervisor: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    number = _number()
    beneficiary_id = _register(supervisor, hotline, number)
    national = number.removeprefix("+34")
    for query in (number, national, f"{national[:3]} {national[3:]}", beneficiary_id):
        response = _post(supervisor, "/beneficiaries/search", {"query": query})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert f"/beneficiaries/{beneficiary_id}" in page, query
        assert number not in re.findall(r'href="([^"]*)"', page)
    missing = _post(supervisor, "/beneficiaries/search", {"query": "+34 699 000 000"})
    assert 'id="no-results"' in missing.get_data(as_text=True)
    with db_sessions() as db:
        searches = list(
            db.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "beneficiary_searched",
                    AuditEntry.actor_id == supervisor.account.agent_id,
                )
            )
        )
    assert {entry.detail["by"] for entry in searches} == {"phone", "id"}
    assert all(number not in str(entry.detail) for entry in searches)
    assert supervisor.client.get("/beneficiaries/search").status_code != 200  # POST only


def _identity(hotline: Hotline) -> dict[str, Any]:
    return {
        key: value
        for key, value in _form(hotline, "").items()
        if key
        in (
            "full_name",
            "reference",
            "line_id",
            "preferred_locale",
            "risk_level",
            "timezone",
            "notes",
            "safety_plan",
        )
    }


def test_search_by_reference_ignores_case_and_keeps_what_was_typed(
    hotline: Hotline, supervisor: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    beneficiary_id = _register(supervisor, hotline, _number())
    with db_sessions() as db:
        reference = db.get(Beneficiary, beneficiary_id).reference  # type: ignore[union-attr]
    typed = reference.lower()
    page = _post(supervisor, "/beneficiaries/search", {"query": typed}).get_data(as_text=True)
    assert f"/beneficiaries/{beneficiary_id}" in page
    assert f'value="{typed}"' in page


def test_a_new_womans_first_phone_row_is_her_primary_number(supervisor: SignedIn) -> None:
    page = supervisor.client.get("/beneficiaries/new").get_data(as_text=True)
    first = page.index('name="phone-0-kind"')
    assert '<option value="primary" selected>' in page[first : page.index("</select>", first)]
