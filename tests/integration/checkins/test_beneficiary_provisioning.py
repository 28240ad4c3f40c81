"""Beneficiaries registered by an external system: only with the provisioning scope, encrypted
at rest and audited to the system, the same external_ref again an update, risk only raised,
bad input refused with nothing written."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from app import create_app
from checkins import provisioning
from checkins.context import CheckinContext
from runtime import Runtime
from store.models import Beneficiary
from store.phone_numbers import lookup_hash, to_e164
from store.records import AuditEntry
from tests.harness.hotline import Hotline
from tests.integration.checkins.provisioning import (
    beneficiary_body,
    call,
    system_id_of,
    system_key,
)


@pytest.fixture
def client(runtime: Runtime, ctx: CheckinContext) -> FlaskClient:
    return create_app(runtime=runtime).test_client()


@pytest.fixture
def key(ctx: CheckinContext) -> str:
    return system_key(ctx.sessions, "provisioning")


def provision(client: FlaskClient, key: str | None, body: Any) -> Any:
    return call(client, "POST", "/api/beneficiaries", key, body)


def stored(ctx: CheckinContext, reference: str) -> Beneficiary | None:
    with ctx.sessions() as db:
        row = db.scalar(select(Beneficiary).where(Beneficiary.reference == reference))
        if row is not None:
            _ = [phone.number for phone in row.phones]
        return row


def audits(ctx: CheckinContext, beneficiary_id: str) -> list[AuditEntry]:
    with ctx.sessions() as db:
        return list(
            db.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_id == beneficiary_id)
                .order_by(AuditEntry.id)
            )
        )


def test_a_key_without_the_provisioning_scope_is_refused_403_with_an_error_id(
    client: FlaskClient, ctx: CheckinContext, hotline: Hotline
) -> None:
    notifier = system_key(ctx.sessions)  # the default scope: notifications only
    refused = provision(client, notifier, beneficiary_body(hotline))
    assert refused.status_code == 403 and refused.json["error_id"] == "api_scope_missing"
    provisioner = system_key(ctx.sessions, "provisioning")
    notification = {"id": "n-scope", "type": "order_expiring", "beneficiaries": ["X-1"]}
    answer = call(client, "POST", "/api/notifications", provisioner, notification)
    assert answer.status_code == 403 and answer.json["error_id"] == "api_scope_missing"
    assert provision(client, None, beneficiary_body(hotline)).status_code == 401
    assert provision(client, "amp_wrong", beneficiary_body(hotline)).status_code == 401


def test_systems_stored_before_scopes_existed_keep_the_notifications_scope(
    runtime: Runtime, ctx: CheckinContext
) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO external_systems (id, name, key_hash, active, created_at) "
                "VALUES (:id, :name, :hash, :active, CURRENT_TIMESTAMP)"
            ),
            {"id": "legacy0000", "name": "legacy-viogen", "hash": "0" * 64, "active": True},
        )
        scopes = conn.execute(
            text("SELECT scopes FROM external_systems WHERE id = 'legacy0000'")
        ).scalar_one()
        conn.execute(text("DELETE FROM external_systems WHERE id = 'legacy0000'"))
    assert "notifications" in str(scopes) and "provisioning" not in str(scopes)


def test_a_new_external_ref_registers_her_201_encrypted_at_rest_and_audited_to_the_system(
    client: FlaskClient,
    runtime: Runtime,
    ctx: CheckinContext,
    hotline: Hotline,
    key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = beneficiary_body(hotline)
    with caplog.at_level(logging.DEBUG):
        answer = provision(client, key, body)
    assert answer.status_code == 201
    row = stored(ctx, body["external_ref"])
    assert row is not None and answer.json == {"id": row.id}
    assert (row.full_name, row.municipality, row.address) == (
        body["name"],
        body["municipality"],
        body["address"],
    )
    assert row.line_id == hotline.line_id and row.preferred_locale == "ro"
    assert row.risk_level == "alto" and row.timezone == "Europe/Madrid"
    assert sorted((p.kind, p.number) for p in row.phones) == [
        ("primary", body["phones"][0]),
        ("safe_alternative", body["phones"][1]),
    ]
    with runtime.engine.connect() as conn:
        raw = conn.execute(text("SELECT * FROM beneficiaries WHERE id = :id"), {"id": row.id}).one()
        phones = conn.execute(
            text("SELECT number, number_hash FROM beneficiary_phones WHERE beneficiary_id = :id"),
            {"id": row.id},
        ).all()
    for secret in ("Zenobia", "Villaficticia", "Inventada", "hermana"):
        assert secret not in str(raw)
    assert body["phones"][0] not in str(phones)
    assert lookup_hash(body["phones"][0]) in str(phones)
    [entry] = audits(ctx, row.id)
    assert (entry.actor_type, entry.actor_id, entry.action) == (
        "system",
        system_id_of(ctx.sessions, key),
        "beneficiary_created",
    )
    assert "Zenobia" not in str(entry.detail) and "phones" in entry.detail["fields"]
    for secret in ("Zenobia", "Villaficticia", "Inventada", body["phones"][0][4:]):
        assert secret not in caplog.text


def test_the_same_external_ref_again_updates_her_200_and_a_retry_changes_nothing(
    client: FlaskClient, ctx: CheckinContext, hotline: Hotline, key: str
) -> None:
    body = beneficiary_body(hotline)
    first = provision(client, key, body)
    again = provision(client, key, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert len(audits(ctx, first.json["id"])) == 1  # the retry wrote nothing
    update = {**body, "phones": [body["phones"][1]], "address": None}
    moved = provision(client, key, update)
    assert moved.status_code == 200 and moved.json == first.json
    row = stored(ctx, body["external_ref"])
    assert row is not None and row.address is None
    assert [(p.kind, p.number) for p in row.phones] == [("primary", body["phones"][1])]
    last = audits(ctx, first.json["id"])[-1]
    assert last.action == "beneficiary_changed"
    assert sorted(last.detail["fields"]) == ["address", "phones"]
    with ctx.sessions() as db:
        count = db.scalar(
            select(func.count())
            .select_from(Beneficiary)
            .where(Beneficiary.reference == body["external_ref"])
        )
    assert count == 1


def test_automation_raises_risk_but_a_lower_level_is_refused_409_with_nothing_written(
    client: FlaskClient, ctx: CheckinContext, hotline: Hotline, key: str
) -> None:
    body = beneficiary_body(hotline, risk_level="alto")
    assert provision(client, key, body).status_code == 201
    raised = provision(client, key, {**body, "risk_level": "extremo"})
    assert raised.status_code == 200
    lowered = provision(client, key, {**body, "risk_level": "medio", "name": "Otra Persona"})
    assert lowered.status_code == 409
    assert lowered.json["error_id"] == "risk_lowering_refused"
    row = stored(ctx, body["external_ref"])
    assert row is not None and row.risk_level == "extremo" and row.full_name == body["name"]
    left_out = {k: v for k, v in body.items() if k != "risk_level"}
    assert provision(client, key, left_out).status_code == 200  # no level: kept as stored
    row = stored(ctx, body["external_ref"])
    assert row is not None and row.risk_level == "extremo"


@pytest.mark.parametrize(
    ("change", "error_id"),
    [
        ({"name": ""}, "provisioning_missing_field"),
        ({"phones": []}, "provisioning_missing_field"),
        ({"colour": "blue"}, "provisioning_unknown_field"),
        ({"risk_level": "severo"}, "provisioning_malformed"),
        ({"locale": "xx"}, "provisioning_malformed"),
        ({"external_ref": "has space"}, "provisioning_malformed"),
        ({"phones": ["not a number"]}, "provisioning_bad_phone"),
        ({"phones": ["+34600000001", "600 000 001"]}, "provisioning_bad_phone"),
        ({"line": "+34 999 999 999"}, "provisioning_unknown_line"),
        ({"address": 12}, "provisioning_malformed"),
        ({"municipality": "x" * 201}, "provisioning_malformed"),
    ],
)
def test_bad_input_is_refused_400_with_an_error_id_and_nothing_is_written(
    client: FlaskClient,
    ctx: CheckinContext,
    hotline: Hotline,
    key: str,
    change: dict[str, Any],
    error_id: str,
) -> None:
    body = beneficiary_body(hotline, **change)
    answer = provision(client, key, body)
    assert answer.status_code == 400
    assert answer.json["error_id"] == error_id and answer.json["message"]
    assert stored(ctx, str(body["external_ref"])) is None


@pytest.mark.parametrize(
    ("raw", "error_id"),
    [(b"{not json", "request.invalid_json"), ("[1, 2]", "request.not_an_object")],
)
def test_a_body_that_is_not_a_json_object_is_400(
    client: FlaskClient, key: str, raw: bytes | str, error_id: str
) -> None:
    answer = provision(client, key, raw)
    assert answer.status_code == 400 and answer.json["error_id"] == error_id


def test_a_reference_a_person_or_another_system_registered_is_not_touched(
    client: FlaskClient, ctx: CheckinContext, hotline: Hotline, key: str
) -> None:
    with ctx.sessions() as db:
        person = db.get(Beneficiary, hotline.beneficiary_id)
        assert person is not None
        console_ref, name = person.reference, person.full_name
    answer = provision(client, key, beneficiary_body(hotline, external_ref=console_ref))
    assert answer.status_code == 409
    assert answer.json["error_id"] == "provisioning_reference_taken"
    body = beneficiary_body(hotline)
    assert provision(client, key, body).status_code == 201
    other = system_key(ctx.sessions, "provisioning")
    assert provision(client, other, {**body, "name": "Impostora"}).status_code == 409
    row = stored(ctx, console_ref)
    assert row is not None and row.full_name == name


def test_a_number_registered_to_someone_else_is_refused_409(
    client: FlaskClient, ctx: CheckinContext, hotline: Hotline, key: str
) -> None:
    national = hotline.beneficiary_number.removeprefix("+34")
    body = beneficiary_body(hotline, phones=[national])
    answer = provision(client, key, body)
    assert answer.status_code == 409 and answer.json["error_id"] == "provisioning_phone_taken"
    assert stored(ctx, body["external_ref"]) is None
    assert to_e164(national, "ES") == hotline.beneficiary_number


def test_left_out_locale_and_risk_take_the_lines_language_and_no_apreciado(
    client: FlaskClient, ctx: CheckinContext, hotline: Hotline, key: str
) -> None:
    body = beneficiary_body(hotline)
    del body["locale"], body["risk_level"]
    assert provision(client, key, body).status_code == 201
    row = stored(ctx, body["external_ref"])
    assert row is not None and (row.preferred_locale, row.risk_level) == ("es", "no_apreciado")


def test_when_the_database_does_not_take_the_write_the_answer_is_503_with_retry_after(
    client: FlaskClient,
    ctx: CheckinContext,
    hotline: Hotline,
    key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def database_down(*_args: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(provisioning, "_provision", database_down)
    body = beneficiary_body(hotline)
    answer = provision(client, key, body)
    assert answer.status_code == 503 and answer.json["error_id"] == "store_unavailable"
    assert answer.headers["Retry-After"]
    assert stored(ctx, body["external_ref"]) is None
