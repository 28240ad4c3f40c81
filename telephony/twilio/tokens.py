"""Softphone access tokens for agents: the browser's Twilio Voice SDK registers with one.

The identity is the agent's id (never a name), which is also how the bridge dials the agent
(``client:<agent id>``). Tokens are short-lived; the console asks for a new one before expiry.
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

TOKEN_TTL_S = 3600


class VoiceTokensUnavailable(Exception):
    error_id = "twilio_not_configured"


@dataclass(frozen=True)
class VoiceToken:
    token: str
    identity: str
    expires_in: int


@dataclass(frozen=True)
class VoiceTokens:
    account_sid: str | None
    api_key: str | None
    api_secret: str | None
    twiml_app_sid: str | None
    ttl_s: int = TOKEN_TTL_S

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.api_key and self.api_secret)

    def issue(self, agent_id: str) -> VoiceToken:
        """A token that lets ``agent_id``'s browser receive calls (and place them through the
        TwiML app when one is configured)."""
        if not (self.account_sid and self.api_key and self.api_secret):
            raise VoiceTokensUnavailable("Twilio API key not configured")
        token = AccessToken(
            self.account_sid, self.api_key, self.api_secret, identity=agent_id, ttl=self.ttl_s
        )
        token.add_grant(
            VoiceGrant(incoming_allow=True, outgoing_application_sid=self.twiml_app_sid)
        )
        jwt = token.to_jwt()
        return VoiceToken(
            token=jwt if isinstance(jwt, str) else jwt.decode(),
            identity=agent_id,
            expires_in=self.ttl_s,
        )
