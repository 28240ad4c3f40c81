"""A copy of a signed-in cookie (a shared workstation, a proxy log, malware) is worth nothing
once its session ends: signing out here, signing out everywhere, or an admin ending the
account's sessions closes the session in Redis for every copy."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.records import AuditEntry
from tests.integration.agent_console.console_helpers import Account, SignedIn, sign_in
from web.session_registry import RegistryUnavailable, SessionRegistry

COOKIE = "amparo_session"


def _copy_of(app: Flask, signed: SignedIn) -> FlaskClient:
    cookie = signed.client.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def _me(client: FlaskClient) -> Any:
    return client.get("/console/api/me", headers={"Accept": "application/json"})


def _actions(sessions: sessionmaker[Session], agent_id: str) -> list[str]:
    with sessions() as db:
        return list(
            db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.actor_id == agent_id)
                .order_by(AuditEntry.id)
            )
        )


def test_a_cookie_copied_before_sign_out_is_refused_after_it(
    app: Flask, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    thief = _copy_of(app, agent)
    assert _me(thief).status_code == 200, "the copy works while she is signed in"
    assert agent.client.post("/logout", data={"csrf_token": agent.csrf}).status_code == 302
    refused = _me(thief)
    assert refused.status_code == 401
    assert refused.json["error_id"] == "auth.session_revoked"
    assert _actions(db_sessions, agent.account.agent_id)[-1] == "session_revoked"


def test_signing_out_everywhere_ends_every_session_of_hers_and_no_one_elses(
    app: Flask, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    at_home = sign_in(app, accounts["ana"])
    at_work = sign_in(app, accounts["ana"])
    thief = _copy_of(app, at_work)
    colleague = sign_in(app, accounts["farah"])
    answer = at_home.client.post("/logout/everywhere", data={"csrf_token": at_home.csrf})
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    for client in (at_home.client, at_work.client, thief):
        assert _me(client).status_code == 401
    assert _me(colleague.client).status_code == 200
    assert "signed_out_everywhere" in _actions(db_sessions, accounts["ana"].agent_id)
    assert _me(sign_in(app, accounts["ana"]).client).status_code == 200, "she signs in again"


def test_signing_out_everywhere_needs_the_token(agent: SignedIn) -> None:
    assert agent.client.post("/logout/everywhere").status_code == 400
    assert _me(agent.client).status_code == 200


def test_an_admin_ends_an_accounts_sessions(
    app: Flask, agent: SignedIn, admin: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    thief = _copy_of(app, agent)
    ended = admin.post(f"/admin/api/agents/{agent.account.agent_id}/end-sessions")
    assert ended.status_code == 200
    assert ended.json["sessions_ended"] == 1
    assert _me(agent.client).status_code == 401
    assert _me(thief).status_code == 401
    assert _me(admin.client).status_code == 200
    with db_sessions() as db:
        audited = db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "sessions_ended",
                AuditEntry.subject_id == agent.account.agent_id,
            )
        )
        assert audited is not None and audited.actor_id == admin.account.agent_id


def test_an_agent_cannot_end_someone_elses_sessions(
    agent: SignedIn, accounts: dict[str, Account]
) -> None:
    answer = agent.post(f"/admin/api/agents/{accounts['farah'].agent_id}/end-sessions")
    assert answer.status_code == 403


def test_when_redis_cannot_say_whether_the_session_is_open_the_answer_is_503(
    agent: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*_args: Any) -> bool:
        raise RegistryUnavailable

    monkeypatch.setattr(SessionRegistry, "is_open", unavailable)
    answer = _me(agent.client)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    monkeypatch.undo()
    assert _me(agent.client).status_code == 200, "the session was kept"


def test_a_session_in_use_lasts_and_an_idle_one_ends(redis_client: redis.Redis) -> None:
    registry = SessionRegistry(redis_client, lifetime=timedelta(seconds=2))
    session_id = registry.open("agent-1")
    for _ in range(3):
        time.sleep(1.0)
        assert registry.is_open(session_id, "agent-1")
    assert not registry.is_open(session_id, "agent-2"), "an id is good for its own account only"
    time.sleep(2.2)
    assert not registry.is_open(session_id, "agent-1")
