"""One process placing outbound calls through the paced client (run by the CPS test).

Usage: python -m tests.integration.telephony.twilio.cps_caller API_URL REDIS_URL CALLS CPS OUT_FILE
Writes one line per call: the time its request left this process, and the CallSid.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from store import live_state
from telephony.twilio.calls import TwilioCalls
from telephony.twilio.client import TwilioVoice
from telephony.twilio.links import Links
from telephony.twilio.rate_limit import OutboundPacer
from tests.harness.twilio_driver import ACCOUNT_SID, AUTH_TOKEN


class TimedHttpClient(TwilioHttpClient):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.sent_at: list[float] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        self.sent_at.append(time.time())
        return super().request(method, url, *args, **kwargs)


def main(api_url: str, redis_url: str, calls: int, cps: float, out: Path) -> None:
    http = TimedHttpClient()
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
    client.api.base_url = api_url
    live = live_state.connect(redis_url)
    voice = TwilioVoice(
        client,
        Links("https://hotline.example.org"),
        TwilioCalls(live, None),  # type: ignore[arg-type]
        pacer=OutboundPacer(live, cps),
        neutral_caller_id="+34900000100",
    )
    lines = []
    for index in range(calls):
        sid = voice.place_checkin_call(f"{out.stem}{index:04d}", "+34600000000")
        lines.append(f"{http.sent_at[-1]:.6f} {sid}")
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5]))
