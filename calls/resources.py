"""The line's resources directory: the services a caller may be referred to, nearest first.

Resources come from the hotline configuration's ``[[resources]]`` (stored in ``resources``):
a line's own and those for every line. With a location fix the nearest of each kind are
found by great-circle (haversine) distance; with none, those of her municipality (compared
without case or accents). Resources are public places: nothing here is personal data, but the
municipality a lookup is made for is hers, so callers audit reading it.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from store.models import Resource

EARTH_RADIUS_KM = 6371.0088
PER_KIND = 2


@dataclass(frozen=True)
class ListedResource:
    resource_id: str
    name: str
    kind: str
    municipality: str
    phone: str | None
    latitude: float | None
    longitude: float | None
    distance_km: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.resource_id,
            "name": self.name,
            "kind": self.kind,
            "municipality": self.municipality,
            "phone": self.phone,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "distance_km": None if self.distance_km is None else round(self.distance_km, 2),
        }


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def municipality_key(name: str) -> str:
    """``"Alcalá  de Henares"`` and ``"alcala de henares"`` are the same place."""
    folded = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(plain.split())


def line_resources(db: Session, line_id: str | None) -> list[ListedResource]:
    """The active resources serving ``line_id`` (its own and every line's), by kind and name."""
    query = select(Resource).where(Resource.active)
    query = query.where(
        or_(Resource.line_id.is_(None), Resource.line_id == line_id)
        if line_id
        else Resource.line_id.is_(None)
    )
    rows = db.scalars(query.order_by(Resource.kind, Resource.name))
    return [_listed(row) for row in rows]


def nearest(
    resources: Sequence[ListedResource], latitude: float, longitude: float, per_kind: int = PER_KIND
) -> list[ListedResource]:
    """The ``per_kind`` nearest of each kind (those with coordinates), nearest first overall."""
    ranked = sorted(
        (
            replace(item, distance_km=haversine_km(latitude, longitude, lat, lon))
            for item in resources
            if (lat := item.latitude) is not None and (lon := item.longitude) is not None
        ),
        key=lambda item: (item.distance_km or 0.0, item.name),
    )
    kept: list[ListedResource] = []
    counts: dict[str, int] = {}
    for item in ranked:
        if counts.get(item.kind, 0) < per_kind:
            kept.append(item)
            counts[item.kind] = counts.get(item.kind, 0) + 1
    return kept


def in_municipality(resources: Sequence[ListedResource], municipality: str) -> list[ListedResource]:
    """Every resource in ``municipality``, by kind and name."""
    wanted = municipality_key(municipality)
    return [item for item in resources if municipality_key(item.municipality) == wanted]


@dataclass(frozen=True)
class ResourceLookup:
    """What the person on a call sees: ``basis`` is ``location`` (nearest to her fix),
    ``municipality`` (those of her municipality) or ``line`` (every one of the line)."""

    basis: str
    municipality: str | None
    items: list[ListedResource]

    def to_dict(self) -> dict[str, Any]:
        return {
            "basis": self.basis,
            "municipality": self.municipality,
            "items": [item.to_dict() for item in self.items],
        }


def look_up(
    db: Session,
    line_id: str | None,
    *,
    location: tuple[float, float] | None,
    municipality: str | None,
    whole_line: bool = False,
) -> ResourceLookup | None:
    """By distance when there is a fix, else by her municipality when it is known, else (with
    ``whole_line``) every resource of the line; None when there is nothing to go by."""
    resources = line_resources(db, line_id)
    if location is not None:
        return ResourceLookup("location", municipality, nearest(resources, *location))
    if municipality:
        return ResourceLookup(
            "municipality", municipality, in_municipality(resources, municipality)
        )
    if whole_line:
        return ResourceLookup("line", None, resources)
    return None


def _listed(row: Resource) -> ListedResource:
    return ListedResource(
        resource_id=row.id,
        name=row.name,
        kind=row.kind,
        municipality=row.municipality,
        phone=row.phone,
        latitude=row.latitude,
        longitude=row.longitude,
    )
