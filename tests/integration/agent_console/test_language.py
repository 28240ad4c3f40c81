"""The console speaks Spanish and English: the agent's choice, else the browser's."""

from __future__ import annotations

from flask import Flask

from tests.integration.agent_console.console_helpers import SignedIn, csrf_of


def test_the_browser_language_chooses_between_spanish_and_english(app: Flask) -> None:
    client = app.test_client()
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en" dir="ltr">' in english.get_data(as_text=True)
    assert "Sign in" in english.get_data(as_text=True)
    spanish = client.get("/login", headers={"Accept-Language": "es-ES"})
    assert "Iniciar sesión" in spanish.get_data(as_text=True)
    other = client.get("/login", headers={"Accept-Language": "ar"})
    assert '<html lang="es"' in other.get_data(as_text=True), "the default for other languages"


def test_the_agents_own_choice_wins_over_the_browser(agent: SignedIn) -> None:
    chosen = agent.client.post(
        "/console/language",
        data={"csrf_token": csrf_of(agent.client), "locale": "en", "next": "/console"},
        headers={"Accept-Language": "es"},
    )
    assert chosen.headers["Location"] == "/console"
    page = agent.client.get("/console", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="en"' in page and "Keyboard shortcuts" in page
    refused = agent.client.post(
        "/console/language", data={"csrf_token": csrf_of(agent.client), "locale": "fr"}
    )
    assert refused.status_code == 400
