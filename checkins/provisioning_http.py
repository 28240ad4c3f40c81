"""The provisioning doors (thin: authenticate with the ``provisioning`` scope, read the JSON
body, call the service, answer).

``POST   /api/beneficiaries``               -> 201 new / 200 the same ``external_ref`` again

Errors answer ``{error_id, message}``: 400 malformed, 401 no valid key, 403 a key without the
``provisioning`` scope, 409 a conflict with what is stored.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, jsonify

from checkins import notifications, provisioning
from checkins.context import CheckinContext
from checkins.errors import CheckinError
from checkins.http import api_key, error_answer
from web.bodies import json_object

SCOPE = "provisioning"


def provisioning_api(context_of: Callable[[], CheckinContext]) -> Blueprint:
    """``context_of`` builds the context on first use, as the other API blueprint does."""
    bp = Blueprint("provisioning_api", __name__, url_prefix="/api")

    @bp.errorhandler(CheckinError)
    def _refused(exc: CheckinError) -> tuple[Response, int]:
        return error_answer(exc)

    def system() -> str:
        return notifications.authenticate(context_of().sessions, api_key(), SCOPE)

    @bp.post("/beneficiaries")
    def beneficiary() -> tuple[Response, int]:
        system_id = system()
        request = provisioning.parse(json_object())
        ctx = context_of()
        done = provisioning.provision(ctx.sessions, system_id, request, ctx.clock.now)
        return jsonify(id=done.beneficiary_id), 201 if done.created else 200

    return bp
