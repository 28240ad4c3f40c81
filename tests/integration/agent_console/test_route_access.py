"""Every route of the app has a declared access level, and each role gets exactly that.

A route added without an entry here fails this test: declare who may use it.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.agent_console.console_helpers import SignedIn

PUBLIC = "public"
SIGNED_IN = "signed_in"  # agents, supervisors and admins
SUPERVISORS = "supervisors"  # supervisors and admins
ADMINS = "admins"
CARRIER = "carrier"  # Twilio's signed webhooks: refused (403) to every browser, signed in or not
SCRAPER = "scraper"  # /metrics: only with AMPARO_METRICS_TOKEN (401), absent without it (404)

ACCESS = {
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    "health.readyz": PUBLIC,
    "metrics.exposition": SCRAPER,
    "auth.login": PUBLIC,
    "auth.login_post": PUBLIC,
    "auth.second_factor": PUBLIC,
    "auth.second_factor_post": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.logout_everywhere": SIGNED_IN,
    "language.choose": PUBLIC,
    # The caller simulator places calls and presses panic buttons: signed-in people only, and
    # on only with AMPARO_SIMULATOR=on or on the embedded default bound to loopback.
    "simulator_page.page": SIGNED_IN,
    "simulator_page.lines": SIGNED_IN,
    "simulator_page.panic": SIGNED_IN,
    "simulator_api.dial": SIGNED_IN,
    "simulator_api.show": SIGNED_IN,
    "simulator_api.keys": SIGNED_IN,
    "simulator_api.silence": SIGNED_IN,
    "simulator_api.hangup": SIGNED_IN,
    "simulator_api.ringing": SIGNED_IN,
    "simulator_api.answer": SIGNED_IN,
    "console.index": SIGNED_IN,
    "console.home": SIGNED_IN,
    "console_events.events": SIGNED_IN,
    "console_api.me": SIGNED_IN,
    "console_api.set_state": SIGNED_IN,
    "console_api.presence_heartbeat": SIGNED_IN,
    "console_api.accept": SIGNED_IN,
    "console_api.reject": SIGNED_IN,
    "console_api.card": SIGNED_IN,
    "console_api.open_file": SIGNED_IN,
    "console_api.phone": SIGNED_IN,
    "console_api.hold": SIGNED_IN,
    "console_api.mute": SIGNED_IN,
    "console_api.hang_up": SIGNED_IN,
    "console_api.send_dtmf": SIGNED_IN,
    "console_api.transfer": SIGNED_IN,
    "console_api.transfer_targets": SIGNED_IN,
    "console_api.place_call": SIGNED_IN,
    "console_api.cancel_call": SIGNED_IN,
    "console_api.outbound_targets": SIGNED_IN,
    "console_api.complete_transfer": SIGNED_IN,
    "console_api.cancel_transfer": SIGNED_IN,
    "console_api.escalate": SIGNED_IN,
    "console_api.interpreter": SIGNED_IN,
    "console_api.remove_interpreter": SIGNED_IN,
    "console_api.end": SIGNED_IN,
    "console_api.checkin_plan": SIGNED_IN,
    "console_api.refer": SIGNED_IN,
    "console_api.acknowledge": SIGNED_IN,
    "console_api.ringing": SIGNED_IN,
    "console_api.escalation_case": SIGNED_IN,
    # Signed-in only at the door; the recordings service then refuses agents (and audits it).
    "recordings.grant_access": SIGNED_IN,
    "recordings.stream": SIGNED_IN,
    "recordings.hold": SIGNED_IN,
    "recordings.release": SIGNED_IN,
    "wallboard.board_page": SUPERVISORS,
    "wallboard.fragment": SUPERVISORS,
    "wallboard.board_json": SUPERVISORS,
    "wallboard.supervise": SUPERVISORS,
    "wallboard.leave": SUPERVISORS,
    "beneficiaries.search_page": SUPERVISORS,
    "beneficiaries.search": SUPERVISORS,
    "beneficiaries.new": SUPERVISORS,
    "beneficiaries.create": SUPERVISORS,
    "beneficiaries.edit": SUPERVISORS,
    "beneficiaries.update": SUPERVISORS,
    "beneficiaries.add_device": SUPERVISORS,
    "beneficiaries.rotate_device": SUPERVISORS,
    "beneficiaries.revoke_device": SUPERVISORS,
    "admin.accounts": ADMINS,
    "admin.unlock": ADMINS,
    "admin.reset_second_factor": ADMINS,
    "admin.deactivate": ADMINS,
    "admin.reactivate": ADMINS,
    "admin.end_sessions": ADMINS,
    "twilio.incoming": CARRIER,
    "twilio.step": CARRIER,
    "twilio.status": CARRIER,
    "twilio.recording": CARRIER,
    "twilio.queue_wait": CARRIER,
    "twilio.queue_result": CARRIER,
    "twilio.fallback": CARRIER,
    "twilio.keys": CARRIER,
    "twilio.transfer_answered": CARRIER,
    "twilio.interpreter_answered": CARRIER,
    "twilio.announcement": CARRIER,
    "twilio.dial_result": CARRIER,
    "twilio.bridge_ended": CARRIER,
    "twilio.outbound_answered": CARRIER,
    "twilio.media": PUBLIC,
    # Devices and external systems sign their requests (HMAC, API key): no browser gets in.
    "checkins_api.device_alarm": "device",
    "checkins_api.notification": "device",
    "checkins_api.notification_progress": SUPERVISORS,
    "provisioning_api.beneficiary": "device",
    "provisioning_api.device": "device",
    "provisioning_api.rotate": "device",
    "provisioning_api.revoke": "device",
    "provisioning_api.openapi": PUBLIC,
    "operations.page": SUPERVISORS,
    "operations.overview": SUPERVISORS,
    "operations.requeue": SUPERVISORS,
    "twilio.voice_token": SIGNED_IN,
}

ALLOWED = {
    PUBLIC: {"anonymous", "agent", "supervisor", "admin"},
    SIGNED_IN: {"agent", "supervisor", "admin"},
    SUPERVISORS: {"supervisor", "admin"},
    ADMINS: {"admin"},
}


def _requests(app: Flask) -> list[tuple[str, str, str]]:
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        values = {
            name: {"filename": "console.css", "name": "hold.wav"}.get(name, "0" * 32)
            for name in rule.arguments
        }
        url = adapter.build(rule.endpoint, values)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


def _call(client: FlaskClient, method: str, url: str) -> Any:
    """No CSRF token on purpose: an allowed role then stops at the CSRF check (400), so no
    route changes anything while the map is walked."""
    response = client.open(url, method=method, headers={"Accept": "application/json"})
    response.close()  # the event stream would otherwise stay open
    return response


def test_every_route_declares_who_may_use_it(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert sorted(endpoints - set(ACCESS)) == [], "declare these routes in ACCESS"
    assert sorted(set(ACCESS) - endpoints) == [], "these declared routes no longer exist"


@pytest.mark.parametrize("role", ["anonymous", "agent", "supervisor", "admin"])
def test_each_role_reaches_exactly_the_routes_declared_for_it(
    role: str, app: Flask, agent: SignedIn, supervisor: SignedIn, admin: SignedIn
) -> None:
    clients = {
        "anonymous": app.test_client(),
        "agent": agent.client,
        "supervisor": supervisor.client,
        "admin": admin.client,
    }
    client = clients[role]
    wrong = []
    for endpoint, method, url in _requests(app):
        if endpoint == "auth.logout":
            continue  # a bare POST is refused for its missing token; checked below
        response = _call(client, method, url)
        status = response.status_code
        to_login = status == 302 and "/login" in response.headers.get("Location", "")
        if ACCESS[endpoint] == CARRIER:
            ok = status == 403
        elif ACCESS[endpoint] == SCRAPER:
            ok = status in (401, 404)  # a session is no bearer token
        elif ACCESS[endpoint] == "device":
            ok = status in (400, 401)  # unsigned: refused before anything is stored
        elif ACCESS[endpoint] == PUBLIC:
            ok = status not in (401, 403) and status < 500  # /login/code may send back to /login
        elif role in ALLOWED[ACCESS[endpoint]]:
            ok = status not in (401, 403) and not to_login and status < 500
        elif role == "anonymous":
            ok = status == 401 or to_login
        else:
            ok = status == 403
        if not ok:
            wrong.append(f"{method} {url} as {role}: {status}")
    assert wrong == []


def test_signing_out_needs_the_token(agent: SignedIn) -> None:
    assert agent.client.post("/logout").status_code == 400
    assert agent.client.get("/console").status_code == 200
