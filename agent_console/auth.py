"""Sign-in pages for agents, supervisors and admins: ``/login``, ``/login/code``, ``/logout``.

Passwords are argon2 hashes; every form and JSON write carries the session's CSRF token;
supervisors and admins add a TOTP code (enrolled at their first sign-in); attempts are slowed
down per address and login in Redis (:mod:`agent_console.sign_in_throttle`), never locked;
every failure gets the same answer, whether the login exists or not; every attempt is audited.

The signed-in account lives in Flask's signed cookie, with a tag of its credentials; the guard
every blueprint uses (:func:`web.guard.login_required`) checks both against the stored account
on every request.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from functools import cache
from typing import Any

import pyotp
from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response

from agent_console.sign_in_throttle import (
    PENDING_SECONDS,
    Attempt,
    SignInThrottle,
    ThrottleUnavailable,
)
from store import audit
from store.credentials import hash_secret, verify_secret
from store.models import Agent
from web.csrf import check_csrf, csrf_token
from web.guard import (
    CREDENTIALS,
    SESSION_ID,
    account_check,
    end_session,
    install_account_check,
    login_required,
)
from web.session_registry import RegistryUnavailable, SessionRegistry
from web.targets import local_target

log = logging.getLogger(__name__)

SECOND_FACTOR_ROLES = frozenset({"supervisor", "admin"})
ISSUER = "Amparo"


@cache
def _stand_in_hash() -> str:
    """A hash to check an unknown login's password against, so that an unknown login costs
    the same argon2 time as a known one (no timing oracle for which logins exist)."""
    return hash_secret(secrets.token_urlsafe(16))


def matching_counter(secret: str, code: str, now: float) -> int | None:
    """The time step ``code`` belongs to (one step of clock drift either way), or None."""
    totp = pyotp.TOTP(secret)
    code = code.strip().replace(" ", "")
    if not code.isdigit():
        return None
    current = int(now // totp.interval)
    for offset in (0, -1, 1):
        counter = current + offset
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def _safe_target(raw: str | None) -> str:
    return local_target(raw, url_for("console.index"))


def auth_blueprint(
    sessions: sessionmaker[Session], throttle: SignInThrottle, registry: SessionRegistry
) -> Blueprint:
    bp = Blueprint("auth", __name__)

    @bp.record_once
    def _install_check(state: BlueprintSetupState) -> None:
        install_account_check(state.app, sessions, registry)

    @bp.app_context_processor
    def _inject() -> dict[str, Any]:
        return {"csrf_token": csrf_token}

    def _audit(agent_id: str | None, action: str, **detail: Any) -> None:
        with sessions() as db, db.begin():
            audit.record(
                db,
                actor_type="agent",
                actor_id=agent_id,
                action=action,
                detail={"remote": request.remote_addr or "", **detail},
            )

    def _failed(agent_id: str | None, step: str, template: str, **context: Any) -> Any:
        """The one answer to every failure of a step: unknown login, inactive account, wrong
        password, wrong or replayed code."""
        _audit(agent_id, "sign_in_failed", step=step)
        return render_template(template, error="invalid", **context), 401

    def _refused(attempt: Attempt | None, template: str, step: str, **context: Any) -> Response:
        """Too soon after failures from this address for this login (429), or nothing to count
        attempts with (503)."""
        if attempt is None:
            response = current_app.make_response(render_template("unavailable.html"))
            response.status_code = 503
            response.headers["Retry-After"] = "5"
            return response
        _audit(None, "sign_in_rate_limited", step=step)
        response = current_app.make_response(
            render_template(template, error="rate_limited", **context)
        )
        response.status_code = 429
        response.headers["Retry-After"] = str(attempt.retry_after_s)
        return response

    def _attempt(login: str) -> Attempt | None:
        try:
            return throttle.attempt(request.remote_addr or "", login)
        except ThrottleUnavailable:
            return None

    def _signed_in(
        agent_id: str, role: str, tag: str, target: str | None, second_factor: bool
    ) -> Response:
        try:
            session_id = registry.open(agent_id)
        except RegistryUnavailable:
            return _refused(None, "login.html", "session")
        end_session()
        session[SESSION_ID] = session_id
        session["agent_id"] = agent_id
        session["role"] = role
        session[CREDENTIALS] = tag
        session.permanent = True
        current_app.logger.info("sign-in agent_id=%s", agent_id)
        _audit(agent_id, "sign_in", second_factor=second_factor)
        return redirect(_safe_target(target))

    def _signed_out(agent_id: str, action: str, **detail: Any) -> Response:
        with sessions() as db, db.begin():
            audit.record(db, actor_type="agent", actor_id=agent_id, action=action, detail=detail)
        end_session()
        return redirect(url_for("auth.login"))

    @bp.get("/login")
    def login() -> str:
        notice = session.pop("notice", None)
        return render_template("login.html", error=None, notice=notice)

    @bp.post("/login")
    def login_post() -> Any:
        check_csrf()
        login_name = request.form.get("login", "").strip()
        password = request.form.get("password", "")
        attempt = _attempt(login_name)
        if attempt is None or not attempt.allowed:
            return _refused(attempt, "login.html", "password")
        with sessions() as db:
            agent = db.scalar(select(Agent).where(Agent.login == login_name, Agent.active))
            if agent is None:
                verify_secret(_stand_in_hash(), password)
                return _failed(None, "password", "login.html")
            if not verify_secret(agent.password_hash, password):
                return _failed(agent.id, "password", "login.html")
            agent_id, role, enrolled = agent.id, str(agent.role), agent.totp_secret is not None
            tag = account_check().tag(agent)
        throttle.succeeded(request.remote_addr or "", login_name)
        target = request.args.get("next")
        if role not in SECOND_FACTOR_ROLES:
            return _signed_in(agent_id, role, tag, target, second_factor=False)
        pending: dict[str, Any] = {"agent_id": agent_id, "role": role, "at": time.time()}
        pending["next"] = target
        if not enrolled:
            pending["enrol"] = throttle.keep_enrolment(pyotp.random_base32())
        session["pending"] = pending
        return redirect(url_for("auth.second_factor"))

    def _pending() -> dict[str, Any] | None:
        pending = session.get("pending")
        if not isinstance(pending, dict) or "agent_id" not in pending:
            return None
        if time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
            session.pop("pending", None)
            return None
        return pending

    def _enrolment_view(pending: dict[str, Any]) -> dict[str, str] | None:
        token = pending.get("enrol")
        if not token:
            return None
        secret = throttle.enrolment(str(token))
        if secret is None:
            return None
        with sessions() as db:
            agent = db.get(Agent, pending["agent_id"])
            login_name = agent.login if agent else "agent"
        uri = pyotp.TOTP(secret).provisioning_uri(name=login_name, issuer_name=ISSUER)
        return {"secret": secret, "uri": uri}

    @bp.get("/login/code")
    def second_factor() -> Response | str:
        pending = _pending()
        if pending is None:
            return redirect(url_for("auth.login"))
        return render_template("login_code.html", enrol=_enrolment_view(pending), error=None)

    @bp.post("/login/code")
    def second_factor_post() -> Any:
        check_csrf()
        pending = _pending()
        if pending is None:
            return redirect(url_for("auth.login"))
        agent_id = str(pending["agent_id"])
        enrol = _enrolment_view(pending)
        code_login = f"code:{agent_id}"
        attempt = _attempt(code_login)
        if attempt is None or not attempt.allowed:
            return _refused(attempt, "login_code.html", "code", enrol=enrol)
        code = request.form.get("code", "")
        with sessions() as db, db.begin():
            agent = db.get(Agent, agent_id)
            if agent is None or not agent.active:
                session.pop("pending", None)
                return _failed(agent_id, "code", "login.html")
            secret = enrol["secret"] if enrol else agent.totp_secret
            counter = matching_counter(secret, code, time.time()) if secret else None
            if counter is None or not throttle.first_use_of_code(agent.id, counter):
                return _failed(agent_id, "code", "login_code.html", enrol=enrol)
            if enrol:
                agent.totp_secret = enrol["secret"]
                audit.record(db, actor_type="agent", actor_id=agent.id, action="totp_enrolled")
            role, tag = str(agent.role), account_check().tag(agent)
        throttle.succeeded(request.remote_addr or "", code_login)
        return _signed_in(agent_id, role, tag, pending.get("next"), second_factor=True)

    @bp.post("/logout")
    def logout() -> Response:
        """This session ends, for every copy of its cookie."""
        check_csrf()
        agent_id = session.get("agent_id")
        if not agent_id:
            end_session()
            return redirect(url_for("auth.login"))
        registry.close(str(session.get(SESSION_ID, "")), str(agent_id))
        return _signed_out(str(agent_id), "sign_out")

    @bp.post("/logout/everywhere")
    @login_required()
    def logout_everywhere() -> Response:
        """Every session of hers ends: a forgotten workstation, a stolen cookie."""
        check_csrf()
        try:
            ended = registry.close_all(g.agent_id)
        except RegistryUnavailable:
            return _refused(None, "login.html", "sign_out")
        return _signed_out(g.agent_id, "signed_out_everywhere", sessions_ended=ended)

    return bp
