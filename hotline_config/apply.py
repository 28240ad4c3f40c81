"""Apply a checked hotline document to the store: one transaction, all or nothing.

Things are matched by a stable key: a line by its number (else by its name, which changes its
number), a queue by its line and name, a team by its name, an agent by her login, a resource
by its line and name. A field is written only when it differs, so applying the same file twice
changes nothing. Nothing is deleted: lines, queues, teams, agents and resources absent from
the file are kept as they are; an agent leaves, and a resource is retired, with
``active = false``. A team that lists ``members`` gets exactly those members.

New agents get a generated password (and supervisors and admins a TOTP secret), returned once
in the report to be shown to the operator; only the argon2 hash and the encrypted secret are
stored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pyotp
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hotline_config.document import AgentSpec, HotlineDocument, LineSpec, TeamSpec
from hotline_config.fields import Problem
from hotline_config.interpreters import InterpreterSpec, stored_interpreter
from hotline_config.resources import ResourceSpec
from store import audit
from store.credentials import hash_secret
from store.models import Agent, Interpreter, Line, Queue, Resource, Team, TeamMember
from store.vocabulary import AgentRole

SECOND_FACTOR_ROLES = frozenset({AgentRole.SUPERVISOR.value, AgentRole.ADMIN.value})
TOTP_ISSUER = "Amparo"
"""The issuer the console shows when it enrols an authenticator (agent_console.auth.ISSUER)."""
AUDIT_ACTOR = "config"


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Change:
    kind: str
    """line, queue, team, agent or resource."""
    key: str
    action: Action
    fields: tuple[str, ...] = ()
    """Names of the fields written (never their values: some are personal)."""


@dataclass(frozen=True)
class NewCredential:
    """A secret to show once: the password of a new account, the TOTP secret of a new second
    factor (or both)."""

    login: str
    role: str
    password: str | None
    totp_secret: str | None

    @property
    def otpauth_uri(self) -> str | None:
        if self.totp_secret is None:
            return None
        return pyotp.TOTP(self.totp_secret).provisioning_uri(
            name=self.login, issuer_name=TOTP_ISSUER
        )


@dataclass
class ApplyReport:
    changes: list[Change] = field(default_factory=list)
    credentials: list[NewCredential] = field(default_factory=list)
    kept: dict[str, int] = field(default_factory=dict)
    """Stored things the file does not mention, by kind: left as they are."""
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    deactivated: dict[str, str] = field(default_factory=dict)
    """Accounts this apply deactivated: login -> agent id (routing must let them go)."""

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action is action)

    @property
    def changed(self) -> bool:
        return any(change.action is not Action.UNCHANGED for change in self.changes)

    @property
    def routing_changed(self) -> bool:
        """Lines, queues and teams are read by routing when a process starts (resources are
        read on every lookup)."""
        return any(
            change.action is not Action.UNCHANGED and change.kind not in ("agent", "resource")
            for change in self.changes
        )


class ConfigRejected(Exception):
    """The file cannot be applied; nothing was written."""

    error_id = "config.rejected"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def apply_document(
    sessions: sessionmaker[Session], document: HotlineDocument, *, dry_run: bool = False
) -> ApplyReport:
    """Write ``document`` to the store (or, with ``dry_run``, work out what would change and
    write nothing). Raise ConfigRejected listing every problem found against the store."""
    with sessions() as db:
        transaction = db.begin()
        try:
            problems, warnings = _check_against_store(db, document)
            if problems:
                raise ConfigRejected(problems)
            report = _Applier(db, dry_run=dry_run).run(document)
            report.warnings.extend(warnings)
            db.flush()
        except IntegrityError as exc:
            transaction.rollback()
            raise ConfigRejected(
                [Problem("store", f"refused by the database ({type(exc.orig).__name__})")]
            ) from exc
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return report


def _line_matches(db: Session, document: HotlineDocument) -> dict[str, Line | None]:
    """The stored line each declared line is (by number, else by name), by declared number."""
    found: dict[str, Line | None] = {}
    for spec in document.lines:
        line = db.scalar(select(Line).where(Line.number == spec.number))
        if line is None:
            line = db.scalar(select(Line).where(Line.name == spec.values["name"]))
        found[spec.number] = line
    return found


def _check_against_store(db: Session, document: HotlineDocument) -> tuple[list[Problem], list[str]]:
    """Problems (nothing may be applied) and warnings (applied, but the operator should know)."""
    problems: list[Problem] = []
    warnings: list[str] = []
    matches = _line_matches(db, document)
    for spec in document.lines:
        named = db.scalar(select(Line).where(Line.name == spec.values["name"]))
        match = matches[spec.number]
        if named is not None and match is not None and named.id != match.id:
            problems.append(
                Problem(spec.where, f"name is already used by the stored line {named.number}")
            )
    declared_numbers = {spec.number for spec in document.lines}
    served: list[tuple[str | None, str]] = [
        *((r.line_number, r.where) for r in document.resources),
        *((i.line_number, i.where) for i in document.interpreters),
    ]
    for number, where in served:
        if (
            number is not None
            and number not in declared_numbers
            and db.scalar(select(Line.id).where(Line.number == number)) is None
        ):
            problems.append(Problem(where, f"line {number} is neither in the file nor stored"))
    declared = {agent.login: agent for agent in document.agents}
    for team in document.teams:
        if team.line_number is not None and team.line_number not in declared_numbers:
            stored = db.scalar(select(Line.id).where(Line.number == team.line_number))
            if stored is None:
                problems.append(
                    Problem(
                        team.where, f"line {team.line_number} is neither in the file nor stored"
                    )
                )
        current = set(
            db.scalars(
                select(Agent.login)
                .join(TeamMember, TeamMember.agent_id == Agent.id)
                .join(Team, Team.id == TeamMember.team_id)
                .where(Team.name == team.name)
            )
        )
        for login in dict.fromkeys(member.login for member in team.members or ()):
            active = _member_active(db, login, declared.get(login))
            if active is None:
                problems.append(
                    Problem(
                        team.where,
                        f"member {login!r} is neither an agent in the file nor a stored account",
                    )
                )
            elif not active and login not in current:
                problems.append(
                    Problem(
                        team.where,
                        f"member {login!r} is an inactive account, who cannot answer an urgent "
                        "call; leave her out of the team or reactivate her (active = true)",
                    )
                )
            elif not active:
                warnings.append(
                    f"{team.where}: member {login!r} is an inactive account; the team's ladder "
                    "still rings her tier: take her out of the team"
                )
    return problems, warnings


def _member_active(db: Session, login: str, declared: AgentSpec | None) -> bool | None:
    """Whether ``login`` will be active after applying; None when no such account will exist."""
    stored = db.scalar(select(Agent.active).where(Agent.login == login))
    if declared is not None:
        return declared.active if declared.active is not None else (stored is not False)
    return stored


def _write(row: Any, values: dict[str, Any]) -> tuple[str, ...]:
    """Set the differing ``values`` on ``row``; return the names written."""
    written = []
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, list(value) if isinstance(value, list) else value)
            written.append(name)
    return tuple(written)


@dataclass
class _Applier:
    db: Session
    dry_run: bool
    report: ApplyReport = field(init=False)

    def __post_init__(self) -> None:
        self.report = ApplyReport(dry_run=self.dry_run)

    def run(self, document: HotlineDocument) -> ApplyReport:
        matches = _line_matches(self.db, document)
        touched_lines = {self._line(spec, matches[spec.number]) for spec in document.lines}
        touched_agents = {self._agent(spec) for spec in document.agents}
        touched_teams = {self._team(spec) for spec in document.teams}
        touched_resources = {self._resource(spec) for spec in document.resources}
        touched_interpreters = {self._interpreter(spec) for spec in document.interpreters}
        self.db.flush()
        for kind, model, touched in (
            ("lines", Line, touched_lines),
            ("teams", Team, touched_teams),
            ("agents", Agent, touched_agents),
            ("resources", Resource, touched_resources),
            ("interpreters", Interpreter, touched_interpreters),
        ):
            stored = set(self.db.scalars(select(model.id)))
            self.report.kept[kind] = len(stored - touched)
        if self.report.changed:
            audit.record(
                self.db,
                actor_type="system",
                actor_id=AUDIT_ACTOR,
                action="hotline_config_applied",
                detail={action.value: self.report.count(action) for action in Action},
            )
        return self.report

    def _note(self, kind: str, key: str, created: bool, written: tuple[str, ...]) -> None:
        action = Action.CREATED if created else Action.UPDATED if written else Action.UNCHANGED
        self.report.changes.append(Change(kind, key, action, () if created else written))

    def _line(self, spec: LineSpec, line: Line | None) -> str:
        created = line is None
        if line is None:
            line = Line(**spec.values)
            self.db.add(line)
            self.db.flush()
            written: tuple[str, ...] = ()
        else:
            written = _write(line, spec.values)
        self._note("line", spec.number, created, written)
        for queue_spec in spec.queues:
            queue = self.db.scalar(
                select(Queue).where(Queue.line_id == line.id, Queue.name == queue_spec.name)
            )
            queue_created = queue is None
            if queue is None:
                self.db.add(Queue(line_id=line.id, **queue_spec.values))
                queue_written: tuple[str, ...] = ()
            else:
                queue_written = _write(queue, queue_spec.values)
            self._note("queue", f"{spec.number} {queue_spec.name}", queue_created, queue_written)
        return line.id

    def _agent(self, spec: AgentSpec) -> str:
        agent = self.db.scalar(select(Agent).where(Agent.login == spec.login))
        if agent is None:
            password = secrets.token_urlsafe(12)
            role = spec.values["role"]
            totp = pyotp.random_base32() if role in SECOND_FACTOR_ROLES else None
            values = {"languages": [], "skills": [], **spec.values}
            agent = Agent(password_hash=hash_secret(password), totp_secret=totp, **values)
            self.db.add(agent)
            self.db.flush()
            self.report.credentials.append(NewCredential(spec.login, role, password, totp))
            self._audit(agent.id, "account_created")
            self._note("agent", spec.login, True, ())
            return agent.id
        before_role = str(agent.role)
        written = _write(agent, spec.values)
        if "role" in written:
            self._audit(agent.id, "role_changed", {"from": before_role, "to": str(agent.role)})
            if str(agent.role) in SECOND_FACTOR_ROLES and agent.totp_secret is None:
                totp = pyotp.random_base32()
                agent.totp_secret = totp
                written = (*written, "totp_secret")
                self.report.credentials.append(
                    NewCredential(agent.login, str(agent.role), None, totp)
                )
        if "active" in written:
            self._audit(agent.id, "account_reactivated" if agent.active else "account_deactivated")
            if not agent.active:
                self.report.deactivated[agent.login] = agent.id
        self._note("agent", spec.login, False, written)
        return agent.id

    def _audit(self, agent_id: str, action: str, detail: dict[str, Any] | None = None) -> None:
        audit.record(
            self.db,
            actor_type="system",
            actor_id=AUDIT_ACTOR,
            action=action,
            subject_type="agent",
            subject_id=agent_id,
            detail=detail,
        )

    def _team(self, spec: TeamSpec) -> str:
        values = dict(spec.values)
        if spec.line_number is not None:
            values["line_id"] = self.db.scalar(
                select(Line.id).where(Line.number == spec.line_number)
            )
        team = self.db.scalar(select(Team).where(Team.name == spec.name))
        created = team is None
        if team is None:
            team = Team(**values)
            self.db.add(team)
            self.db.flush()
            written: tuple[str, ...] = ()
        else:
            written = _write(team, values)
        if spec.members is not None and self._members(team, spec) and not created:
            written = (*written, "members")
        self._note(
            "team", spec.name, created, tuple("line" if w == "line_id" else w for w in written)
        )
        return team.id

    def _resource(self, spec: ResourceSpec) -> str:
        line_id = (
            self.db.scalar(select(Line.id).where(Line.number == spec.line_number))
            if spec.line_number is not None
            else None
        )
        line_match = Resource.line_id.is_(None) if line_id is None else Resource.line_id == line_id
        resource = self.db.scalar(
            select(Resource).where(line_match, Resource.name == spec.name).limit(1)
        )
        created = resource is None
        if resource is None:
            resource = Resource(line_id=line_id, **spec.values)
            self.db.add(resource)
            self.db.flush()
            written: tuple[str, ...] = ()
        else:
            written = _write(resource, spec.values)
        key = f"{spec.line_number} {spec.name}" if spec.line_number else spec.name
        self._note("resource", key, created, written)
        return resource.id

    def _interpreter(self, spec: InterpreterSpec) -> str:
        line_id = (
            self.db.scalar(select(Line.id).where(Line.number == spec.line_number))
            if spec.line_number is not None
            else None
        )
        row = stored_interpreter(self.db, line_id, spec.language)
        created = row is None
        if row is None:
            row = Interpreter(line_id=line_id, **spec.values)
            self.db.add(row)
            self.db.flush()
            written: tuple[str, ...] = ()
        else:
            written = _write(row, spec.values)
        where = f"{spec.line_number} {spec.language}" if spec.line_number else spec.language
        self._note("interpreter", where, created, written)
        return row.id

    def _members(self, team: Team, spec: TeamSpec) -> bool:
        """Make the team's members exactly ``spec.members``; True when anything changed."""
        wanted: dict[str, tuple[int, bool]] = {}
        for member in spec.members or ():
            agent_id = self.db.scalar(select(Agent.id).where(Agent.login == member.login))
            assert agent_id is not None, "checked against the store before writing"
            wanted[agent_id] = (member.tier, member.on_call)
        stored = {
            row.agent_id: row
            for row in self.db.scalars(select(TeamMember).where(TeamMember.team_id == team.id))
        }
        changed = False
        for agent_id, row in stored.items():
            if agent_id not in wanted:
                self.db.delete(row)
                changed = True
        for agent_id, (tier, on_call) in wanted.items():
            found = stored.get(agent_id)
            if found is None:
                self.db.add(
                    TeamMember(team_id=team.id, agent_id=agent_id, tier=tier, on_call=on_call)
                )
                changed = True
            elif (found.tier, found.on_call) != (tier, on_call):
                found.tier, found.on_call = tier, on_call
                changed = True
        return changed
