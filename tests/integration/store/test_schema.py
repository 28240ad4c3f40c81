"""Migrations, model round trips, and the raw-database privacy check."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from store import crypto
from store.base import Base
from store.call_log import CallLog
from store.credentials import hash_secret, verify_secret
from store.models import Agent, Beneficiary, BeneficiaryPhone, Device, Line
from store.phone_numbers import lookup_hash, to_e164
from store.records import Call
from store.rotation import rotate
from store.vocabulary import AgentRole, RiskLevel

NAME = "Zenobia Quintanilla-Ortuño"
NUMBER = "+34 612 345 678"


def _beneficiary(sessions: sessionmaker[Session], reference: str, number: str) -> str:
    e164 = to_e164(number, "ES")
    device_number = f"+3471{abs(hash(reference)) % 10**7:07d}"
    with sessions() as db, db.begin():
        line = Line(
            name=f"line {reference}",
            number=f"+3490{abs(hash(reference)) % 10**7:07d}",
            default_locale="es",
            overflow_number="+34900000002",
            urgent_number="+34900000003",
        )
        db.add(line)
        db.flush()
        beneficiary = Beneficiary(
            reference=reference,
            full_name=NAME,
            address="Calle Inventada 12, Madrid",
            notes="Prefers calls in the morning",
            preferred_locale="es",
            timezone="Europe/Madrid",
            risk_level=RiskLevel.ALTO,
            safe_call_windows=[{"days": [0, 1], "start": "10:00", "end": "12:00"}],
            pin_hash=hash_secret("4321"),
            duress_digit_hash=hash_secret("7"),
            line_id=line.id,
        )
        beneficiary.phones.append(
            BeneficiaryPhone(number=e164, number_hash=lookup_hash(e164), kind="primary")
        )
        beneficiary.devices.append(
            Device(
                serial=f"S-{reference}",
                number=device_number,
                number_hash=lookup_hash(device_number),
                secret="device-secret",
            )
        )
        db.add(beneficiary)
        db.flush()
        return beneficiary.id


def test_migrations_create_every_model_table(db_engine: Engine) -> None:
    tables = set(inspect(db_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_beneficiary_round_trips_and_is_found_by_caller_number(
    db_sessions: sessionmaker[Session],
) -> None:
    beneficiary_id = _beneficiary(db_sessions, "RT-1", "612 000 111")
    with db_sessions() as db:
        found = db.scalar(
            select(Beneficiary)
            .join(BeneficiaryPhone)
            .where(BeneficiaryPhone.number_hash == lookup_hash(to_e164("+34612000111")))
        )
        assert found is not None and found.id == beneficiary_id
        assert found.full_name == NAME
        assert found.risk_level == RiskLevel.ALTO
        assert found.safe_call_windows[0]["start"] == "10:00"
        assert verify_secret(found.pin_hash, "4321")
        assert not verify_secret(found.pin_hash, "1234")
        assert found.phones[0].number == "+34612000111"
        assert found.devices[0].secret == "device-secret"
        assert found.created_at.tzinfo is not None


def test_raw_database_holds_no_phone_number_or_name_in_clear(
    db_engine: Engine, db_sessions: sessionmaker[Session], database_url: str
) -> None:
    _beneficiary(db_sessions, "RAW-1", NUMBER)
    with db_sessions() as db, db.begin():
        db.add(
            Agent(
                login="raw-check",
                display_name="Filomena Raw-Check",
                password_hash=hash_secret("pw"),
                role=AgentRole.AGENT,
            )
        )
        db.add(
            Call(
                direction="inbound",
                channel="simulator",
                caller_number=to_e164(NUMBER, "ES"),
                caller_hash=lookup_hash(to_e164(NUMBER, "ES")),
            )
        )
    clear_values = ["612345678", "612 345 678", "Zenobia", "Quintanilla", "Inventada", "Filomena"]
    dump: list[str] = []
    with db_engine.connect() as conn:
        for table in inspect(db_engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                dump.append(" ".join(str(value) for value in row))
    everything = "\n".join(dump)
    assert "RAW-1" in everything  # the dump really holds the rows
    for value in clear_values:
        assert value not in everything
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for value in clear_values:
            assert value.encode() not in raw


def test_key_rotation_re_encrypts_every_field_and_keeps_lookups(
    db_engine: Engine, db_sessions: sessionmaker[Session], data_key: bytes
) -> None:
    beneficiary_id = _beneficiary(db_sessions, "ROT-1", "+34 699 888 777")
    new_key = os.urandom(32)
    try:
        crypto.configure(crypto.cipher_from_keys(new_key, [data_key]))
        report = rotate(db_engine)
        assert report.fields_rewritten > 0
        assert report.hashes_rewritten > 0
        # Only the new key now: everything still reads, and the caller is still found.
        crypto.configure(crypto.cipher_from_keys(new_key))
        with db_sessions() as db:
            found = db.scalar(
                select(Beneficiary)
                .join(BeneficiaryPhone)
                .where(BeneficiaryPhone.number_hash == lookup_hash("+34699888777"))
            )
            assert found is not None and found.id == beneficiary_id
            assert found.full_name == NAME
            assert all(agent.display_name for agent in db.scalars(select(Agent)))
        assert rotate(db_engine).fields_rewritten == 0
    finally:
        crypto.configure(crypto.cipher_from_keys(data_key, [new_key]))
        rotate(db_engine)
        crypto.configure(crypto.cipher_from_keys(data_key))


def test_call_log_orders_events_and_lands_a_retry_once(
    db_sessions: sessionmaker[Session],
) -> None:
    log = CallLog(db_sessions)
    call = log.ensure_call(Call(direction="inbound", channel="simulator"))
    assert log.ensure_call(Call(id=call.id, direction="inbound", channel="sip")).channel == (
        "simulator"
    )
    assert log.append(call.id, "started", {"line": "x"}, at=1000.0, idempotency_key="k1")
    assert log.append(call.id, "started", {"line": "x"}, at=1000.0, idempotency_key="k1") is None
    log.append(call.id, "digits", {"digits": "1"}, at=1001.0)
    events = log.events(call.id)
    assert [(e.seq, e.kind) for e in events] == [(1, "started"), (2, "digits")]


def test_the_models_and_the_migrations_describe_the_same_schema(db_engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
