"""The sign-in guard every blueprint puts in front of its views.

The signed-in account lives in Flask's signed cookie with the id of its session in Redis;
:func:`login_required` checks both against the stored account and the open sessions on every
request (see :mod:`web.revocation`), so signing out, deactivating an account, changing its role
or resetting its password or second factor ends its sessions at their next request.

What the guard answers: JSON ``{error_id, message}`` to API calls and event streams, and to
pages a redirect to the sign-in page (``SIGN_IN_ENDPOINT``) or the app's ``forbidden.html`` and
``unavailable.html`` templates.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sansio.app import App
from sqlalchemy.orm import Session, sessionmaker

from web.revocation import AccountCheck, SessionStanding
from web.session_registry import SessionRegistry

SIGN_IN_ENDPOINT = "auth.login"
"""Where a browser without a standing session is sent (with ``next`` set to where it was)."""
ACCOUNT_CHECK = "amparo.account_check"
"""Key of the :class:`AccountCheck` in ``app.extensions`` (see :func:`install_account_check`)."""
CREDENTIALS = "credentials"
"""Session key of the credentials tag taken at sign-in."""
SESSION_ID = "sid"
"""Session key of the session's id in the registry (:mod:`web.session_registry`)."""

F = TypeVar("F", bound=Callable[..., Any])


def wants_json() -> bool:
    """API calls and event streams get JSON errors; pages get pages."""
    path = request.path
    return "/api/" in path or path.endswith("/events") or request.is_json


def install_account_check(
    app: App, sessions: sessionmaker[Session], registry: SessionRegistry
) -> None:
    """Give ``app`` the check :func:`login_required` asks; it needs the app's SECRET_KEY."""
    secret_key = app.secret_key
    if not secret_key:
        raise RuntimeError("the app needs a SECRET_KEY before sign-in is registered")
    app.extensions[ACCOUNT_CHECK] = AccountCheck(sessions, secret_key, registry)


def account_check() -> AccountCheck:
    check = current_app.extensions.get(ACCOUNT_CHECK)
    if not isinstance(check, AccountCheck):
        raise RuntimeError("login_required needs the sign-in blueprint registered on the app")
    return check


def end_session(notice: str | None = None) -> None:
    """Forget the account, keep the chosen language, and leave ``notice`` for the sign-in page."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    if notice:
        session["notice"] = notice


def session_watch(where: str) -> Callable[[], SessionStanding]:
    """The session's standing, to ask again after the request has ended (an event stream);
    a revoked answer is logged and audited as seen ``where``."""
    check = account_check()
    agent_id = str(session["agent_id"])
    role = str(session.get("role", ""))
    tag = str(session.get(CREDENTIALS, ""))
    session_id = str(session.get(SESSION_ID, ""))

    def standing() -> SessionStanding:
        found = check.standing(agent_id, role, tag, session_id)
        if found.revoked:
            check.record_revocation(agent_id, found, where=where)
        return found

    return standing


def _refused(standing: SessionStanding) -> Any:
    """The answer to a session that cannot be trusted now.

    Database or Redis unreadable: 503 for every role and route, the session kept (nothing is known
    against it). Failing closed costs an agent on a call nothing the outage had not already
    taken: accepting, holding, transferring, escalating, adding an interpreter and ending all
    read or write the call row first; a refused reject or state change leaves the offer to time
    out, and routing then offers the call to the next agent; an unacknowledged escalation keeps
    ringing its ladder; no console request carries the voice, so a bridged caller stays bridged.
    """
    if standing is SessionStanding.UNAVAILABLE:
        if wants_json():
            body = {
                "error_id": "auth.check_unavailable",
                "message": "the session cannot be checked now; try again in a moment",
            }
            response = jsonify(body)
        else:
            response = current_app.make_response(render_template("unavailable.html"))
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response
    end_session(notice="session_ended")
    if wants_json():
        body = {"error_id": "auth.session_revoked", "message": "the session has ended"}
        return jsonify(body), 401
    return redirect(url_for(SIGN_IN_ENDPOINT, next=request.path))


def login_required(*roles: str) -> Callable[[F], F]:
    """Require a signed-in account whose session still stands, and one of ``roles`` when
    given."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if "agent_id" not in session:
                if wants_json():
                    body = {"error_id": "auth.sign_in_required", "message": "sign in first"}
                    return jsonify(body), 401
                return redirect(url_for(SIGN_IN_ENDPOINT, next=request.path))
            standing = session_watch(where="request")()
            if standing is not SessionStanding.VALID:
                return _refused(standing)
            if roles and session.get("role") not in roles:
                if wants_json():
                    body = {"error_id": "auth.forbidden", "message": "not allowed for this role"}
                    return jsonify(body), 403
                return render_template("forbidden.html"), 403
            g.agent_id = session["agent_id"]
            g.role = session["role"]
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate
