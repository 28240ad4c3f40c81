"""The resources directory's rules: the nearest of each kind, nearest first, and municipalities
compared without case, accents or extra spaces."""

from __future__ import annotations

import math

from calls.resources import ListedResource, haversine_km, in_municipality, nearest


def _resource(
    name: str, kind: str, latitude: float | None, municipality: str = "Madrid"
) -> ListedResource:
    return ListedResource(
        name, name, kind, municipality, None, latitude, None if latitude is None else 0.0
    )


def test_haversine_gives_the_madrid_barcelona_distance() -> None:
    assert math.isclose(haversine_km(40.4168, -3.7038, 41.3874, 2.1686), 505, rel_tol=0.01)


def test_the_nearest_keep_two_of_each_kind_nearest_first_and_skip_those_without_coordinates() -> (
    None
):
    resources = [
        _resource("far police", "police", 3),
        _resource("near police", "police", 0.1),
        _resource("mid police", "police", 1),
        _resource("shelter", "shelter", 2),
        _resource("legal office", "legal", None),
    ]
    found = nearest(resources, 0, 0)
    assert [item.name for item in found] == ["near police", "mid police", "shelter"]
    assert found[0].distance_km is not None and found[0].distance_km < 12
    assert nearest([], 0, 0) == []


def test_a_municipality_matches_whatever_its_case_accents_and_spaces() -> None:
    resources = [
        _resource("cavi", "cavi", None, "Alcalá de Henares"),
        _resource("police", "police", 1, "Madrid"),
    ]
    assert [item.name for item in in_municipality(resources, " ALCALA  de henares ")] == ["cavi"]
    assert in_municipality(resources, "Getafe") == []
