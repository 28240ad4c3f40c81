"""The headers of every answer: a page cannot be framed or load from elsewhere, no referrer
leaves, and nothing a signed-in person saw stays in the browser's cache (a shared workstation
is the next person's too)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from runtime import Runtime
from tests.integration.agent_console.console_helpers import SignedIn


def _every_get(app: Flask) -> list[str]:
    adapter = app.url_map.bind("localhost")
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        values = {
            name: {"filename": "console.css", "name": "hold.wav"}.get(name, "0" * 32)
            for name in rule.arguments
        }
        urls.append(adapter.build(rule.endpoint, values))
    return sorted(set(urls))


def _get(client: FlaskClient, url: str) -> Any:
    response = client.get(url)
    response.close()  # the event stream would otherwise stay open
    return response


def _missing_on_every_answer(response: Any) -> list[str]:
    headers = response.headers
    missing = []
    if headers.get("X-Content-Type-Options") != "nosniff":
        missing.append("X-Content-Type-Options")
    if headers.get("Referrer-Policy") != "no-referrer":
        missing.append("Referrer-Policy")
    if headers.get("X-Frame-Options") != "DENY":
        missing.append("X-Frame-Options")
    if response.mimetype == "text/html":
        policy = headers.get("Content-Security-Policy", "")
        for part in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
            if part not in policy:
                missing.append(f"CSP {part}")
    return missing


def test_every_page_and_answer_carries_the_security_headers(
    app: Flask, agent: SignedIn, supervisor: SignedIn
) -> None:
    wrong = []
    for who, client in (
        ("anonymous", app.test_client()),
        ("agent", agent.client),
        ("supervisor", supervisor.client),
    ):
        for url in _every_get(app):
            missing = _missing_on_every_answer(_get(client, url))
            if missing:
                wrong.append(f"GET {url} as {who}: {', '.join(missing)}")
    assert wrong == []


def test_nothing_a_signed_in_person_saw_is_kept_in_a_cache(
    app: Flask, agent: SignedIn, supervisor: SignedIn
) -> None:
    kept = []
    for who, client in (("agent", agent.client), ("supervisor", supervisor.client)):
        for url in _every_get(app):
            response = _get(client, url)
            if not response.headers.get("Cache-Control", "").endswith("no-store, private"):
                kept.append(f"GET {url} as {who}: {response.headers.get('Cache-Control')}")
    assert kept == []


def test_the_caller_card_and_the_wallboard_fragment_are_never_stored(
    supervisor: SignedIn,
) -> None:
    for url in ("/supervisor/board", f"/console/api/calls/{'0' * 32}/card", "/console"):
        assert supervisor.client.get(url).headers["Cache-Control"] == "no-store, private"


@pytest.mark.parametrize(
    ("public_url", "hsts"), [("https://amparo.example", True), ("http://127.0.0.1:5000", False)]
)
def test_browsers_are_held_to_https_once_the_public_url_is_https(
    runtime: Runtime, public_url: str, hsts: bool
) -> None:
    runtime.settings = runtime.settings.with_overrides(public_base_url=public_url)
    answer = create_app(runtime=runtime).test_client().get("/login")
    assert ("Strict-Transport-Security" in answer.headers) is hsts
    if hsts:
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
