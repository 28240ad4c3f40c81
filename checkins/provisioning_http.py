"""The provisioning doors (thin: authenticate with the ``provisioning`` scope, read the JSON
body, call the service, answer), and the API's OpenAPI document.

``POST   /api/beneficiaries``               -> 201 new / 200 the same ``external_ref`` again
``POST   /api/devices``                     -> 201 ``{serial, secret}`` (shown once)
``POST   /api/devices/<serial>/rotate``     -> 200 ``{serial, secret}``
``DELETE /api/devices/<serial>``            -> 200 ``{serial, revoked}``
``GET    /api/openapi.json``                -> the OpenAPI 3.1 document of every ``/api/`` route

Errors answer ``{error_id, message}``: 400 malformed, 401 no valid key, 403 a key without the
``provisioning`` scope, 404 unknown beneficiary or device, 409 a conflict with what is stored,
503 with ``Retry-After`` when the database did not take the write (nothing was stored).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from checkins import devices, notifications, provisioning
from checkins.context import CheckinContext
from checkins.errors import CheckinError, StoreUnavailable
from checkins.http import api_key, error_answer
from checkins.openapi import document
from web.bodies import json_object

log = logging.getLogger(__name__)

SCOPE = "provisioning"


def provisioning_api(context_of: Callable[[], CheckinContext]) -> Blueprint:
    """``context_of`` builds the context on first use, as the other API blueprint does."""
    bp = Blueprint("provisioning_api", __name__, url_prefix="/api")

    @bp.errorhandler(CheckinError)
    def _refused(exc: CheckinError) -> tuple[Response, int]:
        return error_answer(exc)

    @bp.errorhandler(SQLAlchemyError)
    def _store_down(exc: SQLAlchemyError) -> tuple[Response, int]:
        """Each write is one transaction: when the database did not take it, nothing was
        stored and the system sends it again."""
        log.warning("provisioning write not stored: %s", type(exc).__name__)
        return error_answer(StoreUnavailable("the database did not take the write; retry"))

    def system() -> devices.Actor:
        system_id = notifications.authenticate(context_of().sessions, api_key(), SCOPE)
        return devices.Actor("system", system_id)

    @bp.post("/beneficiaries")
    def beneficiary() -> tuple[Response, int]:
        actor = system()
        request = provisioning.parse(json_object())
        ctx = context_of()
        done = provisioning.provision(ctx.sessions, str(actor.id), request, ctx.clock.now)
        return jsonify(id=done.beneficiary_id), 201 if done.created else 200

    @bp.post("/devices")
    def device() -> tuple[Response, int]:
        actor = system()
        serial, beneficiary_id, number = devices.parse_new(json_object())
        issued = devices.add(context_of().sessions, actor, serial, beneficiary_id, number)
        return _secret(issued), 201

    @bp.post("/devices/<serial>/rotate")
    def rotate(serial: str) -> tuple[Response, int]:
        issued = devices.rotate(context_of().sessions, system(), serial)
        return _secret(issued), 200

    @bp.delete("/devices/<serial>")
    def revoke(serial: str) -> tuple[Response, int]:
        devices.revoke(context_of().sessions, system(), serial)
        response = jsonify(serial=serial, revoked=True)
        response.headers["Cache-Control"] = "no-store"
        return response, 200

    @bp.get("/openapi.json")
    def openapi() -> Response:
        return jsonify(document())

    return bp


def _secret(issued: devices.IssuedSecret) -> Response:
    response = jsonify(serial=issued.serial, secret=issued.secret)
    response.headers["Cache-Control"] = "no-store"
    return response
