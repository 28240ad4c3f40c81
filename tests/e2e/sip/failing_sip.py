"""``amparo sip`` whose switchboard fails to open calls: it raises, or it hangs past the turn
watchdog's deadline and answers late. Run as a child process by ``test_turn_fallback.py``
(through ``SipProcess``), configured by the same ``AMPARO_*`` environment as ``amparo sip``.

    python -m tests.e2e.sip.failing_sip raises|hangs
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import fields
from types import FrameType
from typing import Any

from calls.switchboard import Switchboard
from calls.turn import CallTurn
from runtime import build_runtime
from settings import load_settings
from telephony.sip.service import SipService
from telephony.sip.turns import TURN_TIMEOUT_S

LATE_BY_S = 3.0


class FailingSwitchboard(Switchboard):
    mode: str = "raises"

    def start(self, **call: Any) -> CallTurn:
        if self.mode == "raises":
            raise RuntimeError("the switchboard is down")
        time.sleep(TURN_TIMEOUT_S + LATE_BY_S)
        return super().start(**call)


def main(mode: str) -> None:
    settings = load_settings()
    runtime = build_runtime(settings)
    real = runtime.switchboard
    failing = FailingSwitchboard(
        **{f.name: getattr(real, f.name) for f in fields(Switchboard) if f.init}
    )
    failing.mode = mode
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service = SipService(
        settings,
        switchboard=failing,
        sessions=runtime.sessions,
        live=runtime.redis,
        call_log=runtime.call_log,
    )
    try:
        service.start()
        while not stop.wait(0.5) and service.engine.running:
            pass
        service.stop(drain_s=settings.sip_drain_s)
    finally:
        runtime.close()


if __name__ == "__main__":
    main(sys.argv[1])
