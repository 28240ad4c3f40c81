"""Fictional demo data for the embedded default (``amparo seed-demo``); idempotent.

Every person and number here is invented. Demo passwords (and, for supervisors and admins, the
TOTP secret of their second factor) are generated on first seeding and written to
``demo-logins.txt`` (mode 0600) in the data dir, never kept in code.
"""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
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
from store.phone_numbers import lookup_hash, to_e164
from store.records import CheckinPlan
from store.vocabulary import AgentRole, RiskLevel

CADENCE_DAYS = {
    RiskLevel.EXTREMO: 1,
    RiskLevel.ALTO: 7,
    RiskLevel.MEDIO: 15,
    RiskLevel.BAJO: 30,
    RiskLevel.NO_APRECIADO: 30,
}

_AGENTS = [
    ("lucia", "Lucía Ferrer", AgentRole.AGENT, ["es", "ca"], ["legal"], 1),
    ("amina", "Amina El Idrissi", AgentRole.AGENT, ["es", "ar", "fr"], ["migration"], 1),
    ("irina", "Irina Popescu", AgentRole.AGENT, ["es", "ro", "ru"], [], 0),
    ("oksana", "Oksana Melnyk", AgentRole.AGENT, ["uk", "ru", "en"], [], 0),
    ("maria", "María Quispe", AgentRole.AGENT, ["es"], ["psychology"], 0),
    ("rosa", "Rosa Huamán", AgentRole.AGENT, ["es", "en"], [], 0),
    ("ane", "Ane Etxeberria", AgentRole.AGENT, ["es", "eu"], [], 2),
    ("uxia", "Uxía Castro", AgentRole.AGENT, ["es", "gl", "pt"], [], 2),
    ("mei", "Mei Lin", AgentRole.AGENT, ["zh", "en", "es"], [], 0),
    ("joana", "Joana Sousa", AgentRole.AGENT, ["pt", "es", "fr"], ["legal"], 0),
    ("supervisora", "Carmen Ruiz", AgentRole.SUPERVISOR, ["es", "en"], [], 2),
    ("admin", "Administración", AgentRole.ADMIN, ["es", "en"], [], 0),
]

_GIVEN = ["Ana", "Laura", "Marta", "Sofía", "Nadia", "Elena", "Fátima", "Yolanda", "Pilar", "Inés"]
_FAMILY = ["García", "Martín", "Rojas", "Benali", "Ionescu", "Flores", "Vargas", "Sánchez"]
_GIVEN_AR = ["نادية", "فاطمة", "سلمى", "مريم"]
_FAMILY_AR = ["بنعلي", "العلوي", "الإدريسي"]
_SAFETY_PLAN = (
    "Plan ficticio: bolsa preparada en casa de una amiga; palabra clave con su hermana; "
    "llamar desde el teléfono seguro; salir por la puerta trasera si él llega."
)
_LOCALES = ["es", "es", "es", "ca", "ar", "ro", "fr", "en", "pt", "eu", "gl", "zh", "uk", "ru"]
_RISKS = [
    RiskLevel.NO_APRECIADO,
    RiskLevel.BAJO,
    RiskLevel.MEDIO,
    RiskLevel.ALTO,
    RiskLevel.EXTREMO,
]


SECOND_FACTOR_ROLES = (AgentRole.SUPERVISOR, AgentRole.ADMIN)


@dataclass(frozen=True)
class DemoLogin:
    login: str
    role: str
    password: str
    totp_secret: str = ""
    """Base32 secret for an authenticator app (supervisors and admins sign in with a code)."""


def _line(session: Session, name: str, **values: str) -> Line:
    line = session.scalar(select(Line).where(Line.name == name))
    if line is None:
        line = Line(name=name, **values)
        session.add(line)
        session.flush()
    return line


def _queues(session: Session, line: Line) -> None:
    for name, specialty in (("general", None), ("legal", "legal")):
        exists = session.scalar(select(Queue).where(Queue.line_id == line.id, Queue.name == name))
        if exists is None:
            session.add(Queue(line_id=line.id, name=name, specialty=specialty))


def _agents(session: Session, team: Team) -> list[DemoLogin]:
    created = []
    for login, name, role, languages, skills, tier in _AGENTS:
        if session.scalar(select(Agent).where(Agent.login == login)) is not None:
            continue
        password = secrets.token_urlsafe(9)
        totp_secret = pyotp.random_base32() if role in SECOND_FACTOR_ROLES else None
        agent = Agent(
            login=login,
            display_name=name,
            password_hash=hash_secret(password),
            role=role,
            languages=languages,
            skills=skills,
            team_id=team.id if tier else None,
            sip_uri=f"sip:{login}@127.0.0.1",
            totp_secret=totp_secret,
        )
        session.add(agent)
        session.flush()
        if tier:
            session.add(TeamMember(team_id=team.id, agent_id=agent.id, tier=tier, on_call=True))
        created.append(DemoLogin(login, role.value, password, totp_secret or ""))
    return created


def _beneficiaries(session: Session, lines: list[Line], count: int = 40) -> None:
    rng = random.Random(20261129)  # noqa: S311 - fictional demo data, not security
    now = utcnow()
    for index in range(count):
        reference = f"DEMO-{index + 1:03d}"
        line = lines[index % len(lines)]
        region = "ES" if line.jurisdiction == "ES" else "PE"
        if session.scalar(select(Beneficiary.id).where(Beneficiary.reference == reference)):
            continue
        risk = _RISKS[index % len(_RISKS)]
        locale = _LOCALES[index % len(_LOCALES)] if region == "ES" else "es"
        if region == "ES":
            primary = to_e164(f"+34 6{rng.randint(10, 99)} {rng.randint(100000, 999999)}")
            device_number = to_e164(f"+34 7{rng.randint(10, 99)} {rng.randint(100000, 999999)}")
        else:
            primary = to_e164(f"+51 9{rng.randint(10, 99)} {rng.randint(100000, 999999)}")
            device_number = to_e164(f"+51 9{rng.randint(10, 99)} {rng.randint(100000, 999999)}")
        beneficiary = Beneficiary(
            reference=reference,
            full_name=(
                f"{rng.choice(_GIVEN_AR)} {rng.choice(_FAMILY_AR)} (ficticia)"
                if locale == "ar"
                else f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)} (ficticia)"
            ),
            safety_plan=_SAFETY_PLAN,
            municipality=("Madrid" if index % 3 else "Barcelona") if region == "ES" else "Lima",
            preferred_locale=locale,
            timezone=line.timezone,
            risk_level=risk,
            risk_reviewed_at=now - timedelta(days=rng.randint(0, 30)),
            safe_call_windows=[
                {"days": [0, 1, 2, 3, 4], "start": "10:00", "end": "13:00"},
                {"days": [5], "start": "11:00", "end": "12:00"},
            ],
            pin_hash=hash_secret(f"{1000 + index}"),
            duress_digit_hash=hash_secret("7"),
            cover_script=rng.choice(["survey", "appointment"]),
            line_id=line.id,
            notes="Datos ficticios de demostración.",
        )
        beneficiary.phones.append(
            BeneficiaryPhone(kind="primary", number=primary, number_hash=lookup_hash(primary))
        )
        beneficiary.devices.append(
            Device(
                serial=f"DEV-{index + 1:04d}",
                number=device_number,
                number_hash=lookup_hash(device_number),
                secret=secrets.token_urlsafe(24),
            )
        )
        session.add(beneficiary)
        session.flush()
        session.add(
            CheckinPlan(
                beneficiary_id=beneficiary.id,
                cadence_days=CADENCE_DAYS[risk],
                next_due_at=now + timedelta(days=rng.randint(0, CADENCE_DAYS[risk])),
            )
        )


def seed_demo(sessions: sessionmaker[Session], data_dir: Path) -> list[DemoLogin]:
    """Create the demo data once; return logins created by this run (empty when already seeded)."""
    with sessions() as session, session.begin():
        spain = _line(
            session,
            "Línea de demostración (España)",
            number="+34900000001",
            default_locale="es",
            timezone="Europe/Madrid",
            jurisdiction="ES",
            overflow_number="+34900000002",
            urgent_number="+34900000003",
        )
        peru = _line(
            session,
            "Línea de demostración (Perú)",
            number="+5110000100",
            default_locale="es",
            timezone="America/Lima",
            jurisdiction="PE",
            overflow_number="+5110000101",
            urgent_number="+5110000102",
        )
        for line in (spain, peru):
            _queues(session, line)
            if session.scalar(select(Resource.id).where(Resource.line_id == line.id)) is None:
                session.add_all(fictional_resources(line.id, line.jurisdiction))
        team = session.scalar(select(Team).where(Team.name == "Equipo de respuesta urgente"))
        if team is None:
            team = Team(
                name="Equipo de respuesta urgente", line_id=spain.id, tier_delays_s=[60, 60]
            )
            session.add(team)
            session.flush()
        created = _agents(session, team)
        _beneficiaries(session, [spain, peru])
    if created:
        _write_logins(data_dir / "demo-logins.txt", created)
    return created


def _write_logins(path: Path, logins: list[DemoLogin]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        for item in logins:
            handle.write(f"{item.login}\t{item.role}\t{item.password}\t{item.totp_secret}\n")


def read_logins(data_dir: Path) -> list[DemoLogin]:
    path = data_dir / "demo-logins.txt"
    if not path.exists():
        return []
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [DemoLogin(r[0], r[1], r[2], r[3] if len(r) > 3 else "") for r in rows if len(r) >= 3]
