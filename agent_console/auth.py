"""Sign-in pages for agents, supervisors and admins: ``/login``, ``/login/code``, ``/logout``.

Passwords are argon2 hashes; every form and JSON write carries the session's CSRF token;
supervisors and admins add a TOTP code (enrolled at their first sign-in); attempts are limited
per address and per login in Redis (any number of web processes share the count) besides the
lockout after repeated failures stored on the account; every attempt is audited.

The signed-in account lives in Flask's signed cookie, with a tag of its credentials; the guard
every blueprint uses (:func:`web.guard.login_required`) checks both against the stored account
on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from datetime import timedelta
from typing import Any

import pyotp
import redis
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response

from store import audit
from store.base import utcnow
from store.credentials import verify_secret
from store.live_state import key
from store.models import Agent
from web.csrf import check_csrf, csrf_token
from web.guard import CREDENTIALS, account_check, end_session, install_account_check
from web.targets import local_target

log = logging.getLogger(__name__)

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
ATTEMPTS_PER_MINUTE = 10
"""Sign-in attempts allowed per minute from one address, and for one login."""
SECOND_FACTOR_ROLES = frozenset({"supervisor", "admin"})
PENDING_SECONDS = 300
"""Time between the password step and the code step."""
ISSUER = "Amparo"


class SignInLimiter:
    """Attempts counted in Redis for a minute from the first one, per address and per login
    (hashed: a password pasted into the login field must not end up in a key name)."""

    def __init__(self, live: redis.Redis, per_minute: int = ATTEMPTS_PER_MINUTE) -> None:
        self._live = live
        self._per_minute = per_minute

    def allow(self, address: str, login: str) -> bool:
        login_tag = hashlib.sha256(login.lower().encode()).hexdigest()[:24]
        keys = (
            key("auth", "attempts", "ip", address or "-"),
            key("auth", "attempts", "login", login_tag),
        )
        try:
            pipe = self._live.pipeline(transaction=True)
            for name in keys:
                pipe.set(name, 0, ex=60, nx=True)  # the minute starts at the first attempt
                pipe.incr(name)
            counts = pipe.execute()[1::2]
        except redis.RedisError:
            # The lockout stored on the account still holds; nothing else works without Redis.
            log.warning("sign-in rate limit unavailable (Redis error); lockout still applies")
            return True
        return all(int(count) <= self._per_minute for count in counts)

    def first_use_of_code(self, agent_id: str, counter: int) -> bool:
        """A TOTP code is good once: a code seen over someone's shoulder cannot be replayed."""
        try:
            return bool(
                self._live.set(key("auth", "totp_used", agent_id, counter), "1", nx=True, ex=120)
            )
        except redis.RedisError:
            log.warning("TOTP replay check unavailable (Redis error)")
            return True

    def keep_enrolment(self, secret: str) -> str:
        token = secrets.token_urlsafe(24)
        self._live.set(key("auth", "enrol", token), secret, ex=PENDING_SECONDS)
        return token

    def enrolment(self, token: str) -> str | None:
        value = self._live.get(key("auth", "enrol", token))
        return None if value is None else str(value)


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


def auth_blueprint(sessions: sessionmaker[Session], live: redis.Redis) -> Blueprint:
    bp = Blueprint("auth", __name__)
    limiter = SignInLimiter(live)

    @bp.record_once
    def _install_check(state: BlueprintSetupState) -> None:
        install_account_check(state.app, sessions)

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

    def _failure(db: Session, agent: Agent | None, step: str) -> None:
        if agent is not None:
            agent.failed_logins += 1
            if agent.failed_logins >= MAX_FAILED_LOGINS:
                agent.locked_until = utcnow() + LOCKOUT
                agent.failed_logins = 0
        audit.record(
            db,
            actor_type="agent",
            actor_id=agent.id if agent else None,
            action="sign_in_failed",
            detail={"remote": request.remote_addr or "", "step": step},
        )

    def _signed_in(
        agent_id: str, role: str, tag: str, target: str | None, second_factor: bool
    ) -> Response:
        end_session()
        session["agent_id"] = agent_id
        session["role"] = role
        session[CREDENTIALS] = tag
        session.permanent = True
        current_app.logger.info("sign-in agent_id=%s", agent_id)
        _audit(agent_id, "sign_in", second_factor=second_factor)
        return redirect(_safe_target(target))

    @bp.get("/login")
    def login() -> str:
        notice = session.pop("notice", None)
        return render_template("login.html", error=None, notice=notice)

    @bp.post("/login")
    def login_post() -> Response | tuple[str, int]:
        check_csrf()
        login_name = request.form.get("login", "").strip()
        password = request.form.get("password", "")
        if not limiter.allow(request.remote_addr or "", login_name):
            _audit(None, "sign_in_rate_limited")
            return render_template("login.html", error="rate_limited"), 429
        with sessions() as db, db.begin():
            agent = db.scalar(select(Agent).where(Agent.login == login_name, Agent.active))
            now = utcnow()
            if agent is not None and agent.locked_until and agent.locked_until > now:
                audit.record(db, actor_type="agent", actor_id=agent.id, action="sign_in_locked")
                return render_template("login.html", error="locked"), 429
            if agent is None or not verify_secret(agent.password_hash, password):
                _failure(db, agent, "password")
                return render_template("login.html", error="invalid"), 401
            agent.failed_logins = 0
            agent_id, role, enrolled = agent.id, str(agent.role), agent.totp_secret is not None
            tag = account_check().tag(agent)
        target = request.args.get("next")
        if role not in SECOND_FACTOR_ROLES:
            return _signed_in(agent_id, role, tag, target, second_factor=False)
        pending: dict[str, Any] = {"agent_id": agent_id, "role": role, "at": time.time()}
        pending["next"] = target
        if not enrolled:
            pending["enrol"] = limiter.keep_enrolment(pyotp.random_base32())
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
        secret = limiter.enrolment(str(token))
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
    def second_factor_post() -> Response | tuple[str, int]:
        check_csrf()
        pending = _pending()
        if pending is None:
            return redirect(url_for("auth.login"))
        agent_id = str(pending["agent_id"])
        enrol = _enrolment_view(pending)
        if not limiter.allow(request.remote_addr or "", agent_id):
            _audit(agent_id, "sign_in_rate_limited", step="code")
            return render_template("login_code.html", enrol=enrol, error="rate_limited"), 429
        code = request.form.get("code", "")
        with sessions() as db, db.begin():
            agent = db.get(Agent, agent_id)
            if agent is None or not agent.active:
                session.pop("pending", None)
                return render_template("login.html", error="invalid"), 401
            if agent.locked_until and agent.locked_until > utcnow():
                audit.record(db, actor_type="agent", actor_id=agent.id, action="sign_in_locked")
                session.pop("pending", None)
                return render_template("login.html", error="locked"), 429
            secret = enrol["secret"] if enrol else agent.totp_secret
            counter = matching_counter(secret, code, time.time()) if secret else None
            if counter is None or not limiter.first_use_of_code(agent.id, counter):
                _failure(db, agent, "code")
                return render_template("login_code.html", enrol=enrol, error="invalid"), 401
            agent.failed_logins = 0
            agent.locked_until = None
            if enrol:
                agent.totp_secret = enrol["secret"]
                audit.record(db, actor_type="agent", actor_id=agent.id, action="totp_enrolled")
            role, tag = str(agent.role), account_check().tag(agent)
        return _signed_in(agent_id, role, tag, pending.get("next"), second_factor=True)

    @bp.post("/logout")
    def logout() -> Response:
        check_csrf()
        agent_id = session.get("agent_id")
        if agent_id:
            with sessions() as db, db.begin():
                audit.record(db, actor_type="agent", actor_id=agent_id, action="sign_out")
        end_session()
        return redirect(url_for("auth.login"))

    return bp
