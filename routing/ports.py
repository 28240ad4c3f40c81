"""What routing needs from the rest of the system, as small protocols.

app.py wires them: ``CallLog`` to the SQL call-event table, ``Notifier`` to the console's
server-sent events and the supervisors' alerts, ``CallControl`` to telephony (ring a team member,
redirect a call to its line's backup). The in-memory versions serve tests and simulations.

Delivery is at least once: an event whose delivery failed, or whose process died before
delivering it, is delivered again by the sweeper. ``data["event_id"]`` is unique and stable, so an
adapter can ignore repeats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class CallLog(Protocol):
    def append(self, call_id: str, kind: str, data: dict[str, Any], at: float) -> None: ...


class Notifier(Protocol):
    def offer_made(
        self, agent_id: str, call_id: str, expires_at: float, details: dict[str, Any]
    ) -> None: ...

    def offer_withdrawn(self, agent_id: str, call_id: str, reason: str) -> None: ...

    def notify_supervisors(self, kind: str, data: dict[str, Any]) -> None: ...


class CallControl(Protocol):
    """Telephony's side: routing decides, the adapter dials or redirects."""

    def ring(self, member_id: str, escalation_id: str, subject_id: str, tier: int) -> None: ...

    def stop_ringing(self, escalation_id: str) -> None: ...

    def overflow(self, call_id: str, target: str) -> None: ...

    def call_member(self, member_id: str, escalation_id: str) -> None:
        """Phone a team member who is off the console (or did not acknowledge in time)."""
        ...

    def dial_urgent_number(self, escalation_id: str) -> None:
        """Nobody on the whole ladder took it: call the line's urgent service."""
        ...


@dataclass
class MemoryCallLog:
    entries: list[tuple[str, str, dict[str, Any], float]] = field(default_factory=list)

    def append(self, call_id: str, kind: str, data: dict[str, Any], at: float) -> None:
        self.entries.append((call_id, kind, data, at))

    def kinds(self, call_id: str) -> list[str]:
        return [kind for cid, kind, _, _ in self.entries if cid == call_id]


@dataclass
class MemoryNotifier:
    offers: list[tuple[str, str, float]] = field(default_factory=list)
    withdrawals: list[tuple[str, str, str]] = field(default_factory=list)
    supervisor_alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def offer_made(
        self, agent_id: str, call_id: str, expires_at: float, details: dict[str, Any]
    ) -> None:
        self.offers.append((agent_id, call_id, expires_at))

    def offer_withdrawn(self, agent_id: str, call_id: str, reason: str) -> None:
        self.withdrawals.append((agent_id, call_id, reason))

    def notify_supervisors(self, kind: str, data: dict[str, Any]) -> None:
        self.supervisor_alerts.append((kind, data))


@dataclass
class MemoryCallControl:
    rings: list[tuple[str, str, int]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    overflows: list[tuple[str, str]] = field(default_factory=list)
    member_calls: list[tuple[str, str]] = field(default_factory=list)
    urgent_calls: list[str] = field(default_factory=list)

    def ring(self, member_id: str, escalation_id: str, subject_id: str, tier: int) -> None:
        self.rings.append((member_id, escalation_id, tier))

    def stop_ringing(self, escalation_id: str) -> None:
        self.stopped.append(escalation_id)

    def overflow(self, call_id: str, target: str) -> None:
        self.overflows.append((call_id, target))

    def call_member(self, member_id: str, escalation_id: str) -> None:
        self.member_calls.append((member_id, escalation_id))

    def dial_urgent_number(self, escalation_id: str) -> None:
        self.urgent_calls.append(escalation_id)
