"""Fill one pjsua2 Endpoint with calls to itself; print what happened as JSON.

Run as a child process by test_engine.py: pjsua2 allows one Endpoint per process, and a crash in
native code must fail a test, not kill the pytest session. Each loopback call occupies two slots
of pjsua's call table (the outgoing leg and the answered incoming leg), two conference bridge
ports and two RTP/RTCP socket pairs, so N calls need 2N call slots and 4N ioqueue sockets: far
past pjproject's stock limits (4 calls, 254 bridge ports, 64 ioqueue handles) for N = 256.

The Endpoint asks for far more calls than compiled (``UaConfig.maxCalls``); pjsua clamps that to
``PJSUA_MAX_CALLS``, so once the N calls are up, one more is tried and must be refused exactly
when 2N reached the compiled capacity.

    python tests/integration/telephony/sip/loopback_calls.py N
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

SETTLE_SECONDS = 20.0
ASKED_MAX_CALLS = 100_000
SOCKETS_NEEDED = 8192


class LoopbackCall(pj.Call):  # type: ignore[misc]
    """Remembers how the call went; pjsua2 calls these methods from libHandleEvents."""

    def __init__(self, account: pj.Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.confirmed = False
        self.disconnected = False
        self.media_active = False
        self.final_status: int | None = None

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = True
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True
            self.final_status = int(info.lastStatusCode)

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()  # held: the media vector points into it
        for media in info.media:
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.media_active = True


class AnsweringAccount(pj.Account):  # type: ignore[misc]
    """Answers every incoming call with 200 OK."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[LoopbackCall] = []

    def onIncomingCall(self, prm: Any) -> None:
        call = LoopbackCall(self, prm.callId)
        self.calls.append(call)
        answer = audio_only(pj.CallOpParam(True))
        answer.statusCode = 200
        call.answer(answer)


def audio_only(param: pj.CallOpParam) -> pj.CallOpParam:
    """No real-time text stream: pjproject 2.17 offers one per call by default, each with a
    clock thread of its own whose stop blocks the event loop for up to 300 ms at hangup."""
    param.opt.textCount = 0
    return param


def account_config(user: str, sip_address: str) -> pj.AccountConfig:
    config = pj.AccountConfig()
    config.idUri = f"sip:{user}@{sip_address}"
    config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    config.mediaConfig.transportConfig.port = 0
    config.mediaConfig.transportConfig.portRange = 0
    return config


def start_endpoint() -> tuple[pj.Endpoint, str]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < SOCKETS_NEEDED:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(SOCKETS_NEEDED, hard), hard))
    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.maxCalls = ASKED_MAX_CALLS
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.logConfig.level = 1
    config.logConfig.consoleLevel = 1
    config.medConfig.clockRate = 8000
    config.medConfig.sndClockRate = 8000
    endpoint.libInit(config)
    endpoint.audDevManager().setNullDev()
    transport_config = pj.TransportConfig()
    transport_config.boundAddress = "127.0.0.1"
    transport_config.port = 0
    transport = endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport_config)
    endpoint.libStart()
    return endpoint, endpoint.transportGetInfo(transport).localName


def pump_until(endpoint: pj.Endpoint, done: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        endpoint.libHandleEvents(20)


def place_calls(caller: pj.Account, target: str, count: int) -> list[LoopbackCall]:
    calls = [LoopbackCall(caller) for _ in range(count)]
    for call in calls:
        call.makeCall(target, audio_only(pj.CallOpParam(True)))
    return calls


def one_more_is_refused(caller: pj.Account, target: str) -> tuple[bool, list[LoopbackCall]]:
    extra = LoopbackCall(caller)
    try:
        extra.makeCall(target, audio_only(pj.CallOpParam(True)))
    except pj.Error:
        return True, []
    return False, [extra]


def hang_up(endpoint: pj.Endpoint, outgoing: list[LoopbackCall], legs: list[LoopbackCall]) -> None:
    # The caller hangs up; hanging up both legs at once crosses two BYEs in one dialog.
    for call in outgoing:
        if not call.disconnected:
            call.hangup(pj.CallOpParam(True))
    pump_until(endpoint, lambda: all(leg.disconnected for leg in legs), SETTLE_SECONDS)


def run(count: int) -> dict[str, Any]:
    endpoint, sip_address = start_endpoint()
    callee = AnsweringAccount()
    callee.create(account_config("callee", sip_address))
    caller = pj.Account()
    caller.create(account_config("caller", sip_address))
    target = f"sip:callee@{sip_address}"

    started = time.monotonic()
    outgoing = place_calls(caller, target, count)

    def all_settled() -> bool:
        legs = outgoing + callee.calls
        return len(callee.calls) == count and all(
            (leg.confirmed and leg.media_active) or leg.disconnected for leg in legs
        )

    pump_until(endpoint, all_settled, SETTLE_SECONDS)
    settled_after = time.monotonic() - started
    legs = outgoing + callee.calls
    result: dict[str, Any] = {
        "pj_version": endpoint.libVersion().full,
        "requested": count,
        "outgoing_confirmed": sum(call.confirmed for call in outgoing),
        "incoming_confirmed": sum(call.confirmed for call in callee.calls),
        "confirmed_at_once": sum(leg.confirmed and not leg.disconnected for leg in legs),
        "media_active": sum(leg.media_active for leg in legs),
        "failed_statuses": sorted(
            {leg.final_status for leg in legs if leg.final_status is not None}
        ),
        "settled_seconds": round(settled_after, 2),
    }
    result["one_more_refused"], extra = one_more_is_refused(caller, target)
    outgoing += extra
    legs = outgoing + callee.calls

    hang_up(endpoint, outgoing, legs)
    result["hung_up"] = sum(leg.disconnected for leg in legs)
    # Every Call object must be gone before libDestroy: its destructor calls into pjsua.
    legs.clear()
    outgoing.clear()
    extra.clear()
    callee.calls.clear()
    callee.shutdown()
    caller.shutdown()
    endpoint.libDestroy()
    return result


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]))), flush=True)
