"""``POST /twilio/sms/incoming``: a text to the line from a device or a registered beneficiary
is an alarm (``checkins.sms_alarms``).

Every request's ``X-Twilio-Signature`` is checked against ``AMPARO_PUBLIC_BASE_URL`` + path
(403 otherwise). The answer is always an empty ``<Response/>``: nothing is ever texted back, so
nothing on her phone names the service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, abort, request
from twilio.request_validator import RequestValidator

from checkins.context import CheckinContext
from checkins.errors import StoreUnavailable
from checkins.sms_alarms import receive_text

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def signed_url(public_base_url: str) -> str:
    """The URL Twilio signed: the public base URL, the path, and the query string if any."""
    query = request.query_string.decode()
    return public_base_url.rstrip("/") + request.path + (f"?{query}" if query else "")


def twilio_sms_blueprint(
    context_of: Callable[[], CheckinContext], auth_token: str, public_base_url: str
) -> Blueprint:
    bp = Blueprint("twilio_sms", __name__, url_prefix="/twilio/sms")
    validator = RequestValidator(auth_token)

    @bp.post("/incoming")
    def incoming() -> Response:
        signature = request.headers.get("X-Twilio-Signature", "")
        if not validator.validate(signed_url(public_base_url), request.form.to_dict(), signature):
            abort(403)
        message_id = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
        if not message_id:
            return Response(EMPTY_TWIML, mimetype="text/xml")
        try:
            receipt = receive_text(
                context_of(),
                message_id=message_id,
                from_number=request.form.get("From"),
                text=request.form.get("Body", ""),
                remote_addr=request.remote_addr,
            )
        except StoreUnavailable:
            log.error("text %s: alarm store unavailable; Twilio is asked to retry", message_id)
            return Response(EMPTY_TWIML, status=503, mimetype="text/xml")
        if receipt is not None:
            log.info("text %s stored as alarm %s", message_id, receipt.stored_id)
        return Response(EMPTY_TWIML, mimetype="text/xml")

    return bp
