"""Signing a test client in as a stored account: password, then the second factor (TOTP) for
supervisors and admins, exactly as a person does in the browser."""

from __future__ import annotations

import pyotp
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from store.models import Agent
from tests.harness.hotline import PASSWORD


def sign_in(client: FlaskClient, sessions: sessionmaker[Session], agent_id: str) -> str:
    """Sign ``client`` in as ``agent_id``; return the session's CSRF token."""
    secret = pyotp.random_base32()
    with sessions() as db, db.begin():
        agent = db.get(Agent, agent_id)
        assert agent is not None
        login = agent.login
        second_factor = str(agent.role) in ("supervisor", "admin")
        if second_factor:
            agent.totp_secret = secret
    client.get("/login")
    with client.session_transaction() as session:
        token = str(session["csrf"])
    answer = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302
    if second_factor:
        code = pyotp.TOTP(secret).now()
        answer = client.post("/login/code", data={"csrf_token": token, "code": code})
        assert answer.status_code == 302
    client.get("/console")  # a page with a form gives the signed-in session its CSRF token
    with client.session_transaction() as session:
        return str(session["csrf"])
