"""The console's way to its browser phone in SIP mode: ``POST /console/api/sip-credentials``
hands the signed-in person ephemeral credentials for Kamailio's registrar
(``browser_phones.py``)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from werkzeug.wrappers import Response

from telephony.sip.browser_phones import BrowserPhoneRegistrar
from web.csrf import check_csrf
from web.guard import login_required

SIP_CREDENTIALS_PATH = "/console/api/sip-credentials"


def browser_phone_blueprint(registrar: BrowserPhoneRegistrar) -> Blueprint:
    bp = Blueprint("sip_browser_phone", __name__)

    @bp.post(SIP_CREDENTIALS_PATH)
    @login_required()
    def sip_credentials() -> Response:
        check_csrf()
        issued = registrar.issue(str(g.agent_id))
        response = jsonify(
            ws_url=issued.ws_url,
            uri=issued.uri,
            username=issued.username,
            password=issued.password,
            expires_in=issued.expires_in,
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    return bp
