"""A supervisor on a live call, from the wallboard: listen, whisper or barge, change mode,
and leave. The call's live hash keeps each supervisor's current mode (``supervisor:<id>``) so
the wallboard shows it after any reload; the edge clears it when her leg ends on its own."""

from __future__ import annotations

from collections.abc import Mapping

from agent_console.calls import LIVE_STATUSES, on_the_edge
from agent_console.ports import ConsoleError, ConsolePorts
from calls.control import CallBridge, supervisor_field
from store import audit
from store.live_state import key
from store.records import Call
from store.vocabulary import AgentRole


def supervision_modes(live_call: Mapping[str, str]) -> dict[str, str]:
    """Who supervises a call now, and in which mode (supervisor id -> mode), from its live
    hash."""
    prefix = supervisor_field("")
    return {
        name[len(prefix) :]: mode for name, mode in live_call.items() if name.startswith(prefix)
    }


class Supervision:
    def __init__(self, ports: ConsolePorts) -> None:
        self._ports = ports

    def _live_call(self, call_id: str, role: str) -> CallBridge:
        if role not in (AgentRole.SUPERVISOR, AgentRole.ADMIN):
            raise ConsoleError("console.forbidden", "supervisors only", 403)
        with self._ports.sessions() as db:
            call = db.get(Call, call_id)
        if call is None or call.status not in LIVE_STATUSES:
            raise ConsoleError("console.not_live", "the call is not live", 409)
        bridge = self._ports.control().bridge_for(call_id, call.channel)
        if bridge is None:
            raise ConsoleError("console.no_bridge", "this call's channel has no bridge", 409)
        return bridge

    def supervise(self, call_id: str, supervisor_id: str, role: str, mode: str) -> None:
        """Join in ``mode``, or change to it (she is never dialled twice into one call)."""
        bridge = self._live_call(call_id, role)
        on_the_edge(lambda: bridge.supervise(call_id, supervisor_id, mode), call_id, "supervise")
        self._ports.live.hset(key("call", call_id), supervisor_field(supervisor_id), mode)
        self._record(call_id, supervisor_id, f"call_{mode}", "supervised", {"mode": mode})

    def leave(self, call_id: str, supervisor_id: str, role: str) -> None:
        """Her leg ends; caller and agent go on. Leaving a call she is not on does nothing."""
        bridge = self._live_call(call_id, role)
        field = supervisor_field(supervisor_id)
        if not self._ports.live.hexists(key("call", call_id), field):
            return
        on_the_edge(
            lambda: bridge.stop_supervising(call_id, supervisor_id), call_id, "stop_supervising"
        )
        self._ports.live.hdel(key("call", call_id), field)
        self._record(call_id, supervisor_id, "call_leave", "supervision_left", {})

    def _record(
        self, call_id: str, supervisor_id: str, action: str, kind: str, data: dict[str, str]
    ) -> None:
        with self._ports.sessions() as db, db.begin():
            audit.record(
                db,
                actor_type="agent",
                actor_id=supervisor_id,
                action=action,
                subject_type="call",
                subject_id=call_id,
            )
        self._ports.call_log.append(call_id, kind, {"supervisor_id": supervisor_id, **data})
