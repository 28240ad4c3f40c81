"""Signed-in sessions end when the account behind them changes: deactivated, role changed,
password or second factor reset. The next request is refused (pages go to the sign-in page,
JSON gets 401 ``auth.session_revoked``) and an open event stream ends within the re-check
interval. When the database cannot be read, requests get 503 and the session is kept."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from agent_console import events
from routing.channels import agent_channel
from routing.state import routing_key
from runtime import Runtime
from store import database
from store.credentials import hash_secret
from store.live_state import key
from store.models import Agent
from store.records import AuditEntry
from store.vocabulary import AgentRole
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import PASSWORD, Hotline
from tests.integration.agent_console.console_helpers import Account, SignedIn, csrf_of, sign_in
from web.guard import SESSION_ID

LOW_RISK = ("1", "1", "2", "2", "2", "2")
NEW_PASSWORD = "a new password chosen after the reset"
UNREACHABLE_DATABASE = "postgresql+psycopg://amparo@127.0.0.1:9/none"


def _update(sessions: sessionmaker[Session], agent_id: str, **values: Any) -> None:
    with sessions() as db, db.begin():
        agent = db.get(Agent, agent_id)
        assert agent is not None
        for name, value in values.items():
            setattr(agent, name, value)


def _revocations(sessions: sessionmaker[Session], agent_id: str) -> list[dict[str, Any]]:
    with sessions() as db:
        return list(
            db.scalars(
                select(AuditEntry.detail)
                .where(AuditEntry.actor_id == agent_id, AuditEntry.action == "session_revoked")
                .order_by(AuditEntry.id)
            )
        )


def _assert_revoked_json(response: TestResponse) -> None:
    assert response.status_code == 401
    assert (response.json or {})["error_id"] == "auth.session_revoked"


def _assert_sent_to_sign_in(response: TestResponse, path: str) -> None:
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


def _sign_in_with(app: Flask, login: str, password: str) -> tuple[FlaskClient, TestResponse]:
    client = app.test_client()
    client.get("/login")
    token = csrf_of(client)
    response = client.post(
        "/login", data={"csrf_token": token, "login": login, "password": password}
    )
    return client, response


def test_an_untouched_session_keeps_working(
    agent: SignedIn, supervisor: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    for _ in range(3):
        assert agent.client.get("/console").status_code == 200
        assert agent.get("/console/api/me").status_code == 200
        assert supervisor.client.get("/supervisor").status_code == 200
        assert supervisor.get("/supervisor/api/board").status_code == 200
    assert _revocations(db_sessions, agent.account.agent_id) == []


def test_a_session_expired_after_its_idle_lifetime_sends_her_to_sign_in_saying_why(
    agent: SignedIn, redis_client: redis.Redis
) -> None:
    """The console's next request (an API call; its page then reloads) after the session's
    12 idle hours ran out in Redis: the sign-in page says the session ended, once."""
    assert agent.client.get("/console").status_code == 200
    with agent.client.session_transaction() as cookie:
        session_id = str(cookie[SESSION_ID])
    assert redis_client.delete(key("session", session_id)) == 1  # its TTL ran out
    call = agent.get("/console/api/me")
    assert call.status_code == 401 and (call.json or {})["error_id"] == "auth.session_revoked"
    _assert_sent_to_sign_in(agent.client.get("/console"), "/console")
    page = agent.client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Your session has ended. Sign in again to continue." in page


def test_a_deactivated_agent_goes_to_sign_in_and_her_api_calls_are_refused(
    app: Flask,
    accounts: dict[str, Account],
    db_sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ana = accounts["ana"]
    browser, api = sign_in(app, ana), sign_in(app, ana)
    assert browser.client.get("/console").status_code == 200

    _update(db_sessions, ana.agent_id, active=False)
    with caplog.at_level(logging.WARNING, logger="web.revocation"):
        page = browser.client.get("/console", headers={"Accept-Language": "en"})
        call = api.post("/console/api/state", {"state": "available"})

    _assert_sent_to_sign_in(page, "/console")
    _assert_revoked_json(call)
    sign_in_page = browser.client.get("/login", headers={"Accept-Language": "en"})
    assert "Your session has ended" in sign_in_page.get_data(as_text=True)
    again = browser.client.get("/login", headers={"Accept-Language": "en"})
    assert "Your session has ended" not in again.get_data(as_text=True), "said once"
    later = api.get("/console/api/me")
    assert (later.json or {})["error_id"] == "auth.sign_in_required", "the session is cleared"
    assert [entry["reason"] for entry in _revocations(db_sessions, ana.agent_id)] == [
        "inactive",
        "inactive",
    ]
    logged = [r.getMessage() for r in caplog.records if "session revoked" in r.getMessage()]
    assert logged and all(ana.agent_id in line for line in logged)
    assert not any(ana.login in line for line in logged), "ids only in logs"
    _, refused = _sign_in_with(app, ana.login, PASSWORD)
    assert refused.status_code == 401


def test_an_admin_deactivates_an_account_from_the_admin_page_and_reactivates_it(
    app: Flask,
    accounts: dict[str, Account],
    admin: SignedIn,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
) -> None:
    ana = accounts["ana"]
    signed = sign_in(app, ana)
    assert signed.post("/console/api/state", {"state": "available"}).status_code == 200

    done = admin.post(f"/admin/api/agents/{ana.agent_id}/deactivate")

    assert done.status_code == 200
    assert (done.json or {})["routing_state"] == "offline"
    assert (done.json or {})["routing_after_call"] is None
    assert redis_client.hget(routing_key("agent", ana.agent_id), "state") == "offline"
    _assert_revoked_json(signed.get("/console/api/me"))
    with db_sessions() as db:
        actions = db.scalars(
            select(AuditEntry.action).where(
                AuditEntry.actor_id == admin.account.agent_id, AuditEntry.subject_id == ana.agent_id
            )
        ).all()
    assert "account_deactivated" in actions
    assert "Reactivate" in admin.client.get("/admin", headers={"Accept-Language": "en"}).text

    assert admin.post(f"/admin/api/agents/{ana.agent_id}/reactivate").status_code == 200
    assert sign_in(app, ana).client.get("/console").status_code == 200


def test_deactivating_an_agent_on_a_call_leaves_her_caller_connected(
    app: Flask, runtime: Runtime, hotline: Hotline, accounts: dict[str, Account], admin: SignedIn
) -> None:
    ana = sign_in(app, accounts["ana"])
    assert ana.post("/console/api/state", {"state": "available"}).status_code == 200
    phones = runtime.simulator
    call = phones.dial(hotline.line_number, None)
    for digit in LOW_RISK:
        call = phones.press(call.call_id, digit)
    accepted = ana.post(f"/console/api/offers/{call.call_id}/accept")
    assert (accepted.json or {}).get("bridged") is True

    done = admin.post(f"/admin/api/agents/{ana.account.agent_id}/deactivate")

    assert (done.json or {})["routing_state"] == "on_call"
    assert (done.json or {})["routing_after_call"] == "offline", "offline when the call ends"
    _assert_revoked_json(ana.get("/console/api/me"))
    assert phones.get(call.call_id).status is PhoneStatus.CONNECTED


def test_an_admin_cannot_deactivate_her_own_account(admin: SignedIn) -> None:
    refused = admin.post(f"/admin/api/agents/{admin.account.agent_id}/deactivate")
    assert refused.status_code == 409
    assert (refused.json or {})["error_id"] == "console.own_account"
    assert admin.client.get("/admin").status_code == 200


def test_a_supervisor_lowered_to_agent_loses_the_supervisor_pages_at_once(
    app: Flask, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    boss = accounts["boss"]
    page, api = sign_in(app, boss), sign_in(app, boss, code_offset=30)
    assert page.client.get("/supervisor").status_code == 200

    _update(db_sessions, boss.agent_id, role=AgentRole.AGENT)

    _assert_sent_to_sign_in(page.client.get("/supervisor"), "/supervisor")
    _assert_revoked_json(api.get("/supervisor/api/board"))
    assert _revocations(db_sessions, boss.agent_id)[-1]["reason"] == "role_changed"
    as_agent = sign_in(app, Account(boss.agent_id, boss.login, "agent"))
    assert as_agent.client.get("/console").status_code == 200
    assert as_agent.client.get("/supervisor").status_code == 403


def test_an_agent_raised_to_supervisor_signs_in_again_with_a_second_factor(
    app: Flask, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    farah = accounts["farah"]
    signed = sign_in(app, farah)
    _update(db_sessions, farah.agent_id, role=AgentRole.SUPERVISOR)
    _assert_revoked_json(signed.get("/supervisor/api/board"))
    _, password_step = _sign_in_with(app, farah.login, PASSWORD)
    assert password_step.headers["Location"].endswith("/login/code")


def test_a_password_reset_ends_the_old_session_and_the_new_password_works(
    app: Flask, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    ana = accounts["ana"]
    old = sign_in(app, ana)
    assert old.get("/console/api/me").status_code == 200

    _update(db_sessions, ana.agent_id, password_hash=hash_secret(NEW_PASSWORD))

    _assert_revoked_json(old.get("/console/api/me"))
    assert _revocations(db_sessions, ana.agent_id)[-1]["reason"] == "credentials_changed"
    _, with_old_password = _sign_in_with(app, ana.login, PASSWORD)
    assert with_old_password.status_code == 401
    client, with_new_password = _sign_in_with(app, ana.login, NEW_PASSWORD)
    assert with_new_password.status_code == 302
    assert client.get("/console").status_code == 200


def test_the_session_keeps_a_keyed_tag_never_the_password_hash(
    app: Flask, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    with db_sessions() as db:
        stored = db.get(Agent, agent.account.agent_id)
        assert stored is not None
    with agent.client.session_transaction() as session:
        values = [str(value) for value in dict(session).values()]
    assert not any(stored.password_hash in value for value in values)
    assert not any(stored.password_hash.split("$")[-1] in value for value in values)


def test_a_second_factor_reset_by_an_admin_ends_the_supervisors_session(
    app: Flask, accounts: dict[str, Account], supervisor: SignedIn, admin: SignedIn
) -> None:
    boss = accounts["boss"]
    assert supervisor.get("/supervisor/api/board").status_code == 200
    assert admin.post(f"/admin/api/agents/{boss.agent_id}/reset-second-factor").status_code == 200
    _assert_revoked_json(supervisor.get("/supervisor/api/board"))


def test_a_session_from_before_revocation_existed_signs_in_again(
    app: Flask, accounts: dict[str, Account]
) -> None:
    """A cookie without the credentials tag (issued before this check) is refused once."""
    signed = sign_in(app, accounts["ana"])
    with signed.client.session_transaction() as session:
        del session["credentials"]
    _assert_revoked_json(signed.get("/console/api/me"))


def test_every_route_that_trusts_the_session_refuses_a_revoked_one(
    app: Flask, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    """The voice-token endpoint, recordings and the check-in pages use the same door."""
    boss = accounts["boss"]
    signed = [sign_in(app, boss, code_offset=offset) for offset in (0, 30, -30)]
    _update(db_sessions, boss.agent_id, active=False)
    _assert_revoked_json(signed[0].post("/console/api/voice-token"))
    _assert_sent_to_sign_in(signed[1].client.get("/operations"), "/operations")
    _assert_revoked_json(signed[2].post("/recordings/0123/access"))


# -- database unreadable ------------------------------------------------------------------


@pytest.fixture
def database_down(runtime: Runtime) -> Iterator[Callable[[], AbstractContextManager[None]]]:
    """While entered, the app's sessions connect to a database that refuses connections."""
    unreachable = database.make_engine(UNREACHABLE_DATABASE)

    @contextmanager
    def down() -> Iterator[None]:
        runtime.sessions.configure(bind=unreachable)
        try:
            yield
        finally:
            runtime.sessions.configure(bind=runtime.engine)

    try:
        yield down
    finally:
        unreachable.dispose()


def test_an_unreadable_database_answers_503_and_keeps_the_session(
    agent: SignedIn,
    supervisor: SignedIn,
    admin: SignedIn,
    database_down: Callable[[], AbstractContextManager[None]],
) -> None:
    with database_down():
        call = agent.post("/console/api/state", {"state": "break"})
        board = supervisor.client.get("/supervisor")
        accounts = admin.get("/admin")
    assert call.status_code == 503
    assert (call.json or {})["error_id"] == "auth.check_unavailable"
    assert call.headers["Retry-After"]
    assert board.status_code == 503 and board.mimetype == "text/html"
    assert accounts.status_code == 503
    assert agent.get("/console/api/me").status_code == 200, "the session was kept"
    assert supervisor.client.get("/supervisor").status_code == 200


# -- the event stream ---------------------------------------------------------------------


def _text(chunk: object) -> str:
    return chunk.decode() if isinstance(chunk, bytes) else str(chunk)


def _frames(chunks: list[str]) -> list[dict[str, Any]]:
    return [json.loads(c[len("data: ") :]) for c in chunks if c.startswith("data: ")]


def _read_until_end(response: TestResponse, seconds: float) -> tuple[list[str], bool]:
    """Chunks of the stream read for at most ``seconds``; True when the stream ended."""
    chunks: list[str] = []

    def read() -> None:
        for chunk in response.response:
            chunks.append(chunk.decode() if isinstance(chunk, bytes) else str(chunk))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    return chunks, not reader.is_alive()


@pytest.fixture
def quick_recheck(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(events, "RECHECK_SECONDS", 0.5)
    return 0.5


def test_the_event_stream_of_a_deactivated_agent_ends_within_the_recheck_interval(
    agent: SignedIn, db_sessions: sessionmaker[Session], quick_recheck: float
) -> None:
    response = agent.client.get("/console/events")
    assert response.status_code == 200
    stream = iter(response.response)
    next(stream), next(stream)  # subscribed

    _update(db_sessions, agent.account.agent_id, active=False)
    started = time.monotonic()
    chunks, ended = _read_until_end(response, quick_recheck + 5)

    assert ended, "the stream of a deactivated account must end"
    assert time.monotonic() - started < quick_recheck + 2.5
    assert _frames(chunks)[-1]["kind"] == "session_ended"
    reasons = _revocations(db_sessions, agent.account.agent_id)
    assert reasons == [{"reason": "inactive", "where": "event_stream"}]


def test_an_agents_stream_outlives_an_unreadable_database_but_a_supervisors_does_not(
    agent: SignedIn,
    supervisor: SignedIn,
    redis_client: redis.Redis,
    database_down: Callable[[], AbstractContextManager[None]],
    quick_recheck: float,
) -> None:
    agent_stream = agent.client.get("/console/events")
    supervisor_stream = supervisor.client.get("/console/events")
    agent_chunks = iter(agent_stream.response)
    next(agent_chunks), next(agent_chunks)
    with database_down():
        supervisor_chunks, supervisor_ended = _read_until_end(supervisor_stream, quick_recheck + 5)
        channel = agent_channel(agent.account.agent_id)
        publisher = threading.Timer(
            3 * quick_recheck + 0.5,
            lambda: redis_client.publish(channel, json.dumps({"kind": "offered", "call": "c1"})),
        )
        publisher.start()
        # Blocks across several failed re-checks. Broadcasts (escalations) of other processes
        # on this Redis server may come first: pub/sub channels are not per database.
        offered = next(agent_chunks)
        while not any(frame.get("channel") == "agent" for frame in _frames([_text(offered)])):
            offered = next(agent_chunks)
    agent_stream.close()
    assert supervisor_ended, "fail closed for supervisors and admins"
    assert _frames(supervisor_chunks)[-1]["kind"] == "session_ended"
    assert _frames([_text(offered)]) == [{"kind": "offered", "call": "c1", "channel": "agent"}]
