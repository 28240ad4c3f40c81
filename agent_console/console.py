"""The agent's console page and the assembly of every console blueprint.

``register_console(app, ports, live)`` is what ``app.py`` calls: sign-in, language, the console
page, its JSON API and event stream, the supervisors' wallboard, the caseworkers' beneficiary
register and the admins' page.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, redirect, render_template, url_for
from werkzeug.wrappers import Response

from agent_console.admin import admin_blueprint
from agent_console.api import CONSOLE_ROLES, console_api
from agent_console.auth import auth_blueprint
from agent_console.beneficiaries import beneficiaries_blueprint
from agent_console.events import events_blueprint
from agent_console.i18n import install as install_language
from agent_console.ports import ConsolePorts
from agent_console.sign_in_throttle import SignInThrottle
from agent_console.texts import DISPOSITION_TEXT, STATE_TEXT
from agent_console.wallboard import wallboard_blueprint
from locales.markers import N_
from locales.ui_strings import RISK
from store.models import Agent
from store.vocabulary import RiskLevel
from web.guard import login_required
from web.session_registry import SessionRegistry

SHORTCUTS = (
    ("A", N_("console.shortcut.accept")),
    ("R", N_("console.shortcut.reject")),
    ("H", N_("console.shortcut.hold")),
    ("M", N_("console.shortcut.mute")),
    ("F", N_("console.shortcut.file")),
)


def console_blueprint(ports: ConsolePorts) -> Blueprint:
    bp = Blueprint("console", __name__)

    @bp.get("/")
    @login_required()
    def index() -> Response:
        if g.role in ("supervisor", "admin"):
            return redirect(url_for("wallboard.board_page"))
        return redirect(url_for("console.home"))

    @bp.get("/console")
    @login_required(*CONSOLE_ROLES)
    def home() -> str:
        with ports.sessions() as db:
            agent = db.get(Agent, g.agent_id)
            name = agent.display_name if agent else ""
        return render_template(
            "console.html",
            name=name,
            role=g.role,
            agent_id=g.agent_id,
            twilio_enabled=ports.twilio_enabled,
            browser_phone=ports.browser_phone,
            simulator_enabled=ports.simulator is not None,
            states=("available", "break", "offline"),
            state_text=STATE_TEXT,
            risk_text={level.value: RISK[level.value] for level in RiskLevel},
            risk_order=[level.value for level in RiskLevel],
            disposition_text=DISPOSITION_TEXT,
            shortcuts=SHORTCUTS,
        )

    return bp


def content_policy(twilio_enabled: bool, sip_websocket: str | None = None) -> str:
    """Pages load nothing from elsewhere; in Twilio mode the softphone talks to Twilio, in SIP
    mode the browser phone to Kamailio's WebSocket."""
    twilio = " https://*.twilio.com wss://*.twilio.com" if twilio_enabled else ""
    sip = f" {sip_websocket}" if sip_websocket else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'{twilio}{sip}; media-src 'self' blob:{twilio}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )


def register_console(app: Flask, ports: ConsolePorts) -> None:
    throttle = SignInThrottle(ports.live, ports.clock, ports.sign_in_per_minute)
    registry = SessionRegistry(ports.live)
    install_language(app, ports.default_locale)
    app.register_blueprint(auth_blueprint(ports.sessions, throttle, registry))
    app.register_blueprint(console_blueprint(ports))
    app.register_blueprint(console_api(ports))
    app.register_blueprint(events_blueprint(ports))
    app.register_blueprint(wallboard_blueprint(ports))
    app.register_blueprint(admin_blueprint(ports, throttle, registry))
    app.register_blueprint(beneficiaries_blueprint(ports))
