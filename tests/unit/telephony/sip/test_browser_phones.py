"""Credentials for agents' browsers on Kamailio's registrar (auth_ephemeral, SHA-256)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from telephony.sip.browser_phones import BrowserPhoneRegistrar, registered_contact

SECRET = "a-secret-shared-with-kamailio-0123456789abcdef"


def test_the_username_is_the_expiry_and_her_id_and_the_password_its_hmac() -> None:
    registrar = BrowserPhoneRegistrar("wss://sip.example.org:8443", SECRET, 600, clock=lambda: 1000)

    issued = registrar.issue("agent-7")

    assert issued.username == "1600:agent-7"
    expected = hmac.new(SECRET.encode(), b"1600:agent-7", hashlib.sha256).digest()
    assert base64.b64decode(issued.password) == expected
    assert issued.uri == "sip:agent-7@sip.example.org"
    assert issued.ws_url == "wss://sip.example.org:8443"
    assert issued.expires_in == 600


def test_another_secret_gives_another_password() -> None:
    one = BrowserPhoneRegistrar("ws://127.0.0.1:8080", SECRET, 600, clock=lambda: 1000)
    other = BrowserPhoneRegistrar("ws://127.0.0.1:8080", SECRET + "x", 600, clock=lambda: 1000)

    assert one.issue("a").password != other.issue("a").password


def test_the_sip_process_calls_her_browser_through_the_registrar() -> None:
    assert registered_contact("agent-7", "10.0.0.5:5060") == "sip:agent-7@10.0.0.5:5060"
