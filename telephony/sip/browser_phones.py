"""Agents' browsers as SIP phones (JsSIP over WebSocket, through Kamailio and rtpengine).

No static SIP password ever sits in a browser: at sign-in the console asks for credentials
minted here for Kamailio's ``auth_ephemeral`` module, which shares ``AMPARO_WEBRTC_SECRET``.
The username is ``<expiry>:<agent id>`` (the module's username format 1) and the password is
``base64(HMAC-SHA256(secret, username))`` (its ``sha_algorithm`` 1), so Kamailio checks them
with no database and refuses them once the expiry has passed; ``autheph_check_from`` ties the
username to the From of the REGISTER, so an agent registers only as herself.

``amparo sip`` calls an agent with no fixed ``sip_uri`` at ``sip:<agent id>@<registrar>``;
Kamailio looks her registered browser up and relays the call over her WebSocket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class BrowserPhoneCredentials:
    """What the console's JsSIP needs to register: the WebSocket, her SIP address and the
    ephemeral username and password."""

    ws_url: str
    uri: str
    username: str
    password: str
    expires_in: int


class BrowserPhoneRegistrar:
    """Mints the short-lived credentials Kamailio's registrar accepts."""

    def __init__(
        self,
        ws_url: str,
        secret: str,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ws_url = ws_url
        self.domain = urlsplit(ws_url).hostname or "amparo.invalid"
        self._secret = secret.encode()
        self.ttl_s = ttl_s
        self._clock = clock

    def issue(self, agent_id: str) -> BrowserPhoneCredentials:
        expiry = int(self._clock()) + self.ttl_s
        username = f"{expiry}:{agent_id}"
        digest = hmac.new(self._secret, username.encode(), hashlib.sha256).digest()
        return BrowserPhoneCredentials(
            ws_url=self.ws_url,
            uri=f"sip:{agent_id}@{self.domain}",
            username=username,
            password=base64.b64encode(digest).decode(),
            expires_in=self.ttl_s,
        )


def registered_contact(agent_id: str, registrar: str) -> str:
    """Where ``amparo sip`` calls an agent who answers in her browser: Kamailio (``host:port``
    of ``AMPARO_WEBRTC_REGISTRAR``) finds her registration by the user part."""
    return f"sip:{agent_id}@{registrar}"
