"""The stored configuration written back as a hotline file (``amparo config export``).

The output is the format ``amparo config apply`` reads, so an operator can start from what is
stored; applying it unchanged changes nothing. No password, hash or TOTP secret is written;
agents' display names are, so the file is personal data to keep as such.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline_config.interpreters import interpreter_pairs
from store.models import Agent, Interpreter, Line, Queue, Resource, Team, TeamMember

HEADER = (
    "# Amparo hotline configuration (amparo config export). Apply with: amparo config apply FILE\n"
    "# It holds agents' names: keep it out of logs, tickets and shared folders.\n"
)


def toml_value(value: Any) -> str:
    """A TOML literal for the few kinds of value the file holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{name} = {toml_value(item)}" for name, item in value.items())
        return "{ " + inner + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _table(
    header: str, pairs: list[tuple[str, Any]], indent: str = "", extra: list[str] | None = None
) -> list[str]:
    """An ``[[header]]`` table; a None value is left out (apply then leaves it as it is)."""
    out = [f"{indent}[[{header}]]"]
    out += [f"{indent}{name} = {toml_value(value)}" for name, value in pairs if value is not None]
    return [*out, *(extra or []), ""]


def export_text(sessions: sessionmaker[Session]) -> str:
    """Every line with its queues, every team with its members, every agent (by login), every
    resource."""
    out = [HEADER]
    with sessions() as db:
        numbers = {line.id: line.number for line in db.scalars(select(Line))}
        logins = {agent.id: agent.login for agent in db.scalars(select(Agent))}
        for line in db.scalars(select(Line).order_by(Line.number)):
            out += _table("lines", _line_pairs(line))
            for queue in db.scalars(
                select(Queue).where(Queue.line_id == line.id).order_by(Queue.name)
            ):
                out += _table("lines.queues", _queue_pairs(queue), indent="  ")
        for team in db.scalars(select(Team).order_by(Team.name)):
            members = sorted(
                (member.tier, logins[member.agent_id], member.on_call)
                for member in db.scalars(select(TeamMember).where(TeamMember.team_id == team.id))
            )
            listed = [
                f"  {toml_value({'login': login, 'tier': tier, 'on_call': on_call})},"
                for tier, login, on_call in members
            ]
            out += _table(
                "teams",
                [
                    ("name", team.name),
                    ("line", numbers.get(team.line_id) if team.line_id else None),
                    ("tier_delays_s", list(team.tier_delays_s or [])),
                ],
                extra=["members = [", *listed, "]"],
            )
        for agent in db.scalars(select(Agent).order_by(Agent.login)):
            out += _table("agents", _agent_pairs(agent))
        for resource in db.scalars(
            select(Resource).order_by(Resource.line_id, Resource.kind, Resource.name)
        ):
            number = numbers.get(resource.line_id) if resource.line_id else None
            out += _table("resources", _resource_pairs(resource, number))
        for interpreter in db.scalars(
            select(Interpreter).order_by(Interpreter.line_id, Interpreter.language)
        ):
            number = numbers.get(interpreter.line_id) if interpreter.line_id else None
            out += _table("interpreters", interpreter_pairs(interpreter, number))
    return "\n".join(out).rstrip("\n") + "\n"


def _line_pairs(line: Line) -> list[tuple[str, Any]]:
    return [
        ("name", line.name),
        ("number", line.number),
        ("default_locale", line.default_locale),
        ("timezone", line.timezone),
        ("jurisdiction", line.jurisdiction),
        ("flow", line.flow),
        ("overflow_number", line.overflow_number),
        ("urgent_number", line.urgent_number),
        ("recording_retention_days", line.recording_retention_days),
        ("callback_offer_when_waiting", line.callback_offer_when_waiting),
        ("interpreter_on_accept", line.interpreter_on_accept),
    ]


def _queue_pairs(queue: Queue) -> list[tuple[str, Any]]:
    return [
        ("name", queue.name),
        ("specialty", queue.specialty),
        ("offer_timeout_s", queue.offer_timeout_s),
        ("widen_after_s", queue.widen_after_s),
        ("max_wait_s", queue.max_wait_s),
        ("wrap_up_s", queue.wrap_up_s),
    ]


def _agent_pairs(agent: Agent) -> list[tuple[str, Any]]:
    return [
        ("login", agent.login),
        ("display_name", agent.display_name),
        ("role", str(agent.role)),
        ("languages", list(agent.languages or [])),
        ("specialties", list(agent.skills or [])),
        ("sip_uri", agent.sip_uri),
        ("on_call_number", agent.on_call_number),
        ("active", agent.active),
    ]


def _resource_pairs(resource: Resource, line_number: str | None) -> list[tuple[str, Any]]:
    return [
        ("name", resource.name),
        ("kind", resource.kind),
        ("municipality", resource.municipality),
        ("latitude", resource.latitude),
        ("longitude", resource.longitude),
        ("phone", resource.phone),
        ("line", line_number),
        ("active", resource.active),
    ]
