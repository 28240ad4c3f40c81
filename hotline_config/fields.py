"""What every section of a hotline file is read with: where a problem is, how a table's keys
are checked and converted, and the converters more than one section uses."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from store.phone_numbers import InvalidPhoneNumber, to_e164


class Invalid(ValueError):
    """A value that cannot be used; its message says why, without echoing secrets."""


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Field:
    attribute: str
    convert: Callable[[Any], Any]
    required: bool = False


def nonempty_text(max_length: int) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise Invalid("must be a non-empty string")
        if len(value) > max_length:
            raise Invalid(f"must be at most {max_length} characters")
        return value.strip()

    return convert


def e164(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a phone number in international form, as a string")
    if not value.strip().startswith("+"):
        raise Invalid("must be in international form, starting with '+' and the country code")
    try:
        return to_e164(value)
    except InvalidPhoneNumber as exc:
        raise Invalid(f"is {exc}") from exc


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false")
    return value


@dataclass
class Reader:
    source: str
    text: str
    problems: list[Problem] = field(default_factory=list)
    _headers: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for number, line in enumerate(self.text.splitlines(), start=1):
            found = re.match(r"^\s*\[\[\s*([A-Za-z0-9_.]+)\s*\]\]", line)
            if found:
                self._headers.setdefault(found.group(1), []).append(number)

    def where(self, header: str, index: int, path: str, label: str = "") -> str:
        lines = self._headers.get(header, [])
        at = f"{self.source}:{lines[index]}" if index < len(lines) else self.source
        return f"{at}: {path}" + (f" ({label})" if label else "")

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def fields(
        self, item: Any, specs: Mapping[str, Field], where: str, extra: tuple[str, ...] = ()
    ) -> dict[str, Any] | None:
        """The converted values of ``item`` by attribute; None when it is not a table."""
        if not isinstance(item, dict):
            self.problem(where, "must be a table")
            return None
        values: dict[str, Any] = {}
        for name in item:
            if name not in specs and name not in extra:
                allowed = ", ".join([*specs, *extra])
                self.problem(where, f"unknown key {name!r} (allowed: {allowed})")
        for name, spec in specs.items():
            if name not in item:
                if spec.required:
                    self.problem(where, f"{name} is required")
                continue
            try:
                values[spec.attribute] = spec.convert(item[name])
            except Invalid as exc:
                self.problem(where, f"{name} {exc}")
        return values


def array_of_tables(
    reader: Reader, document: Mapping[str, Any], name: str, where: str
) -> list[Any]:
    value = document.get(name, [])
    if not isinstance(value, list):
        reader.problem(where, f"{name} must be an array of tables ([[{name}]])")
        return []
    return value
