"""Sign-in for agents, supervisors and admins: argon2 passwords, CSRF-protected forms,
lockout after repeated failures, every attempt audited."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response

from store import audit
from store.base import utcnow
from store.credentials import verify_secret
from store.models import Agent

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

F = TypeVar("F", bound=Callable[..., Any])


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def check_csrf() -> None:
    """Reject a write without the session's CSRF token (form field or X-CSRF-Token header)."""
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="missing or wrong CSRF token")


def login_required(*roles: str) -> Callable[[F], F]:
    """Require a signed-in account, and one of ``roles`` when given."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if "agent_id" not in session:
                return redirect(url_for("auth.login", next=request.path))
            if roles and session.get("role") not in roles:
                abort(403)
            g.agent_id = session["agent_id"]
            g.role = session["role"]
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def auth_blueprint(sessions: sessionmaker[Session]) -> Blueprint:
    bp = Blueprint("auth", __name__)

    @bp.app_context_processor
    def _inject() -> dict[str, Any]:
        return {"csrf_token": csrf_token}

    @bp.get("/login")
    def login() -> str:
        return render_template("login.html", error=None)

    @bp.post("/login")
    def login_post() -> Response | tuple[str, int]:
        check_csrf()
        login_name = request.form.get("login", "").strip()
        password = request.form.get("password", "")
        with sessions() as db, db.begin():
            agent = db.scalar(select(Agent).where(Agent.login == login_name, Agent.active))
            now = utcnow()
            if agent is not None and agent.locked_until and agent.locked_until > now:
                audit.record(db, actor_type="agent", actor_id=agent.id, action="sign_in_locked")
                return render_template("login.html", error="locked"), 429
            if agent is None or not verify_secret(agent.password_hash, password):
                if agent is not None:
                    agent.failed_logins += 1
                    if agent.failed_logins >= MAX_FAILED_LOGINS:
                        agent.locked_until = now + LOCKOUT
                        agent.failed_logins = 0
                audit.record(
                    db,
                    actor_type="agent",
                    actor_id=agent.id if agent else None,
                    action="sign_in_failed",
                    detail={"remote": request.remote_addr or ""},
                )
                return render_template("login.html", error="invalid"), 401
            agent.failed_logins = 0
            agent.locked_until = None
            audit.record(db, actor_type="agent", actor_id=agent.id, action="sign_in")
            agent_id, role = agent.id, agent.role
        session.clear()
        session["agent_id"] = agent_id
        session["role"] = str(role)
        session.permanent = True
        current_app.logger.info("sign-in agent_id=%s", agent_id)
        target = request.args.get("next") or url_for("console.home")
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("console.home")
        return redirect(target)

    @bp.post("/logout")
    def logout() -> Response:
        check_csrf()
        agent_id = session.get("agent_id")
        if agent_id:
            with sessions() as db, db.begin():
                audit.record(db, actor_type="agent", actor_id=agent_id, action="sign_out")
        session.clear()
        return redirect(url_for("auth.login"))

    return bp
