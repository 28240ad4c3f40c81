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

from checkins.context import CheckinContext
from checkins.errors import StoreUnavailable
from checkins.sms_alarms import receive_text
from telephony.twilio.signatures import SignatureCheck

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def twilio_sms_blueprint(
    context_of: Callable[[], CheckinContext], auth_token: str, public_base_url: str
) -> Blueprint:
    bp = Blueprint("twilio_sms", __name__, url_prefix="/twilio/sms")
    signatures = SignatureCheck(auth_token, public_base_url)

    @bp.post("/incoming")
    def incoming() -> Response:
        if not signatures.valid(request):
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
