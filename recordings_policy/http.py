"""The console's door to recordings (thin: permission, parse, call the service, answer).

``POST /recordings/<id>/access``  reason + CSRF -> a single-use stream URL valid five minutes
``GET  /recordings/stream/<token>``  the audio (audio/wav), once, to the person it was granted to
``POST /recordings/<id>/hold`` and ``/release``  reason + CSRF -> legal hold on or off

Agents are refused (403) by the services, which audit the refusal; every answer is ``no-store``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, g, jsonify, request, url_for
from werkzeug.wrappers import Response

from recordings_policy.access import AccessTokens, RecordingAccess
from recordings_policy.errors import (
    AccessDenied,
    ReasonRequired,
    RecordingError,
    RecordingNotFound,
    RecordingNotStored,
    RecordingPurged,
)
from recordings_policy.services import RecordingArchive
from web.csrf import check_csrf
from web.guard import login_required

_RECORDING_ID = re.compile(r"^[0-9a-f]{32}$")
_STATUS: dict[type[RecordingError], int] = {
    AccessDenied: 403,
    ReasonRequired: 400,
    RecordingNotFound: 404,
    RecordingPurged: 410,
    RecordingNotStored: 409,
}
_PRIVATE = {
    "Cache-Control": "no-store, private",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def recordings_blueprint(
    archive: RecordingArchive, access: RecordingAccess, tokens: AccessTokens
) -> Blueprint:
    bp = Blueprint("recordings", __name__, url_prefix="/recordings")

    @bp.errorhandler(RecordingError)
    def _domain_error(exc: RecordingError) -> tuple[Response, int]:
        status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)
        response = jsonify({"error_id": exc.error_id, "message": exc.message})
        response.headers.update(_PRIVATE)
        return response, status

    @bp.post("/<recording_id>/access")
    @login_required()
    def grant_access(recording_id: str) -> Response:
        check_csrf()
        _known_shape(recording_id)
        grant = access.grant(
            recording_id, actor_id=g.agent_id, role=g.role, reason=request.form.get("reason")
        )
        token = tokens.issue(grant)
        return _private_json(
            {
                "recording_id": recording_id,
                "stream_url": url_for(".stream", token=token),
                "expires_in": tokens.ttl_seconds,
                "single_use": True,
            }
        )

    @bp.get("/stream/<token>")
    @login_required()
    def stream(token: str) -> Response:
        grant = tokens.redeem(token)
        if grant is None:
            abort(404)
        playback = access.stream_granted(grant, actor_id=g.agent_id, role=g.role)
        response = Response(playback.chunks, mimetype="audio/wav", direct_passthrough=True)
        response.headers.update(_PRIVATE)
        response.headers["Content-Disposition"] = 'inline; filename="recording.wav"'
        if playback.size_bytes is not None:
            response.headers["Content-Length"] = str(playback.size_bytes)
        return response

    @bp.post("/<recording_id>/hold")
    @login_required()
    def hold(recording_id: str) -> Response:
        check_csrf()
        _known_shape(recording_id)
        archive.place_hold(
            recording_id, actor_id=g.agent_id, role=g.role, reason=request.form.get("reason")
        )
        return _private_json({"recording_id": recording_id, "legal_hold": True})

    @bp.post("/<recording_id>/release")
    @login_required()
    def release(recording_id: str) -> Response:
        check_csrf()
        _known_shape(recording_id)
        archive.release_hold(
            recording_id, actor_id=g.agent_id, role=g.role, reason=request.form.get("reason")
        )
        return _private_json({"recording_id": recording_id, "legal_hold": False})

    return bp


def _known_shape(recording_id: str) -> None:
    if not _RECORDING_ID.match(recording_id):
        abort(404)


def _private_json(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.headers.update(_PRIVATE)
    return response
