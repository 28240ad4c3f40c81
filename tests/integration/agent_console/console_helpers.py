"""Signing in through the real forms, as a browser would, for the console's tests."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from store.credentials import hash_secret
from store.models import Agent
from store.vocabulary import AgentRole
from tests.harness.hotline import PASSWORD


@dataclass
class Account:
    agent_id: str
    login: str
    role: str
    totp_secret: str | None = None


@dataclass
class SignedIn:
    client: FlaskClient
    account: Account
    csrf: str

    def post(self, url: str, json: Any = None) -> Any:
        return self.client.post(url, json=json or {}, headers={"X-CSRF-Token": self.csrf})

    def get(self, url: str) -> Any:
        return self.client.get(url, headers={"Accept": "application/json"})


def csrf_of(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        token = session.get("csrf")
    if token is None:
        page = client.get("/login").get_data(as_text=True)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found is not None
        return found.group(1)
    return str(token)


def account(
    sessions: sessionmaker[Session], agent_id: str, totp_secret: str | None = None
) -> Account:
    """The stored account, with a TOTP secret set when given."""
    with sessions() as db, db.begin():
        agent = db.get(Agent, agent_id)
        assert agent is not None
        if totp_secret is not None:
            agent.totp_secret = totp_secret
        return Account(agent.id, agent.login, str(agent.role), totp_secret)


def add_admin(sessions: sessionmaker[Session], login: str) -> Account:
    secret = pyotp.random_base32()
    with sessions() as db, db.begin():
        agent = Agent(
            login=login,
            display_name="Admin Test",
            password_hash=hash_secret(PASSWORD),
            role=AgentRole.ADMIN,
            languages=["es"],
            totp_secret=secret,
        )
        db.add(agent)
        db.flush()
        return Account(agent.id, login, "admin", secret)


def sign_in(app: Flask, who: Account, code_offset: int = 0) -> SignedIn:
    """Password, then (supervisors and admins) the current TOTP code."""
    client = app.test_client()
    client.get("/login")
    token = csrf_of(client)
    response = client.post(
        "/login", data={"csrf_token": token, "login": who.login, "password": PASSWORD}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    if who.role in ("supervisor", "admin"):
        assert response.headers["Location"].endswith("/login/code")
        assert who.totp_secret is not None
        code = pyotp.TOTP(who.totp_secret).at(time.time() + code_offset)
        response = client.post("/login/code", data={"csrf_token": token, "code": code})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return SignedIn(client, who, csrf_of(client))
