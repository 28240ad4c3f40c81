"""The shapes of routing's live state: keys, statuses, requests, events and results.

Redis holds only ids, risk, priority, language and skills, flags, line id and a
``callback_eligible`` flag the caller computed from a known safe number: never the number itself
nor a name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from store.live_state import key
from store.vocabulary import RiskLevel

PREFIX = key("{routing}")
"""Every routing key starts with this. The braces are a Redis Cluster hash tag: all routing
keys live on one shard, which the Lua scripts need (they compute keys they touch)."""

BUILT_KEY = ":".join([PREFIX, "built"])
"""Set (with no expiry) once routing's state was built from the database: its absence means
Redis lost its data (a FLUSHALL, a restart without persistence) and routing must be rebuilt."""

AGENT_CHANNEL_PREFIX = key("events", "agent", "")
"""Offers and withdrawals are also published on ``amparo:events:agent:<agent id>`` for the
console's server-sent events, from inside the transition."""


def routing_key(*parts: str | int) -> str:
    return ":".join([PREFIX, *(str(part) for part in parts)])


def as_list_field(values: Iterable[str]) -> str:
    """Sets are stored as ``,a,b,`` (sorted, so equal sets give equal bucket names)."""
    items = sorted(set(values))
    return "," + ",".join(items) + "," if items else ""


def from_list_field(value: str | None) -> tuple[str, ...]:
    return tuple(part for part in (value or "").split(",") if part)


class AgentState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    OFFERED = "offered"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    BREAK = "break"


MANUAL_AGENT_STATES = frozenset({AgentState.AVAILABLE, AgentState.BREAK, AgentState.OFFLINE})
AFTER_CALL_STATES = frozenset({AgentState.BREAK, AgentState.OFFLINE})
"""What an agent on a call may ask to become when the call (and its wrap-up) ends."""


def after_call_state(value: object) -> AgentState | None:
    """The agent hash's ``after_call`` field as a state, None when nothing is pending."""
    text = value.decode() if isinstance(value, bytes) else str(value or "")
    return AgentState(text) if text in AFTER_CALL_STATES else None


class CallStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ANSWERED = "answered"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"
    TAKEN = "taken"  # by an urgent-team member from an alert on her phone


LIVE_CALL_STATUSES = frozenset({CallStatus.WAITING, CallStatus.OFFERED, CallStatus.ANSWERED})

ANY_LANGUAGE = "*"
CALLBACK_TASK_FLAG = "callback"
"""The flag of a callback task (an agent is to phone her back): nobody is on the line while it
waits, so it counts neither as a caller waiting nor in the time to a human."""
OUTBOUND_MAX_WAIT_S = 4 * 3600


@dataclass(frozen=True)
class CallRequest:
    """What the IVR's ``enqueue`` action carries, in routing's words."""

    call_id: str
    queue: str
    risk: RiskLevel
    priority: int | None = None
    language: str | None = None
    """Required language; None means any agent will do."""
    specialties: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    line_id: str = "default"
    callback_eligible: bool = False
    """Computed by the caller from a known, safe number; the number never reaches routing."""
    outbound: bool = False
    """A callback task (an agent is to phone her): nobody is on the line, so it starts no
    ladder and never overflows to a number; it waits for an agent up to
    ``OUTBOUND_MAX_WAIT_S`` and then ``overflowed`` tells its owner it expired."""


@dataclass(frozen=True)
class AgentProfile:
    agent_id: str
    languages: frozenset[str]
    specialties: frozenset[str] = frozenset()
    queues: frozenset[str] = frozenset({"default"})


@dataclass(frozen=True)
class RoutingEvent:
    """One step in a call's (or an agent's, or a ladder's) life, as recorded in the outbox."""

    event_id: int
    kind: str
    at: float
    call_id: str | None = None
    agent_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> RoutingEvent:
        data = raw.get("data") or {}
        return cls(
            event_id=int(raw["id"]),
            kind=str(raw["kind"]),
            at=float(raw["at"]),
            call_id=raw.get("call") or None,
            agent_id=raw.get("agent") or None,
            data=MappingProxyType(dict(data) if isinstance(data, dict) else {}),
        )


ERROR_STATUSES = frozenset(
    {
        "unknown_call",
        "offer_not_current",
        "unknown_agent",
        "invalid_state",
        "not_waiting",
        "unknown_escalation",
    }
)


@dataclass(frozen=True)
class Transition:
    """The result of one routing operation: a status, a few result fields and its events."""

    status: str
    events: tuple[RoutingEvent, ...] = ()
    result: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ok(self) -> bool:
        return self.status not in ERROR_STATUSES

    @property
    def error_id(self) -> str | None:
        return None if self.ok else f"routing.{self.status}"

    def of_kind(self, kind: str) -> tuple[RoutingEvent, ...]:
        return tuple(event for event in self.events if event.kind == kind)

    @property
    def offers(self) -> tuple[RoutingEvent, ...]:
        return self.of_kind("offered")

    @property
    def rings(self) -> tuple[RoutingEvent, ...]:
        return self.of_kind("ring")


@dataclass(frozen=True)
class SweepReport:
    fired: int
    redelivered: int
    events: tuple[RoutingEvent, ...]


@dataclass(frozen=True)
class CallbackTask:
    """An abandoned call from a known, safe number that someone should call back."""

    call_id: str
    line_id: str
    queue: str
    language: str | None
    risk: RiskLevel
    abandoned_at: float
    waited: float
