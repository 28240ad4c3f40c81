"""The SIP processes' word on a call, for the reconciler (``calls.reconciler.CallPresence``).

Every ``amparo sip`` process lists the calls it holds in its heartbeat (``call_ids``, sampled
on its pjsua2 thread every 5 s). A call no live process lists is over: its process hung up, or
died with it (a SIP call's media lives in its process). With no live process heard from, or
one that does not list its calls, nothing is known: the call is left for the next pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from telephony.sip.commands import live_processes


@dataclass
class SipCallPresence:
    live: redis.Redis

    def is_over(self, call_id: str, external_id: str) -> bool | None:
        processes = live_processes(self.live)
        if not processes or any("call_ids" not in process for process in processes):
            return None
        return not any(call_id in process["call_ids"].split(",") for process in processes)
