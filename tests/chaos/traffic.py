"""Traffic for a chaos run: callers phoning through the Twilio webhooks, as Twilio drives them,
and agents answering from the console API, each on its own thread.

A caller picks Spanish, answers the screen calmly and waits on hold (fetching the wait URL each
second) until an agent takes her (our REST update moves her live call, which the driver plays
as the queue's ``redirected``) or she is sent to the overflow; she talks for two seconds and
hangs up, once the fault is over (a caller on the overflow line stays there through it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from calls.switchboard import call_id_for
from runtime import Runtime
from store.vocabulary import Channel
from tests.harness.consoles import ConsoleOverHttp
from tests.harness.twilio_driver import DrivenCall, TwilioDriver
from tests.integration.agent_console.console_helpers import SignedIn

CALM = ("1", "1", "2", "2", "2", "2")
TALK_S = 2.0
AGENT_TALK_S = 4.0
STATUS_URL = "/twilio/voice/status#rc=5&rp=all&ct=2000&rt=5000&tt=15000"
"""The number's status callback as the README configures it: Twilio retries a failed one."""


@dataclass
class CallerResult:
    sid: str
    call_id: str
    outcome: str = "none"  # human, overflow, or what went wrong
    dialled: list[str] = field(default_factory=list)
    error: str | None = None


def _taken(runtime: Runtime, call_id: str) -> bool:
    """An agent took her: our bridge moved her live call into its conference."""
    return bool(runtime.twilio_calls.get(call_id, "bridge"))


def run_caller(
    twilio: Callable[[], TwilioDriver],
    runtime: Runtime,
    line_number: str,
    number: str,
    fault_over: threading.Event,
    result: CallerResult,
) -> None:
    driver = twilio()
    call: DrivenCall | None = None
    try:
        call = driver.call(line_number, number, status_url=driver.url(STATUS_URL))
        result.sid = call.sid
        result.call_id = call_id_for(Channel.TWILIO, call.sid)
        for digit in CALM:
            if call.where != "gather":
                break
            call.press(digit)
        deadline = time.monotonic() + 120
        while call.where == "queued" and time.monotonic() < deadline:
            try:
                if _taken(runtime, result.call_id):
                    call.redirected()
                    break
            except Exception:  # noqa: S110 - Redis down: the wait URL answers for itself
                pass
            call.hold()
            time.sleep(1.0)
        result.dialled = list(call.dialled)
        result.outcome = {"conference": "human", "dialing": "overflow"}.get(call.where, call.where)
        time.sleep(TALK_S)
        fault_over.wait(120)
        call.hangup()
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"


def run_agent(agent: SignedIn | ConsoleOverHttp, stop: threading.Event, handled: list[str]) -> None:
    """Her console: the presence heartbeat, offers accepted, each call ended after a while."""
    last_beat = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() - last_beat >= 2.0:
                agent.post("/console/api/presence", {"state": "available"})
                last_beat = time.monotonic()
            me = agent.get("/console/api/me")
            body = me.get_json(silent=True) or {} if me.status_code == 200 else {}
            if body.get("offer"):
                agent.post(f"/console/api/offers/{body['offer']['call']}/accept")
            elif body.get("call_id"):
                call_id = str(body["call_id"])
                time.sleep(AGENT_TALK_S)
                ended = agent.post(
                    f"/console/api/calls/{call_id}/end", {"disposition": "information"}
                )
                if ended.status_code == 200:
                    handled.append(call_id)
            elif body.get("state") == "offline":
                agent.post("/console/api/state", {"state": "available"})
        except Exception:  # noqa: S110 - a fault: her console tries again
            pass
        stop.wait(0.3)
