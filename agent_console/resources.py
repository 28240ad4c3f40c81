"""Configured resources near an alarm: police, shelters, health centres.

The list is data (``agent_console/data/resources.json``, fictional entries for the demo lines;
a service replaces it with its own), keyed by a line's number, with a list per jurisdiction for
lines without their own. The nearest are found by great-circle (haversine) distance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUNDLED = Path(__file__).resolve().parent / "data" / "resources.json"
EARTH_RADIUS_KM = 6371.0088
KINDS = ("police", "shelter", "health")


@dataclass(frozen=True)
class Resource:
    name: str
    kind: str
    latitude: float
    longitude: float
    phone: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resource:
        kind = str(data["kind"])
        if kind not in KINDS:
            raise ValueError(f"resource kind must be one of {', '.join(KINDS)}, got {kind!r}")
        return cls(
            name=str(data["name"]),
            kind=kind,
            latitude=float(data["latitude"]),
            longitude=float(data["longitude"]),
            phone=None if data.get("phone") is None else str(data["phone"]),
        )


@dataclass(frozen=True)
class NearbyResource:
    resource: Resource
    distance_km: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.resource.name,
            "kind": self.resource.kind,
            "phone": self.resource.phone,
            "latitude": self.resource.latitude,
            "longitude": self.resource.longitude,
            "distance_km": round(self.distance_km, 2),
        }


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class ResourceDirectory:
    by_line: Mapping[str, tuple[Resource, ...]]
    by_jurisdiction: Mapping[str, tuple[Resource, ...]]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceDirectory:
        def parse(items: Iterable[Mapping[str, Any]]) -> tuple[Resource, ...]:
            return tuple(Resource.from_dict(item) for item in items)

        return cls(
            by_line={k: parse(v) for k, v in dict(data.get("lines", {})).items()},
            by_jurisdiction={k: parse(v) for k, v in dict(data.get("jurisdictions", {})).items()},
        )

    @classmethod
    def load(cls, path: Path) -> ResourceDirectory:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def bundled(cls) -> ResourceDirectory:
        return cls.load(BUNDLED)

    def for_line(self, line_number: str | None, jurisdiction: str | None) -> tuple[Resource, ...]:
        if line_number and line_number in self.by_line:
            return self.by_line[line_number]
        return self.by_jurisdiction.get(jurisdiction or "", ())

    def nearest(
        self,
        latitude: float,
        longitude: float,
        line_number: str | None,
        jurisdiction: str | None,
        per_kind: int = 2,
    ) -> list[NearbyResource]:
        """The ``per_kind`` nearest of each kind, nearest first overall."""
        ranked = sorted(
            (
                NearbyResource(r, haversine_km(latitude, longitude, r.latitude, r.longitude))
                for r in self.for_line(line_number, jurisdiction)
            ),
            key=lambda item: item.distance_km,
        )
        kept: list[NearbyResource] = []
        counts: dict[str, int] = {}
        for item in ranked:
            if counts.get(item.resource.kind, 0) < per_kind:
                kept.append(item)
                counts[item.resource.kind] = counts.get(item.resource.kind, 0) + 1
        return kept
