"""``amparo config apply`` and ``export`` on the real database: what an operator configuring a
new hotline sees, and what the console and routing then do with it."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from ivr_flows.actions import Enqueue
from ivr_flows.events import CallEvent, EventKind
from routing import AgentState, views
from runtime import build_runtime
from settings import Settings
from store.credentials import verify_secret
from store.models import Agent, Line, Queue, Team, TeamMember
from store.records import AuditEntry
from store.vocabulary import Channel
from tests.integration.hotline_config.conftest import ConfigCommand, Names, hotline_file, issued

T0 = 1_800_000_000.0


def snapshot(sessions: sessionmaker[Session], names: Names) -> dict[str, Any]:
    """Every stored field of the test's hotline (secrets as stored: hashes and ciphertext)."""
    with sessions() as db:
        line = db.scalar(select(Line).where(Line.name == f"Línea {names.tag}"))
        assert line is not None
        team = db.scalar(select(Team).where(Team.name == names.team))
        assert team is not None
        agents = db.scalars(select(Agent).where(Agent.login.like(f"%-{names.tag}"))).all()
        rows: list[Any] = [line, team, *agents]
        rows += db.scalars(select(Queue).where(Queue.line_id == line.id)).all()
        rows += db.scalars(select(TeamMember).where(TeamMember.team_id == team.id)).all()
        return {
            f"{type(row).__name__}:{getattr(row, 'id', None) or row.agent_id}": {
                column.key: getattr(row, column.key) for column in row.__mapper__.column_attrs
            }
            for row in rows
        }


def audit_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return len(db.scalars(select(AuditEntry.id)).all())


def sign_in(client: Any, login: str, password: str, totp_secret: str | None = None) -> Any:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    answer = client.post(
        "/login", data={"csrf_token": token.group(1), "login": login, "password": password}
    )
    if totp_secret is not None:
        assert answer.headers["Location"].endswith("/login/code")
        code = pyotp.TOTP(totp_secret).now()
        answer = client.post("/login/code", data={"csrf_token": token.group(1), "code": code})
    return answer


def test_apply_creates_the_hotline_and_new_accounts_sign_in_with_what_was_printed_once(
    amparo_config: ConfigCommand,
    names: Names,
    db_sessions: sessionmaker[Session],
    settings: Settings,
    redis_client: redis.Redis,
) -> None:
    result = amparo_config.apply(hotline_file(names))
    assert result.exit_code == 0, result.output
    assert "8 created, 0 updated, 0 unchanged" in result.output
    assert "restart" in result.output
    secrets_shown = issued(result.output)
    assert set(secrets_shown) == {names.login(n) for n in ("ana", "urgente", "reserva", "jefa")}
    assert secrets_shown[names.login("ana")].totp_secret is None
    boss = secrets_shown[names.login("jefa")]
    assert boss.password and boss.totp_secret
    assert f"otpauth://totp/Amparo:{names.login('jefa')}?secret={boss.totp_secret}" in (
        result.output
    )

    with db_sessions() as db:
        line = db.scalar(select(Line).where(Line.number == names.number.replace(" ", "")))
        assert line is not None
        assert (line.default_locale, line.jurisdiction, line.flow) == ("es", "ES", "inbound_triage")
        assert (line.overflow_number, line.urgent_number) == (names.overflow, names.urgent)
        queues = {q.name: q for q in db.scalars(select(Queue).where(Queue.line_id == line.id))}
        assert set(queues) == {"general", "legal"} and queues["legal"].specialty == "legal"
        team = db.scalar(select(Team).where(Team.name == names.team))
        assert team is not None and team.line_id == line.id and team.tier_delays_s == [30, 45]
        ana = db.scalar(select(Agent).where(Agent.login == names.login("ana")))
        assert ana is not None
        assert (ana.display_name, ana.languages, ana.skills) == (
            "Ana Ficticia",
            ["es", "en"],
            ["legal"],
        )
        assert ana.sip_uri == "sip:ana@pbx.example.org" and ana.active
        assert ana.on_call_number == "+34600000111"
        password = secrets_shown[names.login("ana")].password
        assert password and password not in ana.password_hash
        assert verify_secret(ana.password_hash, password)
        created = db.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == ana.id)).all()
        assert created == ["account_created"]
        members = {
            m.agent_id: m.tier
            for m in db.scalars(select(TeamMember).where(TeamMember.team_id == team.id))
        }
        logins = dict(db.execute(select(Agent.id, Agent.login)).all())
        assert {logins[a]: tier for a, tier in members.items()} == {
            names.login("urgente"): 1,
            names.login("reserva"): 2,
        }

    runtime = build_runtime(settings)
    try:
        app = create_app(runtime=runtime)
        agent, supervisor = app.test_client(), app.test_client()
        assert sign_in(agent, names.login("ana"), password).status_code == 302
        assert agent.get("/").headers["Location"] == "/console"
        assert agent.get("/console").status_code == 200
        assert boss.password is not None
        answer = sign_in(supervisor, names.login("jefa"), boss.password, boss.totp_secret)
        assert answer.status_code == 302
        assert supervisor.get("/").headers["Location"] == "/supervisor"
    finally:
        runtime.close()


def test_applying_the_same_file_twice_changes_nothing(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    text = hotline_file(names)
    assert amparo_config.apply(text).exit_code == 0
    before = snapshot(db_sessions, names)
    audited = audit_count(db_sessions)
    again = amparo_config.apply(text)
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 8 unchanged" in again.output
    assert "password" not in again.output and "restart" not in again.output
    assert snapshot(db_sessions, names) == before
    assert audit_count(db_sessions) == audited


def test_an_update_writes_only_what_changed_and_never_touches_passwords(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    assert amparo_config.apply(hotline_file(names)).exit_code == 0
    before = snapshot(db_sessions, names)
    changed = hotline_file(
        names,
        ana_languages='["es", "en", "ar"]',
        general_widen="90",
        team_members=f'{{ login = "{names.login("reserva")}", tier = 1 }}',
        extra="active = false",
    )
    result = amparo_config.apply(changed)
    assert result.exit_code == 0, result.output
    assert f"agent {names.login('ana')}: updated (languages)" in result.output
    assert "general: updated (widen_after_s)" in result.output
    assert f"team {names.team}: updated (members)" in result.output
    assert f"agent {names.login('jefa')}: updated (active)" in result.output
    assert "0 created, 4 updated, 4 unchanged" in result.output
    assert "password" not in result.output

    after = snapshot(db_sessions, names)
    differences = {
        (row, name)
        for row in before.keys() | after.keys()
        for name in (before.get(row) or after[row])
        if (before.get(row) or {}).get(name) != (after.get(row) or {}).get(name)
    }
    kinds = {(row.split(":")[0], name) for row, name in differences}
    assert kinds == {
        ("Agent", "languages"),
        ("Agent", "active"),
        ("Queue", "widen_after_s"),
        ("TeamMember", "agent_id"),  # urgente left the team
        ("TeamMember", "team_id"),
        ("TeamMember", "tier"),  # reserva moved to tier 1
        ("TeamMember", "on_call"),
    }


def test_an_invalid_file_reports_every_problem_and_changes_nothing(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    broken = (
        hotline_file(names)
        .replace('default_locale = "es"', 'default_locale = "klingon"')
        .replace(f'overflow_number = "{names.overflow}"', 'overflow_number = "+34 12"')
        .replace('role = "supervisor"', 'role = "boss"')
        .replace('name = "legal"', 'name = "legal"\n  colour = "blue"')
        + f'\n[[agents]]\nlogin = "{names.login("ana")}"\ndisplay_name = "Again"\nrole = "agent"\n'
    )
    result = amparo_config.apply(broken)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 5, result.output
    assert any("default_locale 'klingon' is not a supported locale" in e for e in errors)
    assert any("overflow_number is not a possible phone number" in e for e in errors)
    assert any("role 'boss' is not a role" in e for e in errors)
    assert any("unknown key 'colour'" in e for e in errors)
    assert any("login" in e and "already declared" in e for e in errors)
    assert all(re.match(r"error: \S+\.toml:\d+: ", e) for e in errors), errors
    assert "5 problem(s); nothing was applied." in result.output

    # Problems only the store can show are found before anything is written, too.
    unknown_member = hotline_file(
        names,
        team_members=(
            f'{{ login = "{names.login("nadie")}", tier = 1 }}, '
            f'{{ login = "{names.login("jefa")}", tier = 2 }}'
        ),
        extra="active = false",
    ).replace(f'line = "{names.number}"', 'line = "+34 910 000 999"')
    result = amparo_config.apply(unknown_member)
    assert result.exit_code == 1
    assert "line +34910000999 is neither in the file nor stored" in result.output
    assert f"member '{names.login('nadie')}' is neither an agent" in result.output
    assert f"member '{names.login('jefa')}' is an inactive account" in result.output
    assert "3 problem(s); nothing was applied." in result.output
    with db_sessions() as db:
        assert db.scalar(select(Line).where(Line.name == f"Línea {names.tag}")) is None
        assert db.scalar(select(Agent).where(Agent.login == names.login("ana"))) is None


def test_a_dry_run_shows_the_changes_and_writes_nothing(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    result = amparo_config.apply(hotline_file(names), "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"agent {names.login('ana')}: would be created" in result.output
    assert "8 would be created" in result.output and "nothing was written" in result.output
    assert "password" not in result.output and "TOTP" not in result.output
    with db_sessions() as db:
        assert db.scalar(select(Agent).where(Agent.login == names.login("ana"))) is None


def test_export_then_apply_round_trips_without_secrets(
    amparo_config: ConfigCommand, names: Names, db_sessions: sessionmaker[Session]
) -> None:
    applied = amparo_config.apply(hotline_file(names))
    assert applied.exit_code == 0
    before = snapshot(db_sessions, names)
    exported = amparo_config.run("export")
    assert exported.exit_code == 0
    text = exported.output
    assert f'name = "{names.team}"' in text and 'display_name = "Ana Ficticia"' in text
    assert "$argon2" not in text and "totp" not in text.lower()
    for shown in issued(applied.output).values():
        assert shown.password and shown.password not in text
    again = amparo_config.apply(text)
    assert again.exit_code == 0, again.output
    assert " 0 created, 0 updated," in " " + again.output
    assert snapshot(db_sessions, names) == before

    # An admin deactivates a team member on /admin: the export still applies as it is, and
    # the operator is told to take her out of the team.
    with db_sessions() as db, db.begin():
        member = db.scalar(select(Agent).where(Agent.login == names.login("reserva")))
        assert member is not None
        member.active = False
    again = amparo_config.apply(amparo_config.run("export").output)
    assert again.exit_code == 0, again.output
    assert " 0 created, 0 updated," in " " + again.output
    assert f"member '{names.login('reserva')}' is an inactive account" in again.output


def test_a_call_to_a_configured_line_is_offered_to_a_configured_agent(
    amparo_config: ConfigCommand,
    names: Names,
    settings: Settings,
    redis_client: redis.Redis,
    db_sessions: sessionmaker[Session],
) -> None:
    assert amparo_config.apply(hotline_file(names)).exit_code == 0
    with db_sessions() as db:
        ids = dict(
            db.execute(
                select(Agent.login, Agent.id).where(Agent.login.like(f"%-{names.tag}"))
            ).all()
        )
        team_id = db.scalar(select(Team.id).where(Team.name == names.team))
    runtime = build_runtime(settings)  # routing reads the configuration when it starts
    try:
        router = runtime.router
        tiers = router.config.teams[str(team_id)].tiers
        assert [(t.members, t.delay_seconds) for t in tiers] == [
            ((ids[names.login("urgente")],), 30.0),
            ((ids[names.login("reserva")],), 45.0),
        ]
        ana = ids[names.login("ana")]
        router.set_agent_state(ana, AgentState.AVAILABLE, T0)
        board = runtime.switchboard
        turn = board.start(
            channel=Channel.SIMULATOR,
            external_id=f"sim-{names.tag}",
            to_number=names.number,
            from_number="+34 699 000 111",
            at=T0,
        )
        at = T0
        actions: tuple[object, ...] = ()
        for key in ("1", "1", "2", "2", "2", "2"):  # Spanish, then a low-risk screen
            at += 5
            event = CallEvent(kind=EventKind.DIGITS, call_id=turn.call_id, at=at, digits=key)
            actions = board.handle(event, idempotency_key=f"{turn.call_id}:{at}").actions
        assert isinstance(actions[-1], Enqueue)
        offered = views.agents_by_state(runtime.redis, at)[AgentState.OFFERED]
        assert [(p.agent_id, p.call_id) for p in offered] == [(ana, turn.call_id)]
    finally:
        runtime.close()


def test_an_account_the_file_deactivates_gets_no_more_offers(
    amparo_config: ConfigCommand, names: Names, settings: Settings, redis_client: redis.Redis
) -> None:
    assert amparo_config.apply(hotline_file(names)).exit_code == 0
    runtime = build_runtime(settings)
    try:
        with runtime.sessions() as db:
            jefa = db.scalar(select(Agent.id).where(Agent.login == names.login("jefa")))
        assert jefa is not None
        runtime.router.set_agent_state(jefa, AgentState.AVAILABLE, T0)
    finally:
        runtime.close()

    result = amparo_config.apply(hotline_file(names, extra="active = false"))
    assert result.exit_code == 0, result.output
    assert f"agent {names.login('jefa')}: offline in routing" in result.output
    by_state = views.agents_by_state(redis_client, T0 + 1)
    assert jefa in [presence.agent_id for presence in by_state[AgentState.OFFLINE]]
    assert jefa not in [presence.agent_id for presence in by_state[AgentState.AVAILABLE]]
