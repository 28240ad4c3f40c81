"""The doors from outside: device alarms and external notifications (thin: authenticate,
hand the raw request to the service, answer).

``POST /api/devices/alarm``   signed by the device (docs/devices.md)       -> 202 / 200 repeat
``POST /api/notifications``   ``Authorization: Bearer <system key>`` (scope ``notifications``)
                                                                             -> 202 / 200 repeat
``GET  /api/notifications/<id>/progress``  supervisors and admins           -> counters

Errors answer ``{error_id, message}``: 400 malformed, 401 not authenticated, 403 a key
without the scope, 503 with
``Retry-After`` when the database did not take the write (nothing was stored: send again).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, jsonify, request

from checkins import alarms, notifications, progress
from checkins.context import CheckinContext
from checkins.errors import (
    AlarmMalformed,
    CheckinError,
    DeviceAuthFailed,
    NotificationAuthFailed,
    NotificationMalformed,
    ProvisioningConflict,
    ProvisioningMalformed,
    ScopeMissing,
    StoreUnavailable,
    UnknownBroadcast,
    UnknownRecord,
)
from web.guard import login_required

RETRY_AFTER_S = 5
_STATUS: dict[type[CheckinError], int] = {
    DeviceAuthFailed: 401,
    NotificationAuthFailed: 401,
    ScopeMissing: 403,
    AlarmMalformed: 400,
    NotificationMalformed: 400,
    ProvisioningMalformed: 400,
    ProvisioningConflict: 409,
    StoreUnavailable: 503,
    UnknownBroadcast: 404,
    UnknownRecord: 404,
}


def error_answer(exc: CheckinError) -> tuple[Response, int]:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)
    response = jsonify(error_id=exc.error_id, message=exc.message)
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response, status


def api_key() -> str | None:
    """The key a system presented: ``Authorization: Bearer <key>`` or ``X-Amparo-Key``."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("X-Amparo-Key") or None


def checkins_api(context_of: Callable[[], CheckinContext]) -> Blueprint:
    """``context_of`` builds the context on first use, so the app starts while the database
    or Redis is still down."""
    bp = Blueprint("checkins_api", __name__, url_prefix="/api")

    @bp.errorhandler(CheckinError)
    def _refused(exc: CheckinError) -> tuple[Response, int]:
        return error_answer(exc)

    @bp.post("/devices/alarm")
    def device_alarm() -> tuple[Response, int]:
        receipt = alarms.receive(
            context_of(),
            alarms.SignedRequest(
                device_ref=request.headers.get("X-Amparo-Device"),
                timestamp=request.headers.get("X-Amparo-Timestamp"),
                signature=request.headers.get("X-Amparo-Signature"),
                body=request.get_data(cache=False),
                remote_addr=request.remote_addr,
            ),
        )
        return jsonify(receipt.body()), 200 if receipt.duplicate else 202

    @bp.post("/notifications")
    def notification() -> tuple[Response, int]:
        context = context_of()
        system_id = notifications.authenticate(context.sessions, api_key())
        receipt = notifications.receive(context, system_id, request.get_data(cache=False))
        return jsonify(receipt.body()), 200 if receipt.duplicate else 202

    @bp.get("/notifications/<notification_id>/progress")
    @login_required("supervisor", "admin")
    def notification_progress(notification_id: str) -> Response:
        report = progress.read(context_of().live, notification_id)
        if report is None:
            raise UnknownBroadcast("no progress for this notification")
        return jsonify(report)

    return bp
