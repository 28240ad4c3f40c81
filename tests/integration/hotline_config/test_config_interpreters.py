"""``[[interpreters]]`` in the hotline file: applied, exported and applied back unchanged (the
number or SIP URI and the PIN digits stored encrypted), every problem reported with nothing
applied, and looked up for a call by its line and language (a region falls back to its
language; the line's own first)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from calls.interpreters import NoInterpreter, interpreter_for
from store.models import Interpreter, Line
from tests.integration.hotline_config.conftest import ConfigCommand, Names, hotline_file


def _interpreters(names: Names) -> str:
    return f"""
[[interpreters]]
language = "ar"
number = "+34 910 555 001"
dtmf = "ww4321#"
line = "{names.number}"

[[interpreters]]
language = "ur-PK"
sip_uri = "sip:urdu-{names.tag}@interpretes.example.org"
line = "{names.number}"

[[interpreters]]
language = "tzm"
number = "+34 910 555 003"
"""


def _line_id(sessions: sessionmaker[Session], names: Names) -> str:
    with sessions() as db:
        line_id = db.scalar(select(Line.id).where(Line.name == f"Línea {names.tag}"))
        assert line_id is not None
        return line_id


def test_interpreters_are_applied_exported_and_applied_back_unchanged(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    applied = amparo_config.apply(hotline_file(names, extra=_interpreters(names)))
    assert applied.exit_code == 0, applied.output
    line_id = _line_id(db_sessions, names)
    with db_sessions() as db:
        mine = db.scalars(select(Interpreter).where(Interpreter.line_id == line_id)).all()
        assert {(row.language, row.target, row.dtmf) for row in mine} == {
            ("ar", "+34910555001", "ww4321#"),
            ("ur-PK", f"sip:urdu-{names.tag}@interpretes.example.org", None),
        }
        raw = db.execute(
            text("select target, dtmf from interpreters where language = 'ar' and line_id = :l"),
            {"l": line_id},
        ).one()
        assert "910555001" not in str(raw[0]) and "4321" not in str(raw[1]), "stored encrypted"
    exported = amparo_config.run("export").output
    assert 'language = "ur-PK"' in exported and 'dtmf = "ww4321#"' in exported
    again = amparo_config.apply(exported)
    assert again.exit_code == 0, again.output
    assert " 0 created, 0 updated," in " " + again.output


def test_a_call_gets_its_lines_interpreter_a_regions_language_and_else_none(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    assert amparo_config.apply(hotline_file(names, extra=_interpreters(names))).exit_code == 0
    line_id = _line_id(db_sessions, names)
    arabic = interpreter_for(db_sessions, line_id, "ar-MA")
    assert (arabic.target, arabic.dtmf, arabic.is_sip) == ("+34910555001", "ww4321#", False)
    assert interpreter_for(db_sessions, line_id, "ur-pk").is_sip
    assert interpreter_for(db_sessions, line_id, "tzm").target == "+34910555003"
    with pytest.raises(NoInterpreter):
        interpreter_for(db_sessions, line_id, "xh")


def test_every_problem_in_the_interpreters_is_reported_and_nothing_is_applied(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    bad = f"""
[[interpreters]]
language = "arabic!"
number = "+34 910 555 001"

[[interpreters]]
language = "fr"
number = "+34 910 555 002"
sip_uri = "sip:fr@example.org"

[[interpreters]]
language = "ro"
number = "+34 910 555 004"
dtmf = "12a"
line = "{names.number}"
"""
    answer = amparo_config.apply(hotline_file(names, extra=bad))
    assert answer.exit_code != 0
    assert "BCP 47" in answer.output and "either number or sip_uri" in answer.output
    assert "0-9 * # and w" in answer.output
    with db_sessions() as db:
        assert db.scalar(select(Line.id).where(Line.name == f"Línea {names.tag}")) is None
