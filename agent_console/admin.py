"""Admins' page (``/admin``): accounts with their sign-in delays and second-factor state.

An admin clears the delays failed sign-ins put on an account (every address may try again at
once), ends every open session of an account, clears a lost authenticator so its owner enrols
again at the next sign-in, deactivates an account (its sessions end at their next request, an
open event stream within ``RECHECK_SECONDS``; routing sets her offline, after her current call
if she is on one) or reactivates it. All audited."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, jsonify, render_template
from sqlalchemy import select

from agent_console.ports import ConsoleError, ConsolePorts
from agent_console.sign_in_throttle import SignInThrottle
from routing.deactivation import leave_routing
from store import audit
from store.models import Agent
from web.csrf import check_csrf
from web.guard import login_required
from web.session_registry import RegistryUnavailable, SessionRegistry

log = logging.getLogger(__name__)

ADMIN_ROLES = ("admin",)


def admin_blueprint(
    ports: ConsolePorts, throttle: SignInThrottle, registry: SessionRegistry
) -> Blueprint:
    bp = Blueprint("admin", __name__)

    @bp.errorhandler(ConsoleError)
    def _console_error(exc: ConsoleError) -> tuple[Response, int]:
        return jsonify(error_id=exc.error_id, message=exc.message), exc.status

    @bp.get("/admin")
    @login_required(*ADMIN_ROLES)
    def accounts() -> str:
        with ports.sessions() as db:
            rows = [
                {
                    "id": agent.id,
                    "login": agent.login,
                    "name": agent.display_name,
                    "role": str(agent.role),
                    "active": agent.active,
                    "locked": throttle.delayed(agent.login),
                    "second_factor": agent.totp_secret is not None,
                }
                for agent in db.scalars(select(Agent).order_by(Agent.login))
            ]
        return render_template("admin.html", accounts=rows, me=g.agent_id)

    def _change(agent_id: str, action: str) -> None:
        check_csrf()
        with ports.sessions() as db, db.begin():
            agent = db.get(Agent, agent_id)
            if agent is None:
                raise ConsoleError("console.unknown_agent", "no such account", 404)
            if action == "account_unlocked":
                throttle.clear(agent.login)
            elif action == "sessions_ended":
                pass
            elif action == "second_factor_reset":
                agent.totp_secret = None
            else:
                agent.active = action == "account_reactivated"
            audit.record(
                db,
                actor_type="agent",
                actor_id=g.agent_id,
                action=action,
                subject_type="agent",
                subject_id=agent_id,
            )

    def _leave_routing(agent_id: str) -> tuple[str, str | None]:
        return leave_routing(ports.router(), agent_id, ports.clock())

    @bp.post("/admin/api/agents/<agent_id>/unlock")
    @login_required(*ADMIN_ROLES)
    def unlock(agent_id: str) -> Response:
        _change(agent_id, "account_unlocked")
        return jsonify(agent_id=agent_id, done="account_unlocked")

    @bp.post("/admin/api/agents/<agent_id>/reset-second-factor")
    @login_required(*ADMIN_ROLES)
    def reset_second_factor(agent_id: str) -> Response:
        _change(agent_id, "second_factor_reset")
        return jsonify(agent_id=agent_id, done="second_factor_reset")

    @bp.post("/admin/api/agents/<agent_id>/deactivate")
    @login_required(*ADMIN_ROLES)
    def deactivate(agent_id: str) -> Response:
        """Her sessions end at their next request, an open event stream within
        ``RECHECK_SECONDS``; ``routing_state`` says whether she is still on a call, and
        ``routing_after_call`` (``offline``) what she becomes when it ends."""
        if agent_id == g.agent_id:
            check_csrf()
            raise ConsoleError("console.own_account", "another admin must do this", 409)
        _change(agent_id, "account_deactivated")
        state, after_call = _leave_routing(agent_id)
        return jsonify(
            agent_id=agent_id,
            done="account_deactivated",
            routing_state=state,
            routing_after_call=after_call,
        )

    @bp.post("/admin/api/agents/<agent_id>/end-sessions")
    @login_required(*ADMIN_ROLES)
    def end_sessions(agent_id: str) -> Response:
        """Every open session of the account ends at its next request (a lost laptop, a
        cookie seen somewhere); the account itself stays as it is."""
        _change(agent_id, "sessions_ended")
        try:
            ended = registry.close_all(agent_id)
        except RegistryUnavailable:
            raise ConsoleError(
                "console.sessions_unavailable", "sessions cannot be reached; try again", 503
            ) from None
        return jsonify(agent_id=agent_id, done="sessions_ended", sessions_ended=ended)

    @bp.post("/admin/api/agents/<agent_id>/reactivate")
    @login_required(*ADMIN_ROLES)
    def reactivate(agent_id: str) -> Response:
        _change(agent_id, "account_reactivated")
        return jsonify(agent_id=agent_id, done="account_reactivated")

    return bp
