from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
import redis
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from runtime import Runtime
from settings import Settings
from tests.harness.hotline import Hotline, make_hotline, staffed_runtime
from tests.integration.agent_console.console_helpers import (
    Account,
    SignedIn,
    account,
    add_admin,
    sign_in,
)


@pytest.fixture
def hotline(db_sessions: sessionmaker[Session]) -> Hotline:
    return make_hotline(db_sessions)


@pytest.fixture
def runtime(settings: Settings, hotline: Hotline, redis_client: redis.Redis) -> Iterator[Runtime]:
    """A runtime on a staffed line (farah on a break), so callers wait for a human."""
    with staffed_runtime(settings, hotline) as built:
        yield built


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime=runtime)


@pytest.fixture
def accounts(db_sessions: sessionmaker[Session], hotline: Hotline) -> dict[str, Account]:
    """agent (ana), a second agent (farah), urgent-team members, supervisor (boss, with TOTP)
    and an admin."""
    found = {
        name: account(db_sessions, hotline.agents[name])
        for name in ("ana", "farah", "urgent1", "urgent2")
    }
    found["boss"] = account(db_sessions, hotline.agents["boss"], pyotp.random_base32())
    found["admin"] = add_admin(db_sessions, f"admin-{hotline.line_id[:6]}")
    return found


@pytest.fixture
def agent(app: Flask, accounts: dict[str, Account]) -> SignedIn:
    return sign_in(app, accounts["ana"])


@pytest.fixture
def supervisor(app: Flask, accounts: dict[str, Account]) -> SignedIn:
    return sign_in(app, accounts["boss"])


@pytest.fixture
def admin(app: Flask, accounts: dict[str, Account]) -> SignedIn:
    return sign_in(app, accounts["admin"])
