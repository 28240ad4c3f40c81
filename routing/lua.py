"""Loading the Lua transitions and calling them.

Each script is the shared library (``lib_*.lua``) followed by one operation's body, registered
with redis-py (EVALSHA, reloaded automatically after a server restart). A script gets the key
prefix, ``now`` (rounded to the millisecond so Lua's 14-digit number formatting stays exact),
the router-wide settings and the operation's arguments, and answers one JSON document:
``{"status", "result", "events"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import redis

from routing.state import PREFIX, RoutingEvent, Transition

LIBRARY = ("lib_core.lua", "lib_calls.lua", "lib_ladder.lua")
OPERATIONS = (
    "enqueue",
    "accept",
    "reject",
    "hangup",
    "take",
    "agent_state",
    "register_agent",
    "raise_priority",
    "escalate",
    "acknowledge",
    "close_escalation",
    "sweep",
    "outbox_claim",
)


@cache
def script_source(operation: str) -> str:
    folder = resources.files("routing") / "scripts"
    parts = [(folder / name).read_text(encoding="utf-8") for name in LIBRARY]
    parts.append((folder / f"{operation}.lua").read_text(encoding="utf-8"))
    return "\n".join(parts)


def wire_time(now: float) -> str:
    return f"{now:.3f}"


@dataclass(frozen=True)
class ScriptReply:
    status: str
    result: dict[str, Any]
    events: tuple[RoutingEvent, ...]

    def transition(self) -> Transition:
        return Transition(self.status, self.events, MappingProxyType(self.result))


class ScriptRunner:
    def __init__(self, client: redis.Redis, settings: dict[str, Any]) -> None:
        self._settings = json.dumps(settings, separators=(",", ":"))
        self._scripts = {name: client.register_script(script_source(name)) for name in OPERATIONS}

    def run(self, operation: str, now: float, args: dict[str, Any]) -> ScriptReply:
        raw = self._scripts[operation](
            keys=[PREFIX],
            args=[wire_time(now), self._settings, json.dumps(args, separators=(",", ":"))],
        )
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        reply = json.loads(text)
        events = reply.get("events") or []
        result = reply.get("result") or {}
        return ScriptReply(
            status=str(reply["status"]),
            result=dict(result) if isinstance(result, dict) else {},
            events=tuple(RoutingEvent.from_wire(event) for event in events),
        )
