"""``[[resources]]`` in the hotline file: applied, exported and applied back unchanged, checked
with every problem reported, retired with ``active = false``, and looked up by distance or by
municipality for the line."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.resources import look_up
from store.models import Line, Resource
from tests.integration.hotline_config.conftest import ConfigCommand, Names, hotline_file


def _resources(names: Names, police_active: str = "true") -> str:
    return f"""
[[resources]]
name = "Comisaría Norte {names.tag}"
kind = "police"
municipality = "Alcalá de Henares"
latitude = 40.4820
longitude = -3.3640
phone = "+34 918 000 001"
line = "{names.number}"
active = {police_active}

[[resources]]
name = "CAVI Centro {names.tag}"
kind = "cavi"
municipality = "Alcalá de Henares"
line = "{names.number}"

[[resources]]
name = "Casa de acogida {names.tag}"
kind = "shelter"
municipality = "Torrejón de Ardoz"
latitude = 40.4590
longitude = -3.4800
line = "{names.number}"
"""


def _stored(sessions: sessionmaker[Session], names: Names) -> dict[str, dict[str, Any]]:
    with sessions() as db:
        rows = db.scalars(select(Resource).where(Resource.name.like(f"% {names.tag}"))).all()
        return {
            row.name: {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs}
            for row in rows
        }


def _line_id(sessions: sessionmaker[Session], names: Names) -> str:
    with sessions() as db:
        line_id = db.scalar(select(Line.id).where(Line.name == f"Línea {names.tag}"))
        assert line_id is not None
        return line_id


def test_resources_are_applied_exported_and_applied_back_unchanged(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    applied = amparo_config.apply(hotline_file(names, extra=_resources(names)))
    assert applied.exit_code == 0, applied.output
    stored = _stored(db_sessions, names)
    assert set(stored) == {
        f"Comisaría Norte {names.tag}",
        f"CAVI Centro {names.tag}",
        f"Casa de acogida {names.tag}",
    }
    police = stored[f"Comisaría Norte {names.tag}"]
    assert (police["kind"], police["latitude"], police["phone"]) == (
        "police",
        40.482,
        "+34918000001",
    )
    assert stored[f"CAVI Centro {names.tag}"]["latitude"] is None
    exported = amparo_config.run("export").output
    assert f'name = "CAVI Centro {names.tag}"' in exported and 'kind = "cavi"' in exported
    again = amparo_config.apply(exported)
    assert again.exit_code == 0, again.output
    assert " 0 created, 0 updated," in " " + again.output
    assert _stored(db_sessions, names) == stored


def test_a_resource_is_found_by_distance_with_a_fix_and_by_municipality_without(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    assert amparo_config.apply(hotline_file(names, extra=_resources(names))).exit_code == 0
    line_id = _line_id(db_sessions, names)
    with db_sessions() as db:
        near = look_up(db, line_id, location=(40.48, -3.37), municipality=None)
        by_town = look_up(db, line_id, location=None, municipality="alcala de  HENARES")
        nothing = look_up(db, line_id, location=None, municipality=None)
    assert near is not None and near.basis == "location"
    assert [item.name for item in near.items] == [
        f"Comisaría Norte {names.tag}",
        f"Casa de acogida {names.tag}",
    ], "only resources with coordinates, nearest first"
    assert near.items[0].distance_km is not None and near.items[0].distance_km < 1
    assert by_town is not None and by_town.basis == "municipality"
    assert [item.kind for item in by_town.items] == ["cavi", "police"]
    assert nothing is None


def test_a_retired_resource_is_no_longer_listed(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    assert amparo_config.apply(hotline_file(names, extra=_resources(names))).exit_code == 0
    retired = amparo_config.apply(hotline_file(names, extra=_resources(names, "false")))
    assert retired.exit_code == 0, retired.output
    assert "restart" not in retired.output, "resources are read on every lookup"
    with db_sessions() as db:
        found = look_up(
            db, _line_id(db_sessions, names), location=None, municipality="Alcalá de Henares"
        )
    assert found is not None and [item.kind for item in found.items] == ["cavi"]


def test_every_problem_in_the_resources_is_reported_and_nothing_is_applied(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    bad = f"""
[[resources]]
name = "Sin tipo {names.tag}"
kind = "spa"
municipality = "Madrid"
latitude = 40.4

[[resources]]
name = "Fuera del mapa {names.tag}"
kind = "health"
municipality = "Madrid"
latitude = 91
longitude = 0
line = "+34 910 000 999"

[[resources]]
name = "Fuera del mapa {names.tag}"
kind = "legal"
line = "+34 910 000 999"
"""
    result = amparo_config.apply(hotline_file(names, extra=bad))
    assert result.exit_code != 0
    output = result.output
    assert "'spa' is not a kind of resource" in output
    assert "give both latitude and longitude, or neither" in output
    assert "latitude must be from -90 to 90" in output
    assert "municipality is required" in output
    assert "is already declared" in output
    assert _stored(db_sessions, names) == {}


def test_a_resource_of_a_line_neither_in_the_file_nor_stored_is_refused(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    orphan = f"""
[[resources]]
name = "Huérfana {names.tag}"
kind = "psychological"
municipality = "Madrid"
line = "+34 910 000 999"
"""
    result = amparo_config.apply(hotline_file(names, extra=orphan))
    assert result.exit_code != 0
    assert "line +34910000999 is neither in the file nor stored" in result.output
    assert _stored(db_sessions, names) == {}
