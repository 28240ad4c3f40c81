"""JSON API of the caller simulator (``/simulator/api``); the page at ``/simulator`` uses it.

It places calls into the lines and presses devices' panic buttons, so every route needs a
signed-in person, and it is on only with ``AMPARO_SIMULATOR=on`` or on the embedded default
bound to loopback (``settings.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, jsonify

from telephony.simulator.phone import SimulatedCall, SimulatedPhones, UnknownSimulatedCall
from web.bodies import json_object
from web.csrf import check_csrf
from web.guard import login_required


def _view(call: SimulatedCall) -> Response:
    data = {
        "call_id": call.call_id,
        "status": call.status.value,
        "locale": call.locale,
        "lines": [line.__dict__ for line in call.lines],
        "awaiting_digits": call.awaiting_digits,
        "secret_input": call.secret_input,
        "timeout_s": call.timeout_s,
    }
    return jsonify(data)


def simulator_api(phones_of: Callable[[], SimulatedPhones]) -> Blueprint:
    """``phones_of`` builds the phones on first use, so the app starts while the database or
    Redis is still down (readiness says so)."""
    bp = Blueprint("simulator_api", __name__, url_prefix="/simulator/api")

    @bp.errorhandler(UnknownSimulatedCall)
    def _unknown(_exc: UnknownSimulatedCall) -> tuple[Response, int]:
        return jsonify(error_id="simulator_unknown_call", message="no such simulated call"), 404

    @bp.post("/calls")
    @login_required()
    def dial() -> Response:
        check_csrf()
        body = json_object(or_form=True)
        line_number = str(body.get("line") or "").strip()
        if not line_number:
            abort(400, description="'line' (the number to dial) is required")
        return _view(phones_of().dial(line_number, str(body.get("from") or "").strip() or None))

    @bp.get("/calls/<call_id>")
    @login_required()
    def show(call_id: str) -> Response:
        return _view(phones_of().current(call_id))

    @bp.post("/calls/<call_id>/keys")
    @login_required()
    def keys(call_id: str) -> Response:
        check_csrf()
        digits = str(json_object(or_form=True).get("digits") or "")
        if not digits or any(c not in "0123456789*#" for c in digits) or len(digits) > 16:
            abort(400, description="'digits' must be 1-16 of 0-9 * #")
        return _view(phones_of().press(call_id, digits))

    @bp.post("/calls/<call_id>/silence")
    @login_required()
    def silence(call_id: str) -> Response:
        check_csrf()
        return _view(phones_of().stay_silent(call_id))

    @bp.post("/calls/<call_id>/hangup")
    @login_required()
    def hangup(call_id: str) -> Response:
        check_csrf()
        return _view(phones_of().hang_up(call_id))

    @bp.get("/ringing")
    @login_required()
    def ringing() -> Response:
        return jsonify(calls=phones_of().ringing())

    @bp.post("/calls/<call_id>/answer")
    @login_required()
    def answer(call_id: str) -> Response:
        check_csrf()
        body = json_object(or_form=True)
        machine = str(body.get("machine") or "").lower() in {"1", "true", "yes"}
        return _view(phones_of().answer(call_id, machine=machine))

    return bp
