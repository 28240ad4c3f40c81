"""One request from Twilio, as the webhook handlers (``services``, ``console_legs``) read it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from calls.switchboard import call_id_for
from store.vocabulary import Channel


@dataclass(frozen=True)
class Webhook:
    """One request from Twilio: its form parameters, its (signed) query and retry token."""

    form: Mapping[str, str]
    args: Mapping[str, str]
    idempotency_token: str | None = None

    @property
    def call_sid(self) -> str:
        sid = self.form.get("CallSid", "")
        if not sid:
            raise ValueError("webhook without a CallSid")
        return sid

    @property
    def call_id(self) -> str:
        """Our call id: carried in every URL we hand out, else derived from the CallSid."""
        return self.args.get("call") or call_id_for(Channel.TWILIO, self.call_sid)

    def token_key(self, name: str) -> str:
        """An idempotency key from Twilio's retry token (else the CallSid and ``name``)."""
        if self.idempotency_token:
            digest = hashlib.sha256(self.idempotency_token.encode()).hexdigest()[:40]
            return f"twilio:token:{digest}"
        return f"twilio:{self.call_sid}:{name}"
