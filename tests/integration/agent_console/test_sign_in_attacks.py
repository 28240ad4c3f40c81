"""Attacks on the sign-in: locking an agent out from elsewhere, telling which logins exist (by
the answer or by its time), guessing in parallel, and a second factor checked while Redis is
down."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

import agent_console.auth as auth
import store.credentials as credentials
from agent_console.sign_in_throttle import MAX_DELAY_S, SignInThrottle
from store.models import Agent
from tests.harness.hotline import PASSWORD
from tests.harness.services import free_port
from tests.integration.agent_console.console_helpers import Account, csrf_of

ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
HER_DESK = {"REMOTE_ADDR": "10.20.0.7"}


def _try(app: Flask, login: str, password: str, where: dict[str, str]) -> Any:
    client = app.test_client()
    client.environ_base.update(where)
    client.get("/login")
    token = csrf_of(client)
    return client.post("/login", data={"csrf_token": token, "login": login, "password": password})


def test_failures_from_another_address_never_keep_her_out(
    app: Flask, accounts: dict[str, Account]
) -> None:
    farah = accounts["farah"]
    answers = [_try(app, farah.login, f"guess-{n}", ATTACKER).status_code for n in range(8)]
    assert answers[:3] == [401, 401, 401]
    assert 429 in answers, "the attacker is slowed down"
    assert _try(app, farah.login, PASSWORD, HER_DESK).status_code == 302


def test_every_failure_gets_the_same_answer(
    app: Flask, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    with db_sessions() as db, db.begin():
        gone = db.get(Agent, accounts["urgent2"].agent_id)
        assert gone is not None
        gone.active = False
    client = app.test_client()
    client.get("/login")
    token = csrf_of(client)
    answers = []
    for n, login in enumerate((accounts["ana"].login, "nobody-here", accounts["urgent2"].login)):
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        answer = client.post(
            "/login", data={"csrf_token": token, "login": login, "password": "wrong"}
        )
        answers.append((answer.status_code, answer.get_data(as_text=True)))
    assert answers[0][0] == 401
    assert answers[0] == answers[1] == answers[2]


def test_an_unknown_login_costs_the_same_argon2_check_as_a_known_one(
    app: Flask, accounts: dict[str, Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = credentials.verify_secret

    def counting(stored_hash: str | None, candidate: str) -> bool:
        checked.append(str(stored_hash)[:9])
        return real(stored_hash, candidate)

    monkeypatch.setattr(auth, "verify_secret", counting)
    _try(app, accounts["ana"].login, "wrong", {"REMOTE_ADDR": "198.51.100.10"})
    _try(app, "nobody-here", "wrong", {"REMOTE_ADDR": "198.51.100.11"})
    assert len(checked) == 2
    assert checked[0] == checked[1] == "$argon2id"


def test_delays_double_after_the_free_failures_and_a_success_clears_them(
    redis_client: redis.Redis,
) -> None:
    now = [1000.0]
    throttle = SignInThrottle(redis_client, lambda: now[0])
    assert [throttle.attempt("a", "farah").allowed for _ in range(3)] == [True] * 3
    refused = throttle.attempt("a", "farah")
    assert (refused.allowed, refused.retry_after_s) == (False, 2)
    assert throttle.attempt("b", "farah").allowed, "another address is not slowed down"
    waits = []
    for _ in range(5):
        now[0] += 10_000
        redis_client.delete(*redis_client.keys("amparo:auth:attempts:*"))  # a minute later
        assert throttle.attempt("a", "farah").allowed
        waits.append(throttle.attempt("a", "farah").retry_after_s)
    assert waits == [4, 8, 16, 32, 64]
    for _ in range(10):
        now[0] += 10_000
        redis_client.delete(*redis_client.keys("amparo:auth:attempts:*"))
        throttle.attempt("a", "farah")
    assert throttle.attempt("a", "farah").retry_after_s == MAX_DELAY_S
    now[0] += MAX_DELAY_S
    assert throttle.attempt("a", "farah").allowed
    throttle.succeeded("a", "farah")
    assert throttle.attempt("a", "farah").allowed


def test_a_code_is_refused_when_its_one_use_cannot_be_checked() -> None:
    down = redis.Redis(port=free_port(), socket_connect_timeout=0.2)
    try:
        assert SignInThrottle(down).first_use_of_code("agent", 1) is False
    finally:
        down.close()


def test_without_redis_the_sign_in_is_refused_not_let_through(
    app: Flask, accounts: dict[str, Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise redis.ConnectionError("down")

    monkeypatch.setattr(redis.client.Pipeline, "execute", broken)
    answer = _try(app, accounts["ana"].login, PASSWORD, HER_DESK)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"


def test_a_centre_behind_one_address_may_allow_more_sign_ins_a_minute(
    redis_client: redis.Redis,
) -> None:
    """A shift change behind one NAT address: ``AMPARO_SIGN_IN_PER_MINUTE`` sets the budget."""
    shared = SignInThrottle(redis_client, lambda: 1000.0, per_minute=30)
    answers = [shared.attempt("office", f"agent-{n}") for n in range(31)]
    assert all(a.allowed for a in answers[:30])
    assert not answers[30].allowed
