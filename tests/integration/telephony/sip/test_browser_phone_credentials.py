"""``POST /console/api/sip-credentials``: the signed-in person's ephemeral credentials for
Kamailio's registrar, only in SIP mode with a browser phone, never cached, behind CSRF."""

from __future__ import annotations

import pytest

from app import create_app
from runtime import Runtime, build_runtime
from settings import ConfigurationError, Settings, load_settings
from tests.harness.hotline import Hotline
from tests.harness.signin import sign_in

WS_URL = "wss://sip.example.org:8443"
SECRET = "a-secret-shared-with-kamailio-0123456789abcdef"


def test_a_signed_in_agent_gets_credentials_for_her_own_sip_address(
    settings: Settings, hotline: Hotline
) -> None:
    runtime = build_runtime(settings.with_overrides(webrtc_ws_url=WS_URL, webrtc_secret=SECRET))
    try:
        app = create_app(runtime=runtime)
        agent = hotline.agents["ana"]
        client = app.test_client()
        assert client.post("/console/api/sip-credentials").status_code == 401
        csrf = sign_in(client, runtime.sessions, agent)
        assert client.post("/console/api/sip-credentials").status_code == 400

        reply = client.post("/console/api/sip-credentials", headers={"X-CSRF-Token": csrf})

        assert reply.status_code == 200
        body = reply.json
        assert body is not None
        assert body["uri"] == f"sip:{agent}@sip.example.org"
        assert body["username"].endswith(f":{agent}")
        assert body["ws_url"] == WS_URL
        assert "no-store" in reply.headers["Cache-Control"]
        page = client.get("/console")
        assert b"vendor/jssip.min.js" in page.data and b"browser-phone" in page.data
        assert WS_URL in page.headers["Content-Security-Policy"]
    finally:
        runtime.close()


def test_without_a_browser_phone_there_are_no_sip_credentials(
    runtime: Runtime, hotline: Hotline
) -> None:
    app = create_app(runtime=runtime)
    client = app.test_client()
    csrf = sign_in(client, runtime.sessions, hotline.agents["ana"])

    reply = client.post("/console/api/sip-credentials", headers={"X-CSRF-Token": csrf})

    assert reply.status_code == 404
    assert b"jssip" not in client.get("/console").data


def test_a_websocket_url_needs_a_long_secret(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match="AMPARO_WEBRTC_SECRET"):
        load_settings(
            {
                "AMPARO_DATA_DIR": str(tmp_path),
                "AMPARO_WEBRTC_WS_URL": WS_URL,
                "AMPARO_WEBRTC_SECRET": "short",
            }
        )
