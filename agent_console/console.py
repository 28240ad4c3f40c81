"""The agent's console home (the softphone and live offers build on this page)."""

from __future__ import annotations

from flask import Blueprint, g, render_template
from sqlalchemy.orm import Session, sessionmaker

from agent_console.auth import login_required
from store.models import Agent


def console_blueprint(sessions: sessionmaker[Session]) -> Blueprint:
    bp = Blueprint("console", __name__)

    @bp.get("/")
    @login_required()
    def index() -> str:
        return home()

    @bp.get("/console")
    @login_required()
    def home() -> str:
        with sessions() as db:
            agent = db.get(Agent, g.agent_id)
            name = agent.display_name if agent else ""
        return render_template("console.html", name=name, role=g.role)

    return bp
