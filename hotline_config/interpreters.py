"""The ``[[interpreters]]`` section: interpreting services conferenced into calls.

Each has a ``language`` (any BCP 47 tag: ``ar``, ``ur-PK``, ``tzm``...), a ``number`` (E.164)
or ``sip_uri`` (exactly one), optional ``dtmf`` (digits sent once it answers: an account PIN;
``w`` waits half a second) and the ``line`` it serves (left out: every line). Matched by line
and language; ``active = false`` retires one. At most 60 languages per line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_config.fields import Field, Invalid, Reader, array_of_tables, e164, flag
from store.models import Interpreter

MAX_LANGUAGES = 60
_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")
_DIGITS = re.compile(r"^[0-9*#w]{1,32}$")
_SIP = re.compile(r"^sips?:[^\s]{3,200}$")


@dataclass(frozen=True)
class InterpreterSpec:
    language: str
    line_number: str | None
    values: dict[str, Any]
    where: str


def _language(value: Any) -> str:
    if not isinstance(value, str) or not _TAG.match(value):
        raise Invalid("must be a BCP 47 language tag such as ar, ur-PK or tzm")
    return value


def _dtmf(value: Any) -> str:
    if not isinstance(value, str) or not _DIGITS.match(value):
        raise Invalid("must be up to 32 of 0-9 * # and w (a half-second wait)")
    return value


def _sip_uri(value: Any) -> str:
    if not isinstance(value, str) or not _SIP.match(value):
        raise Invalid("must be a sip: or sips: URI")
    return value


INTERPRETER_FIELDS = {
    "language": Field("language", _language, required=True),
    "number": Field("number", e164),
    "sip_uri": Field("sip_uri", _sip_uri),
    "dtmf": Field("dtmf", _dtmf),
    "line": Field("line", e164),
    "active": Field("active", flag),
}


def read_interpreters(reader: Reader, raw: Mapping[str, Any]) -> tuple[InterpreterSpec, ...]:
    found: list[InterpreterSpec] = []
    per_line: dict[str | None, set[str]] = {}
    for index, item in enumerate(array_of_tables(reader, raw, "interpreters", reader.source)):
        language = item.get("language") if isinstance(item, dict) else None
        label = f'language "{language}"' if isinstance(language, str) else ""
        where = reader.where("interpreters", index, f"interpreters[{index}]", label)
        values = reader.fields(item, INTERPRETER_FIELDS, where)
        if values is None or "language" not in values:
            continue
        number, uri = values.pop("number", None), values.pop("sip_uri", None)
        if (number is None) == (uri is None):
            reader.problem(where, "give either number or sip_uri")
            continue
        values["target"] = number or uri
        line_number = values.pop("line", None)
        languages = per_line.setdefault(line_number, set())
        if values["language"] in languages:
            reader.problem(where, f"language {values['language']} is given twice for this line")
            continue
        languages.add(values["language"])
        if len(languages) > MAX_LANGUAGES:
            reader.problem(where, f"at most {MAX_LANGUAGES} interpreter languages per line")
            continue
        found.append(InterpreterSpec(values["language"], line_number, values, where))
    return tuple(found)


def stored_interpreter(db: Session, line_id: str | None, language: str) -> Interpreter | None:
    line_match = (
        Interpreter.line_id.is_(None) if line_id is None else Interpreter.line_id == line_id
    )
    return db.scalar(
        select(Interpreter).where(line_match, Interpreter.language == language).limit(1)
    )


def interpreter_pairs(row: Interpreter, line_number: str | None) -> list[tuple[str, Any]]:
    """What ``amparo config export`` writes back (the target as number or SIP URI)."""
    is_uri = row.target.startswith(("sip:", "sips:"))
    return [
        ("language", row.language),
        ("number", None if is_uri else row.target),
        ("sip_uri", row.target if is_uri else None),
        ("dtmf", row.dtmf),
        ("line", line_number),
        ("active", row.active),
    ]
