"""Parts of the composition root that ``app.py`` assembles: routing configuration read from the
database, the ports routing talks through (Redis pub/sub notifications, telephony control), and
the switchboard every telephony edge shares.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from routing import (
    AgentProfile,
    EscalationTeam,
    EscalationTier,
    QueueConfig,
    Router,
    RouterConfig,
    WideningStep,
)
from store.call_log import CallLog
from store.live_state import key
from store.models import Agent, Line, Queue, Team, TeamMember

log = logging.getLogger(__name__)

SUPERVISOR_CHANNEL = key("events", "supervisors")
SUPERVISOR_FEED = key("events", "supervisors", "recent")


def agent_channel(agent_id: str) -> str:
    return key("events", "agent", agent_id)


def router_config_from_store(sessions: sessionmaker[Session]) -> RouterConfig:
    """Queues per line (``<line id>.<name>``), urgent teams with their tiers, overflow targets."""
    with sessions() as db:
        teams: dict[str, EscalationTeam] = {}
        line_team: dict[str, str] = {}
        for team in db.scalars(select(Team).order_by(Team.name)):
            by_tier: dict[int, list[str]] = defaultdict(list)
            for member in db.scalars(select(TeamMember).where(TeamMember.team_id == team.id)):
                by_tier[member.tier].append(member.agent_id)
            if not by_tier:
                continue
            delays = list(team.tier_delays_s or [60])
            tiers = tuple(
                EscalationTier(
                    members=tuple(sorted(by_tier[tier])),
                    delay_seconds=float(delays[min(index, len(delays) - 1)]),
                )
                for index, tier in enumerate(sorted(by_tier))
            )
            teams[team.id] = EscalationTeam(team.id, tiers, repeat_seconds=60.0)
            if team.line_id:
                line_team.setdefault(team.line_id, team.id)
        fallback_team = next(iter(teams), None)
        queues: dict[str, QueueConfig] = {}
        backups: dict[str, str] = {}
        for line in db.scalars(select(Line)):
            backups[line.id] = line.overflow_number
            urgent = line_team.get(line.id, fallback_team)
            rows = list(db.scalars(select(Queue).where(Queue.line_id == line.id)))
            names = {row.name: row for row in rows}
            names.setdefault("general", None)  # type: ignore[arg-type]
            for name, row in names.items():
                queue_id = f"{line.id}.{name}"
                widen_after = float(row.widen_after_s) if row else 60.0
                queues[queue_id] = QueueConfig(
                    queue_id,
                    widening=(
                        WideningStep(after_seconds=widen_after, drop_specialties=True),
                        WideningStep(after_seconds=widen_after * 2, drop_language=True),
                    ),
                    max_wait_seconds=float(row.max_wait_s) if row else 300.0,
                    urgent_team=urgent,
                )
    return RouterConfig(queues=queues, teams=teams, backup_targets=backups)


def agent_profiles(sessions: sessionmaker[Session], config: RouterConfig) -> list[AgentProfile]:
    """Every active agent serves every configured queue with their languages and skills."""
    with sessions() as db:
        agents = list(db.scalars(select(Agent).where(Agent.active)))
    queues = frozenset(config.queues)
    return [
        AgentProfile(
            agent_id=agent.id,
            languages=frozenset(agent.languages or ()),
            specialties=frozenset(agent.skills or ()),
            queues=queues,
        )
        for agent in agents
    ]


@dataclass
class RoutingCallLog:
    """Routing's events into the durable call log; redelivered events land once (their
    ``event_id`` is the idempotency key)."""

    call_log: CallLog

    def append(self, call_id: str, kind: str, data: dict[str, Any], at: float) -> None:
        event_id = data.get("event_id")
        self.call_log.append(
            call_id,
            kind,
            data,
            at=at,
            # The call id is part of the key: routing's event ids come from a Redis counter,
            # which starts again after Redis is flushed or restarted without its data.
            idempotency_key=f"routing:{call_id}:{event_id}" if event_id is not None else None,
        )


@dataclass
class RedisNotifier:
    """Supervisors' alerts over Redis pub/sub (every web process relays them to its browsers),
    with the latest kept in a short list for a wallboard that just opened."""

    client: redis.Redis
    keep: int = 200

    def offer_made(
        self, agent_id: str, call_id: str, expires_at: float, details: dict[str, Any]
    ) -> None:
        """Routing's Lua already published the offer on the agent's channel."""

    def offer_withdrawn(self, agent_id: str, call_id: str, reason: str) -> None:
        """Published by routing's Lua on the agent's channel."""

    def notify_supervisors(self, kind: str, data: dict[str, Any]) -> None:
        message = json.dumps({"kind": kind, "at": time.time(), **data}, default=str)
        pipe = self.client.pipeline()
        pipe.publish(SUPERVISOR_CHANNEL, message)
        pipe.lpush(SUPERVISOR_FEED, message)
        pipe.ltrim(SUPERVISOR_FEED, 0, self.keep - 1)
        pipe.execute()


class CallRedirector(Protocol):
    """What a telephony edge offers routing: move a live call somewhere else."""

    def redirect_to_number(self, call_id: str, number: str) -> None: ...


@dataclass
class TelephonyControl:
    """Routing's ``CallControl``: rings urgent-team members on their consoles and hands
    overflows to the edge that carries the call."""

    client: redis.Redis
    redirectors: dict[str, CallRedirector] = field(default_factory=dict)

    def ring(self, member_id: str, escalation_id: str, subject_id: str, tier: int) -> None:
        message = {"kind": "escalation_ring", "escalation_id": escalation_id, "tier": tier}
        self.client.publish(agent_channel(member_id), json.dumps(message))

    def stop_ringing(self, escalation_id: str) -> None:
        message = {"kind": "escalation_stopped", "escalation_id": escalation_id}
        self.client.publish(SUPERVISOR_CHANNEL, json.dumps(message))

    def overflow(self, call_id: str, target: str) -> None:
        channel = self.client.hget(key("call", call_id), "channel")
        redirector = self.redirectors.get(str(channel)) if channel else None
        if redirector is None:
            log.error("call %s: overflow with no edge to redirect it", call_id)
            return
        redirector.redirect_to_number(call_id, target)


class Sweeper:
    """Runs ``router.sweep`` every ``interval`` seconds in a daemon thread (offer timeouts,
    widening, overflow, ladders). Any number of processes may sweep at once."""

    def __init__(self, router: Router, interval: float = 0.5) -> None:
        self._router = router
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="amparo-sweeper", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._router.sweep(time.time())
            except Exception:
                log.exception("routing sweep failed; retrying")
