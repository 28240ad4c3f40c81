"""Whose address sign-in limits and the audit see: the person's behind the configured number of
proxies, and never one a client wrote into X-Forwarded-For itself."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from runtime import Runtime
from settings import ConfigurationError, load_settings
from store.records import AuditEntry
from tests.integration.agent_console.console_helpers import Account, csrf_of

BALANCER = "10.0.0.2"


def _failed_from(app: Flask, login: str, forwarded: str) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = BALANCER
    client.get("/login")
    return client.post(
        "/login",
        data={"csrf_token": csrf_of(client), "login": login, "password": "wrong"},
        headers={"X-Forwarded-For": forwarded},
    )


def _last_failure_address(sessions: sessionmaker[Session], agent_id: str) -> str:
    with sessions() as db:
        entry = db.scalars(
            select(AuditEntry)
            .where(AuditEntry.actor_id == agent_id, AuditEntry.action == "sign_in_failed")
            .order_by(AuditEntry.id.desc())
        ).first()
        assert entry is not None
        return str(entry.detail["remote"])


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(
    app: Flask, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    _failed_from(app, accounts["ana"].login, "198.51.100.9")
    assert _last_failure_address(db_sessions, accounts["ana"].agent_id) == BALANCER


def test_behind_one_proxy_the_audit_and_the_limits_see_the_persons_address(
    runtime: Runtime, accounts: dict[str, Account], db_sessions: sessionmaker[Session]
) -> None:
    runtime.settings = runtime.settings.with_overrides(trusted_proxies=1)
    app = create_app(runtime=runtime)
    _failed_from(app, accounts["ana"].login, "6.6.6.6, 198.51.100.9")  # the first is forged
    assert _last_failure_address(db_sessions, accounts["ana"].agent_id) == "198.51.100.9"
    answers = [
        _failed_from(app, f"nobody-{n}", f"198.51.100.{n}").status_code for n in range(20, 32)
    ]
    assert 429 not in answers, "people behind one balancer do not share one minute's budget"


def test_the_number_of_hops_is_checked(tmp_path: Any) -> None:
    base = {"AMPARO_DATA_DIR": str(tmp_path)}
    assert load_settings(base).trusted_proxies == 0
    assert load_settings({**base, "AMPARO_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    with pytest.raises(ConfigurationError) as err:
        load_settings({**base, "AMPARO_TRUSTED_PROXIES": "yes"})
    assert err.value.variable == "AMPARO_TRUSTED_PROXIES"
