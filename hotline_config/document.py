"""A hotline configuration file read and checked on its own, with no database at hand.

Every problem is collected (never only the first), each with where it is: the file, the line
of the ``[[table]]`` header it sits under when the file uses headers, and which item
(``agents[2] (login "ana")``). Values come out normalized (numbers in E.164); a key left out
of an item means "leave that field as it is" for something that already exists.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotline_config.fields import (
    Field,
    Invalid,
    Problem,
    Reader,
    array_of_tables,
    e164,
    flag,
    nonempty_text,
)
from hotline_config.interpreters import InterpreterSpec, read_interpreters
from hotline_config.resources import ResourceSpec, read_resources
from ivr_flows.flows import BUILTIN_FLOWS, load_builtin
from locales import SUPPORTED_LOCALES
from recordings_policy.policy import shipped_policy
from store.vocabulary import AgentRole, Direction

MAX_FILE_BYTES = 1024 * 1024
LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
NAME_TOKEN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_SECONDS = 24 * 3600


@dataclass(frozen=True)
class QueueSpec:
    name: str
    values: dict[str, Any]
    where: str


@dataclass(frozen=True)
class LineSpec:
    number: str
    values: dict[str, Any]
    queues: tuple[QueueSpec, ...]
    where: str


@dataclass(frozen=True)
class MemberSpec:
    login: str
    tier: int
    on_call: bool


@dataclass(frozen=True)
class TeamSpec:
    name: str
    line_number: str | None
    values: dict[str, Any]
    members: tuple[MemberSpec, ...] | None
    """None: the file does not mention members, so the stored ones stay as they are."""
    where: str


@dataclass(frozen=True)
class AgentSpec:
    login: str
    values: dict[str, Any]
    where: str

    @property
    def active(self) -> bool | None:
        value = self.values.get("active")
        return None if value is None else bool(value)


TOP_LEVEL = ("lines", "teams", "agents", "resources", "interpreters")


@dataclass(frozen=True)
class HotlineDocument:
    lines: tuple[LineSpec, ...] = ()
    teams: tuple[TeamSpec, ...] = ()
    agents: tuple[AgentSpec, ...] = ()
    resources: tuple[ResourceSpec, ...] = ()
    interpreters: tuple[InterpreterSpec, ...] = ()


# --- value converters ------------------------------------------------------------------------


def _token(value: Any) -> str:
    if not isinstance(value, str) or not NAME_TOKEN.match(value):
        raise Invalid("must be lower-case letters, digits, '-' or '_' (at most 64)")
    return value


def _optional_token(value: Any) -> str | None:
    """An empty string clears the field."""
    return None if value == "" else _token(value)


def _locale(value: Any) -> str:
    if value not in SUPPORTED_LOCALES:
        raise Invalid(f"{value!r} is not a supported locale ({', '.join(SUPPORTED_LOCALES)})")
    return str(value)


def _locales(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise Invalid("must be a list of locales")
    found = [_locale(item) for item in value]
    if len(set(found)) != len(found):
        raise Invalid("lists a locale twice")
    return found


def _tokens(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise Invalid("must be a list of names")
    found = [_token(item) for item in value]
    if len(set(found)) != len(found):
        raise Invalid("lists a name twice")
    return found


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid("must be an IANA time zone such as 'Europe/Madrid'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"{value!r} is not a known time zone") from exc
    return value


def _jurisdiction(value: Any) -> str:
    known = sorted(shipped_policy().data["jurisdictions"])
    if not isinstance(value, str) or value.upper() not in known:
        raise Invalid(
            f"{value!r} has no recording policy; use one of {', '.join(known)} "
            "(recordings_policy/policies.json)"
        )
    return value.upper()


def _inbound_flow(value: Any) -> str:
    inbound = [name for name in BUILTIN_FLOWS if load_builtin(name).direction is Direction.INBOUND]
    if value not in inbound:
        raise Invalid(f"{value!r} is not an inbound flow ({', '.join(inbound)})")
    return str(value)


def _seconds(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SECONDS:
        raise Invalid(f"must be a whole number of seconds from 1 to {MAX_SECONDS}")
    return value


def _days(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 36500:
        raise Invalid("must be a whole number of days from 1 to 36500")
    return value


def _waiting_callers(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10000:
        raise Invalid("must be a whole number of waiting callers from 1 to 10000")
    return value


def _delays(value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise Invalid("must be a non-empty list of seconds, one per tier")
    return [_seconds(item) for item in value]


def _role(value: Any) -> str:
    roles = [role.value for role in AgentRole]
    if value not in roles:
        raise Invalid(f"{value!r} is not a role ({', '.join(roles)})")
    return str(value)


def _sip_uri(value: Any) -> str | None:
    if value == "":
        return None
    if not isinstance(value, str) or not re.match(r"^sips?:[^\s]+$", value) or len(value) > 200:
        raise Invalid('must be a sip: or sips: URI (or "" to clear it)')
    return value


def _optional_e164(value: Any) -> str | None:
    return None if value == "" else e164(value)


def _login(value: Any) -> str:
    if not isinstance(value, str) or not LOGIN.match(value):
        raise Invalid("must be lower-case letters, digits, '.', '-' or '_' (at most 64)")
    return value


LINE_FIELDS = {
    "name": Field("name", nonempty_text(120), required=True),
    "number": Field("number", e164, required=True),
    "default_locale": Field("default_locale", _locale, required=True),
    "overflow_number": Field("overflow_number", e164, required=True),
    "urgent_number": Field("urgent_number", e164, required=True),
    "timezone": Field("timezone", _timezone),
    "jurisdiction": Field("jurisdiction", _jurisdiction),
    "flow": Field("flow", _inbound_flow),
    "recording_retention_days": Field("recording_retention_days", _days),
    "callback_offer_when_waiting": Field("callback_offer_when_waiting", _waiting_callers),
    "interpreter_on_accept": Field("interpreter_on_accept", flag),
}
QUEUE_FIELDS = {
    "name": Field("name", _token, required=True),
    "specialty": Field("specialty", _optional_token),
    "offer_timeout_s": Field("offer_timeout_s", _seconds),
    "widen_after_s": Field("widen_after_s", _seconds),
    "max_wait_s": Field("max_wait_s", _seconds),
    "wrap_up_s": Field("wrap_up_s", _seconds),
}
TEAM_FIELDS = {
    "name": Field("name", nonempty_text(120), required=True),
    "line": Field("line", e164),
    "tier_delays_s": Field("tier_delays_s", _delays),
}
MEMBER_FIELDS = {
    "login": Field("login", _login, required=True),
    "tier": Field("tier", lambda v: _bounded(v, 1, 9, "from 1 to 9")),
    "on_call": Field("on_call", flag),
}
AGENT_FIELDS = {
    "login": Field("login", _login, required=True),
    "display_name": Field("display_name", nonempty_text(200), required=True),
    "role": Field("role", _role, required=True),
    "languages": Field("languages", _locales),
    "specialties": Field("skills", _tokens),
    "sip_uri": Field("sip_uri", _sip_uri),
    "on_call_number": Field("on_call_number", _optional_e164),
    "active": Field("active", flag),
}


def _bounded(value: Any, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Invalid(f"must be {what}")
    return value


# --- reading ---------------------------------------------------------------------------------


def _label(item: Any, key: str) -> str:
    value = item.get(key) if isinstance(item, dict) else None
    return f'{key} "{value}"' if isinstance(value, str) else ""


def read_document(text: str, source: str = "<config>") -> tuple[HotlineDocument, list[Problem]]:
    """Parse and check ``text``; the document is only usable when the problem list is empty."""
    reader = Reader(source, text)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        return HotlineDocument(), [Problem(source, f"larger than {MAX_FILE_BYTES} bytes")]
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return HotlineDocument(), [Problem(source, f"not valid TOML: {exc}")]
    for name in raw:
        if name not in TOP_LEVEL:
            reader.problem(
                source, f"unknown top-level key {name!r} (allowed: {', '.join(TOP_LEVEL)})"
            )
    document = HotlineDocument(
        lines=_read_lines(reader, raw),
        teams=_read_teams(reader, raw),
        agents=_read_agents(reader, raw),
        resources=read_resources(reader, raw),
        interpreters=read_interpreters(reader, raw),
    )
    _check_duplicates(reader, document)
    return document, reader.problems


def _read_lines(reader: Reader, raw: Mapping[str, Any]) -> tuple[LineSpec, ...]:
    found = []
    queue_index = 0
    for index, item in enumerate(array_of_tables(reader, raw, "lines", reader.source)):
        where = reader.where("lines", index, f"lines[{index}]", _label(item, "name"))
        values = reader.fields(item, LINE_FIELDS, where, extra=("queues",))
        if values is None:
            continue
        queues = []
        raw_queues = item.get("queues", [])
        if not isinstance(raw_queues, list):
            reader.problem(where, "queues must be an array of tables ([[lines.queues]])")
            raw_queues = []
        for position, queue in enumerate(raw_queues):
            queue_where = reader.where(
                "lines.queues",
                queue_index,
                f"lines[{index}].queues[{position}]",
                _label(queue, "name"),
            )
            queue_index += 1
            queue_values = reader.fields(queue, QUEUE_FIELDS, queue_where)
            if queue_values is not None and "name" in queue_values:
                queues.append(QueueSpec(queue_values["name"], queue_values, queue_where))
        number = values.get("number")
        if number is None:
            continue
        for other in ("overflow_number", "urgent_number"):
            if values.get(other) == number:
                reader.problem(where, f"{other} must not be the line's own number (a loop)")
        found.append(LineSpec(number, values, tuple(queues), where))
    return tuple(found)


def _read_teams(reader: Reader, raw: Mapping[str, Any]) -> tuple[TeamSpec, ...]:
    found = []
    for index, item in enumerate(array_of_tables(reader, raw, "teams", reader.source)):
        where = reader.where("teams", index, f"teams[{index}]", _label(item, "name"))
        values = reader.fields(item, TEAM_FIELDS, where, extra=("members",))
        if values is None:
            continue
        members: list[MemberSpec] | None = None
        if "members" in item:
            members = []
            raw_members = item["members"]
            if not isinstance(raw_members, list):
                reader.problem(where, "members must be a list of {login, tier} tables")
                raw_members = []
            for position, member in enumerate(raw_members):
                member_where = f"{where} members[{position}]"
                member_values = reader.fields(member, MEMBER_FIELDS, member_where)
                if member_values and "login" in member_values:
                    members.append(
                        MemberSpec(
                            member_values["login"],
                            member_values.get("tier", 1),
                            member_values.get("on_call", True),
                        )
                    )
        if "name" not in values:
            continue
        line_number = values.pop("line", None)
        found.append(
            TeamSpec(
                values["name"],
                line_number,
                values,
                tuple(members) if members is not None else None,
                where,
            )
        )
    return tuple(found)


def _read_agents(reader: Reader, raw: Mapping[str, Any]) -> tuple[AgentSpec, ...]:
    found = []
    for index, item in enumerate(array_of_tables(reader, raw, "agents", reader.source)):
        where = reader.where("agents", index, f"agents[{index}]", _label(item, "login"))
        values = reader.fields(item, AGENT_FIELDS, where)
        if values is not None and "login" in values:
            found.append(AgentSpec(values["login"], values, where))
    return tuple(found)


def _check_duplicates(reader: Reader, document: HotlineDocument) -> None:
    def unique(items: list[tuple[str, str]], what: str) -> None:
        first: dict[str, str] = {}
        for key, where in items:
            if key in first:
                reader.problem(where, f"{what} {key!r} is already declared at {first[key]}")
            else:
                first[key] = where

    unique([(line.number, line.where) for line in document.lines], "line number")
    unique([(line.values["name"], line.where) for line in document.lines], "line name")
    for line in document.lines:
        unique([(queue.name, queue.where) for queue in line.queues], "queue")
    unique([(team.name, team.where) for team in document.teams], "team name")
    unique([(agent.login, agent.where) for agent in document.agents], "login")
    unique(
        [(f"{r.name} ({r.line_number or 'every line'})", r.where) for r in document.resources],
        "resource",
    )
    for team in document.teams:
        unique([(member.login, team.where) for member in team.members or ()], "member")
