"""The audit trail as a hash chain: an entry altered or removed in SQL after it was sealed is
named by ``amparo audit verify``."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from cli import cli
from store import audit, audit_chain, database, migrate
from tests.conftest import TEST_DATABASE_URL
from tests.harness.services import fresh_database


@pytest.fixture
def ledger(tmp_path: Path, data_key: bytes) -> Iterator[tuple[str, Engine]]:
    """A database of its own (the chain is checked from its first entry), migrated."""
    with fresh_database(TEST_DATABASE_URL, tmp_path) as url:
        engine = database.make_engine(url)
        migrate.upgrade(engine)
        try:
            yield url, engine
        finally:
            engine.dispose()


def _write(sessions: sessionmaker[Session], count: int) -> None:
    with sessions() as db, db.begin():
        for n in range(count):
            audit.record(
                db,
                actor_type="agent",
                actor_id=f"agent-{n % 3}",
                action="beneficiary_file_viewed",
                subject_type="beneficiary",
                subject_id=f"b-{n}",
                reason="lowered after a call" if n % 2 else None,
                detail={"call_id": f"c-{n}", "fields": ["notes", "safety_plan"]},
            )


def _ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [int(i) for i in conn.scalars(text("SELECT id FROM audit_entries ORDER BY seq"))]


def test_sealed_entries_verify_and_later_ones_wait_their_turn(
    ledger: tuple[str, Engine],
) -> None:
    sessions = database.session_factory(ledger[1])
    _write(sessions, 5)
    assert audit_chain.seal(sessions) == 5
    _write(sessions, 2)
    report = audit_chain.verify(sessions)
    assert (report.sealed, report.unsealed, report.intact) == (5, 2, True)
    assert audit_chain.seal(sessions) == 2
    assert audit_chain.seal(sessions) == 0
    assert audit_chain.verify(sessions).sealed == 7


@pytest.mark.parametrize(
    "tampering",
    [
        "UPDATE audit_entries SET action = 'nothing_to_see' WHERE id = :id",
        "UPDATE audit_entries SET actor_id = 'someone-else' WHERE id = :id",
        'UPDATE audit_entries SET detail = \'{"call_id": "c-0"}\' WHERE id = :id',
        "UPDATE audit_entries SET at = at WHERE id = :id AND 1 = 0",  # nothing: stays intact
    ],
)
def test_an_entry_altered_in_sql_is_named(ledger: tuple[str, Engine], tampering: str) -> None:
    sessions = database.session_factory(ledger[1])
    _write(sessions, 6)
    audit_chain.seal(sessions)
    target = _ids(ledger[1])[3]
    with ledger[1].begin() as conn:
        conn.execute(text(tampering), {"id": target})
    broken = audit_chain.verify(sessions).first_broken
    if "1 = 0" in tampering:
        assert broken is None
        return
    assert broken is not None
    assert (broken.entry_id, broken.seq) == (target, 4)
    assert "altered" in broken.problem


def test_a_deleted_entry_leaves_a_gap_that_is_named(ledger: tuple[str, Engine]) -> None:
    sessions = database.session_factory(ledger[1])
    _write(sessions, 6)
    audit_chain.seal(sessions)
    ids = _ids(ledger[1])
    with ledger[1].begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": ids[2]})
    broken = audit_chain.verify(sessions).first_broken
    assert broken is not None
    assert broken.entry_id == ids[3]
    assert "missing" in broken.problem


def test_amparo_audit_verify_names_the_first_broken_entry(
    ledger: tuple[str, Engine], tmp_path: Path, data_key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, engine = ledger
    sessions = database.session_factory(engine)
    _write(sessions, 4)
    monkeypatch.setenv("AMPARO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AMPARO_DATABASE_URL", url)
    monkeypatch.setenv("AMPARO_SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("AMPARO_DATA_KEY", base64.urlsafe_b64encode(data_key).decode())
    runner = CliRunner()
    sealed = runner.invoke(cli, ["audit", "seal"])
    assert sealed.exit_code == 0 and "sealed 4 audit entries" in sealed.output
    intact = runner.invoke(cli, ["audit", "verify"])
    assert intact.exit_code == 0 and "4 entries hold" in intact.output
    target = _ids(engine)[1]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_entries SET subject_id = 'b-99' WHERE id = :id"), {"id": target}
        )
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"first broken entry: id {target} (place 2 in the chain)" in broken.output
