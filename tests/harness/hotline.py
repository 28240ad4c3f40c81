"""A small hotline in the test database: one line, an urgent team in two tiers, agents with
languages, and a registered beneficiary with a panic-button device; and a way to staff it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from routing import AgentState, Router
from runtime import Runtime, build_runtime
from settings import Settings
from store.credentials import hash_secret
from store.demo_resources import fictional_resources
from store.models import (
    Agent,
    Beneficiary,
    BeneficiaryPhone,
    Device,
    Line,
    Queue,
    Resource,
    Team,
    TeamMember,
)
from store.phone_numbers import lookup_hash
from store.vocabulary import AgentRole, RiskLevel

_PASSWORD_HASH = hash_secret("correct horse battery staple")
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Hotline:
    line_id: str
    line_number: str
    team_id: str
    agents: dict[str, str]  # login -> agent id
    beneficiary_id: str
    beneficiary_number: str
    device_id: str
    device_number: str
    device_secret: str


def _number(prefix: str) -> str:
    return prefix + "".join(secrets.choice("0123456789") for _ in range(7))


def make_hotline(
    sessions: sessionmaker[Session], stored_risk: RiskLevel = RiskLevel.MEDIO
) -> Hotline:
    tag = secrets.token_hex(3)
    line_number = _number("+3491")
    beneficiary_number = _number("+3461")
    device_number = _number("+3471")
    device_secret = secrets.token_urlsafe(24)
    with sessions() as db, db.begin():
        line = Line(
            name=f"Test line {tag}",
            number=line_number,
            default_locale="es",
            overflow_number="+34900000002",
            urgent_number="+34900000003",
        )
        db.add(line)
        db.flush()
        db.add(Queue(line_id=line.id, name="general"))
        db.add_all(fictional_resources(line.id, "ES"))
        team = Team(name=f"Urgent team {tag}", line_id=line.id, tier_delays_s=[30, 30])
        db.add(team)
        db.flush()
        agents: dict[str, str] = {}
        for login, languages, role, tier in (
            ("ana", ["es", "en"], AgentRole.AGENT, 0),
            ("farah", ["ar", "fr", "es"], AgentRole.AGENT, 0),
            ("urgent1", ["es"], AgentRole.AGENT, 1),
            ("urgent2", ["es"], AgentRole.AGENT, 2),
            ("boss", ["es", "en"], AgentRole.SUPERVISOR, 0),
        ):
            agent = Agent(
                login=f"{login}-{tag}",
                display_name=f"{login.title()} Test",
                password_hash=_PASSWORD_HASH,
                role=role,
                languages=languages,
                skills=[],
            )
            db.add(agent)
            db.flush()
            agents[login] = agent.id
            if tier:
                db.add(TeamMember(team_id=team.id, agent_id=agent.id, tier=tier))
        beneficiary = Beneficiary(
            reference=f"T-{tag}",
            full_name="Test Beneficiary",
            preferred_locale="es",
            timezone="Europe/Madrid",
            risk_level=stored_risk,
            line_id=line.id,
            safe_call_windows=[{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}],
            pin_hash=hash_secret("2468"),
            duress_digit_hash=hash_secret("7"),
        )
        beneficiary.phones.append(
            BeneficiaryPhone(number=beneficiary_number, number_hash=lookup_hash(beneficiary_number))
        )
        device = Device(
            serial=f"DEV-{tag}",
            number=device_number,
            number_hash=lookup_hash(device_number),
            secret=device_secret,
        )
        beneficiary.devices.append(device)
        db.add(beneficiary)
        db.flush()
        return Hotline(
            line_id=line.id,
            line_number=line_number,
            team_id=team.id,
            agents=agents,
            beneficiary_id=beneficiary.id,
            beneficiary_number=beneficiary_number,
            device_id=device.id,
            device_number=device_number,
            device_secret=device_secret,
        )


def staff_line(
    router: Router, hotline: Hotline, login: str = "farah", at: float | None = None
) -> str:
    """Sign the hotline's agent ``login`` in, on a break, and return her id.

    Routing overflows a call at once to the backup number when nobody serving its queue is
    signed in; with her on a break the line counts as staffed and callers wait on hold for a
    human. ``at`` defaults to the wall clock.
    """
    agent_id = hotline.agents[login]
    router.set_agent_state(agent_id, AgentState.BREAK, time.time() if at is None else at)
    return agent_id


@contextmanager
def staffed_runtime(
    settings: Settings, hotline: Hotline, login: str = "farah"
) -> Iterator[Runtime]:
    """A runtime built after the hotline exists (routing reads its queues when it starts), on
    a line staffed with :func:`staff_line`; closed on leaving."""
    runtime = build_runtime(settings)
    try:
        staff_line(runtime.router, hotline, login)
        yield runtime
    finally:
        runtime.close()


def add_shelter(sessions: sessionmaker[Session], line_id: str, phone: str) -> str:
    """A service of the line's directory with a phone (a shelter): its id."""
    with sessions() as db, db.begin():
        row = Resource(
            line_id=line_id,
            name="Casa de acogida",
            kind="shelter",
            municipality="Madrid",
            phone=phone,
        )
        db.add(row)
        db.flush()
        return row.id
