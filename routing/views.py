"""Read-only views for supervisors (the console renders them): waiting calls, agents by state,
today's service level and open escalations. Plain dataclasses; reads are pipelined and never
block a transition."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass

import redis

from routing.config import RouterConfig
from routing.state import (
    ANY_LANGUAGE,
    CALLBACK_TASK_FLAG,
    AgentState,
    after_call_state,
    from_list_field,
    routing_key,
)
from store import metrics
from store.vocabulary import RiskLevel


@dataclass(frozen=True)
class WaitingGroup:
    queue: str
    risk: RiskLevel
    language: str | None
    waiting: int
    offered: int
    longest_wait: float


@dataclass(frozen=True)
class AgentPresence:
    agent_id: str
    state: AgentState
    since: float
    in_state_for: float
    call_id: str | None
    languages: tuple[str, ...]
    specialties: tuple[str, ...]
    missed_offers: int
    after_call: AgentState | None = None
    """``break`` or ``offline`` she asked for during her call, taken when it (and its wrap-up)
    ends; None when she will be available as usual."""


@dataclass(frozen=True)
class ServiceLevel:
    day: int
    threshold_seconds: float
    enqueued: int
    answered: int
    answered_within_threshold: int
    abandoned: int
    overflowed: int
    offer_timeouts: int
    average_wait: float | None
    service_level: float | None
    """Answered within the threshold / calls that left the queue (answered, abandoned or
    overflowed) today; None before the first such call."""


@dataclass(frozen=True)
class OpenEscalation:
    escalation_id: str
    team_id: str
    reason: str
    call_id: str | None
    tier: int
    round: int
    started_at: float
    open_for: float
    next_step_at: float


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_rows(
    client: redis.Redis, keys: list[str], fields: list[str]
) -> list[dict[str, str] | None]:
    """One HMGET per key in a single round trip; None where the hash is gone."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hmget(key, fields)
    rows: list[dict[str, str] | None] = []
    for values in pipe.execute():
        if values[0] is None:
            rows.append(None)
            continue
        rows.append({f: "" if v is None else _text(v) for f, v in zip(fields, values, strict=True)})
    return rows


def waiting_calls(client: redis.Redis, now: float) -> list[WaitingGroup]:
    """Waiting and offered calls by queue, risk and language, most urgent risk first."""
    ids = [_text(call_id) for call_id in client.zrange(routing_key("waiting"), 0, -1)]
    fields = ["status", "queue", "risk", "req_lang", "enqueued_at"]
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    for row in read_rows(client, [routing_key("call", cid) for cid in ids], fields):
        if row is None:
            continue
        groups[(row["queue"], row["risk"], row["req_lang"])].append(row)
    result = [
        WaitingGroup(
            queue=queue,
            risk=RiskLevel(risk),
            language=None if lang == ANY_LANGUAGE else lang,
            waiting=sum(1 for row in rows if row["status"] == "waiting"),
            offered=sum(1 for row in rows if row["status"] == "offered"),
            longest_wait=max(now - float(row["enqueued_at"]) for row in rows),
        )
        for (queue, risk, lang), rows in groups.items()
    ]
    result.sort(key=lambda group: (-group.risk.rank, -group.longest_wait))
    return result


def agents_by_state(client: redis.Redis, now: float) -> dict[AgentState, list[AgentPresence]]:
    ids = sorted(_text(agent_id) for agent_id in client.smembers(routing_key("agents")))
    fields = ["state", "since", "call", "langs", "specs", "missed", "after_call"]
    rows = read_rows(client, [routing_key("agent", aid) for aid in ids], fields)
    by_state: dict[AgentState, list[AgentPresence]] = {state: [] for state in AgentState}
    for agent_id, row in zip(ids, rows, strict=True):
        if row is None:
            continue
        since = float(row["since"] or now)
        presence = AgentPresence(
            agent_id=agent_id,
            state=AgentState(row["state"]),
            since=since,
            in_state_for=now - since,
            call_id=row["call"] or None,
            languages=from_list_field(row["langs"]),
            specialties=from_list_field(row["specs"]),
            missed_offers=int(row["missed"] or 0),
            after_call=after_call_state(row["after_call"]),
        )
        by_state[presence.state].append(presence)
    return by_state


def service_day(config: RouterConfig, now: float) -> int:
    return math.floor((now + config.day_offset_seconds) / 86400)


def service_level_today(client: redis.Redis, config: RouterConfig, now: float) -> ServiceLevel:
    day = service_day(config, now)
    raw = {_text(k): float(_text(v)) for k, v in client.hgetall(routing_key("stats", day)).items()}

    def count(name: str) -> int:
        return int(raw.get(name, 0))

    answered, abandoned, overflowed = count("answered"), count("abandoned"), count("overflowed")
    left_queue = answered + abandoned + overflowed
    return ServiceLevel(
        day=day,
        threshold_seconds=config.service_level_seconds,
        enqueued=count("enqueued"),
        answered=answered,
        answered_within_threshold=count("answered_in_sl"),
        abandoned=abandoned,
        overflowed=overflowed,
        offer_timeouts=count("offer_timeouts"),
        average_wait=raw.get("wait_total", 0.0) / answered if answered else None,
        service_level=count("answered_in_sl") / left_queue if left_queue else None,
    )


def open_escalations(client: redis.Redis, now: float) -> list[OpenEscalation]:
    """Ladders still ringing, oldest first, with the tier they have reached."""
    ids = [_text(eid) for eid in client.zrange(routing_key("escalations"), 0, -1)]
    fields = ["team", "reason", "call", "tier", "round", "started_at", "next_at", "status"]
    rows = read_rows(client, [routing_key("esc", eid) for eid in ids], fields)
    return [
        OpenEscalation(
            escalation_id=eid,
            team_id=row["team"],
            reason=row["reason"],
            call_id=row["call"] or None,
            tier=int(row["tier"]),
            round=int(row["round"]),
            started_at=float(row["started_at"]),
            open_for=now - float(row["started_at"]),
            next_step_at=float(row["next_at"]),
        )
        for eid, row in zip(ids, rows, strict=True)
        if row is not None and row["status"] == "active"
    ]


@dataclass(frozen=True)
class Ladder:
    """One ladder as routing holds it, ringing or ended (kept ``ended_ttl`` after its end)."""

    escalation_id: str
    team_id: str
    reason: str
    call_id: str | None
    status: str
    started_at: float
    acknowledged_by: str | None


def ladder(client: redis.Redis, escalation_id: str) -> Ladder | None:
    fields = ["team", "reason", "call", "status", "started_at", "acked_by"]
    [row] = read_rows(client, [routing_key("esc", escalation_id)], fields)
    if row is None:
        return None
    return Ladder(
        escalation_id=escalation_id,
        team_id=row["team"],
        reason=row["reason"],
        call_id=row["call"] or None,
        status=row["status"],
        started_at=float(row["started_at"] or 0),
        acknowledged_by=row["acked_by"] or None,
    )


@dataclass(frozen=True)
class Ring:
    escalation_id: str
    team_id: str
    reason: str
    call_id: str | None
    since: float
    """When the ladder started ringing."""


def rings_for(client: redis.Redis, agent_id: str) -> list[Ring]:
    """The open ladders ringing ``agent_id`` now, oldest first: she is in a tier the ladder has
    reached and on the team's on-call rota (or the tier has nobody on it, when routing rings
    every member, as ``lib_ladder.lua`` does)."""
    ids = [_text(eid) for eid in client.zrange(routing_key("escalations"), 0, -1)]
    fields = ["team", "reason", "call", "tier", "started_at", "tiers", "status"]
    rows = read_rows(client, [routing_key("esc", eid) for eid in ids], fields)
    rings: list[Ring] = []
    for eid, row in zip(ids, rows, strict=True):
        if row is None or row["status"] != "active":
            continue
        if agent_id in _ringing_members(client, row):
            rings.append(
                Ring(
                    eid,
                    row["team"],
                    row["reason"],
                    row["call"] or None,
                    float(row["started_at"] or 0),
                )
            )
    return rings


def _ringing_members(client: redis.Redis, row: dict[str, str]) -> set[str]:
    tiers = json.loads(row["tiers"] or "[]")
    roster_key = routing_key("team", row["team"], "oncall")
    roster = {_text(m) for m in client.smembers(roster_key)} if client.exists(roster_key) else None
    rung: set[str] = set()
    for tier in tiers[: int(row["tier"] or 0)]:
        members = [str(m) for m in tier.get("members", [])]
        on_rota = [m for m in members if roster is None or m in roster]
        rung.update(on_rota or members)
    return rung


def metric_readings(client: redis.Redis, now: float) -> list[metrics.Reading]:
    """Routing's gauges for ``/metrics``: callers waiting by line and risk, agents by state,
    ladders still ringing."""
    ids = [_text(call_id) for call_id in client.zrange(routing_key("waiting"), 0, -1)]
    waiting: Counter[tuple[str, str]] = Counter()
    fields = ["line", "risk", "flags"]
    for row in read_rows(client, [routing_key("call", cid) for cid in ids], fields):
        if row is not None and CALLBACK_TASK_FLAG not in from_list_field(row["flags"]):
            waiting[(row["line"], row["risk"])] += 1
    readings = [
        metrics.Reading(metrics.CALLS_WAITING, labels, float(n)) for labels, n in waiting.items()
    ]
    readings += [
        metrics.Reading(metrics.AGENTS, (str(state),), float(len(agents)))
        for state, agents in agents_by_state(client, now).items()
    ]
    readings.append(
        metrics.Reading(metrics.ESCALATIONS_OPEN, (), float(len(open_escalations(client, now))))
    )
    return readings
