"""An attacker's link sends her to sign in and then elsewhere: every variant lands on this site
(and none fails the sign-in)."""

from __future__ import annotations

import pyotp
import pytest
from flask import Flask

from tests.harness.hotline import PASSWORD
from tests.integration.agent_console.console_helpers import Account, SignedIn, csrf_of

ATTACKS = [
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%0d%0aSet-Cookie:%20x=1",
    "//evil.example/x",
    "/%5Cevil.example",
    "/%2F/evil.example",
    "https://evil.example/",
    "/%E3%80%80/evil.example",
]


@pytest.mark.parametrize("next_", ATTACKS)
def test_a_crafted_next_after_the_password_stays_on_this_site(
    app: Flask, accounts: dict[str, Account], next_: str
) -> None:
    client = app.test_client()
    client.get("/login")
    answer = client.post(
        f"/login?next={next_}",
        data={"csrf_token": csrf_of(client), "login": accounts["ana"].login, "password": PASSWORD},
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


@pytest.mark.parametrize("next_", ATTACKS[:3])
def test_a_crafted_next_through_the_code_step_stays_on_this_site(
    app: Flask, accounts: dict[str, Account], next_: str
) -> None:
    boss = accounts["boss"]
    client = app.test_client()
    client.get("/login")
    token = csrf_of(client)
    client.post(
        f"/login?next={next_}",
        data={"csrf_token": token, "login": boss.login, "password": PASSWORD},
    )
    code = pyotp.TOTP(boss.totp_secret or "").now()
    answer = client.post("/login/code", data={"csrf_token": token, "code": code})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


def test_a_plain_next_is_still_followed(app: Flask, accounts: dict[str, Account]) -> None:
    client = app.test_client()
    client.get("/login")
    answer = client.post(
        "/login?next=/console%3Ftab%3Dfile",
        data={"csrf_token": csrf_of(client), "login": accounts["ana"].login, "password": PASSWORD},
    )
    assert answer.headers["Location"] == "/console?tab=file"


@pytest.mark.parametrize("next_", ["/\t/evil.example", "/\n/evil.example", "//evil.example"])
def test_choosing_a_language_never_sends_her_elsewhere(agent: SignedIn, next_: str) -> None:
    answer = agent.client.post(
        "/console/language", data={"csrf_token": agent.csrf, "locale": "en", "next": next_}
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/console"
