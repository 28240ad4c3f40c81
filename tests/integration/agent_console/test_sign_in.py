"""Sign-in: passwords for everyone, a TOTP code for supervisors and admins, enrolment at the
first sign-in, replayed codes refused, delays after failures, a rate limit shared through Redis,
audits."""

from __future__ import annotations

import re

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from store.models import Agent
from store.records import AuditEntry
from tests.harness.hotline import PASSWORD, Hotline
from tests.integration.agent_console.console_helpers import Account, SignedIn, csrf_of, sign_in


def _actions(sessions: sessionmaker[Session], agent_id: str) -> list[str]:
    with sessions() as db:
        return list(
            db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.actor_id == agent_id)
                .order_by(AuditEntry.id)
            )
        )


def _all_actions(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as db:
        return list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def _password_step(
    app: Flask, login: str, password: str = PASSWORD
) -> tuple[FlaskClient, TestResponse, str]:
    client = app.test_client()
    client.get("/login")
    token = csrf_of(client)
    response = client.post(
        "/login", data={"csrf_token": token, "login": login, "password": password}
    )
    return client, response, token


def test_an_agent_signs_in_with_her_password_and_it_is_audited(
    app: Flask, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    signed = sign_in(app, accounts["ana"])
    assert signed.client.get("/console").status_code == 200
    assert "sign_in" in _actions(db_sessions, accounts["ana"].agent_id)


def test_a_supervisor_needs_a_code_after_the_password(
    app: Flask, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    boss = accounts["boss"]
    client, response, token = _password_step(app, boss.login)
    assert response.headers["Location"].endswith("/login/code")
    assert client.get("/supervisor").status_code == 302, "no access between the two steps"
    wrong = client.post("/login/code", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 401
    code = pyotp.TOTP(boss.totp_secret or "").now()
    right = client.post("/login/code", data={"csrf_token": token, "code": code})
    assert right.status_code == 302
    assert client.get("/supervisor").status_code == 200
    actions = _actions(db_sessions, boss.agent_id)
    assert actions[-2:] == ["sign_in_failed", "sign_in"]


def test_a_code_works_once(app: Flask, accounts: dict[str, Account]) -> None:
    boss = accounts["boss"]
    code = pyotp.TOTP(boss.totp_secret or "").now()
    first, _, token = _password_step(app, boss.login)
    assert first.post("/login/code", data={"csrf_token": token, "code": code}).status_code == 302
    second, _, token = _password_step(app, boss.login)
    again = second.post("/login/code", data={"csrf_token": token, "code": code})
    assert again.status_code == 401


def test_a_supervisor_without_an_authenticator_enrols_at_first_sign_in(
    app: Flask, hotline: Hotline, db_sessions: sessionmaker[Session]
) -> None:
    with db_sessions() as db, db.begin():
        boss = db.get(Agent, hotline.agents["boss"])
        assert boss is not None
        boss.totp_secret = None
        login = boss.login
    client, _, token = _password_step(app, login)
    page = client.get("/login/code").get_data(as_text=True)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page)
    assert secret is not None
    assert "otpauth://totp/" in page
    code = pyotp.TOTP(secret.group(1)).now()
    assert client.post("/login/code", data={"csrf_token": token, "code": code}).status_code == 302
    with db_sessions() as db:
        stored = db.get(Agent, hotline.agents["boss"])
        assert stored is not None and stored.totp_secret == secret.group(1)
    assert "totp_enrolled" in _actions(db_sessions, hotline.agents["boss"])


def test_after_three_failures_the_next_attempt_waits_even_with_the_right_password(
    app: Flask, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    farah = accounts["farah"]
    for _ in range(3):
        _, response, _ = _password_step(app, farah.login, "wrong")
        assert response.status_code == 401
    _, delayed, _ = _password_step(app, farah.login)
    assert delayed.status_code == 429
    assert delayed.headers["Retry-After"] == "2"
    assert "sign_in_rate_limited" in _all_actions(db_sessions)


def test_an_admin_clears_the_delays_on_an_account(app: Flask, accounts: dict[str, Account]) -> None:
    farah = accounts["farah"]
    for _ in range(4):
        _password_step(app, farah.login, "wrong")
    admin = sign_in(app, accounts["admin"])
    page = admin.client.get("/admin").get_data(as_text=True)
    assert "Farah" in page
    unlock = f"/admin/api/agents/{farah.agent_id}/unlock"
    assert unlock in page, "a delayed account offers Unlock"
    own = f"/admin/api/agents/{accounts['admin'].agent_id}/deactivate"
    assert own not in page, "nobody is offered to deactivate herself"
    assert 'data-confirm="' in page, "deactivating asks first"
    cleared = admin.post(f"/admin/api/agents/{farah.agent_id}/unlock")
    assert cleared.status_code == 200
    _, response, _ = _password_step(app, farah.login)
    assert response.status_code == 302


def test_more_than_ten_attempts_a_minute_from_one_address_are_refused(app: Flask) -> None:
    statuses = [_password_step(app, f"nobody-{n}", "wrong")[1].status_code for n in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


def test_after_sign_in_only_local_targets_are_followed(
    app: Flask, accounts: dict[str, Account]
) -> None:
    client = app.test_client()
    client.get("/login")
    token = csrf_of(client)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"csrf_token": token, "login": accounts["ana"].login, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/"


def test_a_supervisor_lands_on_the_wallboard_and_an_agent_on_the_console(
    supervisor: SignedIn, agent: SignedIn
) -> None:
    assert supervisor.client.get("/").headers["Location"] == "/supervisor"
    assert agent.client.get("/").headers["Location"] == "/console"
