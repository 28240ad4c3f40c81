"""Is this request really from Twilio? ``X-Twilio-Signature`` checked with twilio's own
``RequestValidator``.

Twilio signs the URL it requested, which is the public URL (``AMPARO_PUBLIC_BASE_URL``), not
the one this process sees behind proxies and load balancers; so the URL is rebuilt from the
public base URL and the request's path and query. Form posts are signed over their
parameters; JSON posts carry the SHA-256 of the body as ``bodySHA256`` in the signed URL.

Callback URLs end in Twilio's connection overrides, a fragment no request carries: a signature
over the URL with that fragment (exactly ours, nothing else) is accepted as well as one over
the URL without it.
"""

from __future__ import annotations

import logging
import threading

from flask import Request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from telephony.twilio.links import CALLBACK_OVERRIDES

log = logging.getLogger(__name__)


class SignatureCheck:
    def __init__(self, auth_token: str | None, public_base_url: str) -> None:
        self._validator = RequestValidator(auth_token) if auth_token else None
        self._base = public_base_url.rstrip("/")
        self._warned = threading.Event()

    @property
    def configured(self) -> bool:
        return self._validator is not None

    def public_url(self, request: Request) -> str:
        query = request.query_string.decode("latin-1")
        return f"{self._base}{request.path}" + (f"?{query}" if query else "")

    def valid(self, request: Request) -> bool:
        """True only for a request signed with our auth token over its public URL and body."""
        if self._validator is None:
            if not self._warned.is_set():
                self._warned.set()
                log.error("AMPARO_TWILIO_AUTH_TOKEN is not set: every Twilio webhook is refused")
            return False
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            return False
        url = self.public_url(request)
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
        if request.is_json:
            if "bodySHA256" not in request.args:
                return False
            signed: object = request.get_data(as_text=True)
        else:
            signed = request.form
        return any(
            self._validator.validate(candidate, signed, signature, algorithm)
            for candidate in (url, url + CALLBACK_OVERRIDES)
        )
