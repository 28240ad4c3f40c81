"""Cancel while it rings, over Twilio (the real ``twilio`` client on Prism): the agent's call
to a service, still ringing, is cancelled with the Calls API (``Status=canceled``); when Twilio
says the far end picked up in the meantime, the call is completed too (her cancel won: nobody
waits for the far end on it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from twilio.http.response import Response as TwilioResponse

from agent_console.calls import CallDesk
from agent_console.placing import cancel_call, place_call
from routing import AgentState
from runtime import Runtime
from store.callbacks import Callback, CallbackStatus
from tests.harness.callbacks import no_open_callbacks  # noqa: F401  (autouse)
from tests.harness.hotline import Hotline, add_shelter, staff_line
from tests.harness.prism import PrismMock
from tests.integration.telephony.twilio.conftest import ACCOUNT, REJECTED, NotingHttpClient

SERVICE = "+34910000055"


class AnsweredMeanwhile(NotingHttpClient):
    """Twilio's answer to a cancel when the far end has just picked up: still in progress."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        response = super().request(method, url, *args, **kwargs)
        if (kwargs.get("data") or {}).get("Status") == "canceled":
            body = json.loads(response.text)
            body["status"] = "in-progress"
            response = TwilioResponse(response.status_code, json.dumps(body), response.headers)
        return response


@pytest.fixture
def placed(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline
) -> Iterator[tuple[Runtime, str]]:
    """Ana's call to a service of the directory, ringing at Twilio: the runtime and call id."""
    runtime, _http = rest_runtime
    staff_line(runtime.router, hotline, "ana")
    ana = hotline.agents["ana"]
    runtime.router.set_agent_state(ana, AgentState.AVAILABLE, time.time())
    resource_id = add_shelter(runtime.sessions, hotline.line_id, SERVICE)
    ports = runtime.console_ports
    answer = place_call(CallDesk(ports), ports, ana, {"resource_id": resource_id})
    assert answer["dialing"] is True
    yield runtime, str(answer["call_id"])


def _updates(http: NotingHttpClient) -> list[tuple[str, list[str]]]:
    """The Calls API updates sent: (path, Status)."""
    prefix = f"{ACCOUNT}/Calls/"
    return [
        (path, form.get("Status", []))
        for method, path, form, _status in http.sent
        if method == "POST" and path.startswith(prefix) and path != f"{prefix[:-1]}.json"
    ]


def _task(runtime: Runtime, call_id: str) -> Callback:
    with runtime.sessions() as db:
        row = db.scalar(select(Callback).where(Callback.source_call_id == call_id))
        assert row is not None
        return row


def test_a_ringing_call_she_placed_is_cancelled_at_twilio(
    placed: tuple[Runtime, str],
    rest_runtime: tuple[Runtime, NotingHttpClient],
    hotline: Hotline,
    prism: PrismMock,
) -> None:
    runtime, call_id = placed
    _runtime, http = rest_runtime
    before = len(http.sent)

    answer = cancel_call(runtime.console_ports, hotline.agents["ana"], call_id)

    assert answer == {"call_id": call_id, "cancelled": True, "already": False}
    [(path, status)] = _updates(http)
    assert path.startswith(f"{ACCOUNT}/Calls/CA") and status == ["canceled"]
    assert len(http.sent) == before + 1, "Prism says it ended: nothing more to do"
    task = _task(runtime, call_id)
    assert (task.status, task.outcome) == (CallbackStatus.FAILED, "cancelled")
    assert REJECTED not in prism.log()


def test_answered_at_twilio_meanwhile_the_cancelled_call_is_completed(
    placed: tuple[Runtime, str],
    rest_runtime: tuple[Runtime, NotingHttpClient],
    hotline: Hotline,
    prism: PrismMock,
) -> None:
    runtime, call_id = placed
    answered = AnsweredMeanwhile()
    voice = runtime.twilio_voice
    assert voice is not None
    voice.client.http_client = answered

    cancel_call(runtime.console_ports, hotline.agents["ana"], call_id)

    [(path, first), (same, then)] = _updates(answered)
    assert (first, then) == (["canceled"], ["completed"])
    assert path == same
    assert REJECTED not in prism.log()


def test_a_check_in_still_open_is_left_up_once_answered(
    placed: tuple[Runtime, str], rest_runtime: tuple[Runtime, NotingHttpClient]
) -> None:
    """The edge's cancel alone (a ring timeout, the call not ended here): "canceled" only."""
    runtime, call_id = placed
    answered = AnsweredMeanwhile()
    voice = runtime.twilio_voice
    assert voice is not None
    voice.client.http_client = answered
    callbacks = runtime.callbacks

    callbacks.dialer.cancel(call_id)

    assert [status for _path, status in _updates(answered)] == [["canceled"]]
