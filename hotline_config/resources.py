"""The ``[[resources]]`` section: the services callers are referred to.

Each resource has a ``name``, a ``kind`` (police, health, shelter, cavi, legal,
psychological), the ``municipality`` it serves, and optionally ``latitude`` and ``longitude``
(both or neither), a ``phone`` and the ``line`` it belongs to (left out: every line's). A
resource is matched by its line and name; ``active = false`` retires it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotline_config.fields import (
    Field,
    Invalid,
    Reader,
    array_of_tables,
    e164,
    flag,
    nonempty_text,
)
from store.vocabulary import ResourceKind


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    line_number: str | None
    values: dict[str, Any]
    where: str

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.line_number, self.name)


def _kind(value: Any) -> str:
    kinds = [kind.value for kind in ResourceKind]
    if value not in kinds:
        raise Invalid(f"{value!r} is not a kind of resource ({', '.join(kinds)})")
    return str(value)


def _degrees(limit: float) -> Any:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid("must be a number of degrees")
        if not math.isfinite(value) or not -limit <= value <= limit:
            raise Invalid(f"must be from -{limit:g} to {limit:g}")
        return float(value)

    return convert


RESOURCE_FIELDS = {
    "name": Field("name", nonempty_text(200), required=True),
    "kind": Field("kind", _kind, required=True),
    "municipality": Field("municipality", nonempty_text(120), required=True),
    "latitude": Field("latitude", _degrees(90)),
    "longitude": Field("longitude", _degrees(180)),
    "phone": Field("phone", e164),
    "line": Field("line", e164),
    "active": Field("active", flag),
}


def read_resources(reader: Reader, raw: Mapping[str, Any]) -> tuple[ResourceSpec, ...]:
    found = []
    for index, item in enumerate(array_of_tables(reader, raw, "resources", reader.source)):
        name = item.get("name") if isinstance(item, dict) else None
        label = f'name "{name}"' if isinstance(name, str) else ""
        where = reader.where("resources", index, f"resources[{index}]", label)
        values = reader.fields(item, RESOURCE_FIELDS, where)
        if values is None or "name" not in values:
            continue
        if ("latitude" in values) != ("longitude" in values):
            reader.problem(where, "give both latitude and longitude, or neither")
        line_number = values.pop("line", None)
        found.append(ResourceSpec(values["name"], line_number, values, where))
    return tuple(found)
