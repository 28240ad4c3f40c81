"""Routing's live state built again from the database when Redis lost it.

Routing keeps agents, waiting calls and escalation ladders in Redis only. When Redis loses its
data (a FLUSHALL, a restart without persistence, a failover to an empty replica) every agent
drops out of routing, every waiting caller is forgotten and every ladder stops: callers would
overflow as ``unstaffed`` and alarms ring nobody. ``routing.state.BUILT_KEY`` is set, with no
expiry, once routing was built; its absence is the sign. Whoever notices first (the workers'
timekeeper every second, a process building its router) rebuilds:

* every active agent is registered again, on a break: presence is the agent's to say, and her
  open console says it again with its next heartbeat, every 5 s
  (:meth:`RoutingRebuild.restore_presence`). On a break the line still counts as staffed, so
  the callers put back wait for the agents coming back instead of overflowing as unstaffed;
  an agent no console speaks for within ``PRESENCE_GRACE_S`` is then set offline (and a line
  left with nobody overflows its callers as it would have);
* every call the database has as queued, not ended and started within the live meta's TTL, is
  enqueued again with its stored risk, priority, flags and language (a severe one starts its
  ladder again in the same step); she waits from now, not from her first enqueue;
* every escalation not acknowledged, opened within a day, starts its ladder again at tier 1
  (ringing again is the safe side: a ladder stops only when a human acknowledges).

Every step is idempotent (enqueue and escalate answer ``duplicate`` for what routing already
knows), so two processes rebuilding at once do no harm, and the key is set last: a rebuild cut
short is done again whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.directory import Directory
from calls.dispatch import RoutingDispatch
from calls.records import CALL_META_TTL_S
from ivr_flows.state import CallFlag
from routing import Router
from routing.errors import UnknownTeam
from routing.state import BUILT_KEY, AgentState, routing_key
from routing.stored_config import agent_profiles
from store.records import Call, Escalation
from store.vocabulary import CallRecordStatus, Direction, RiskLevel

log = logging.getLogger(__name__)

LADDER_REBUILD_WINDOW = timedelta(days=1)
PRESENCE_GRACE_S = 30.0
UNCONFIRMED_KEY = routing_key("rebuilt", "unconfirmed")
"""Agents the rebuild put on a break whose console has not spoken yet."""
UNCONFIRMED_UNTIL_KEY = routing_key("rebuilt", "unconfirmed_until")
RESTORABLE_PRESENCE = frozenset({AgentState.AVAILABLE, AgentState.BREAK})
_FLAGS = frozenset(flag.value for flag in CallFlag)


@dataclass(frozen=True)
class RebuildReport:
    agents: int
    calls: int
    escalations: int


@dataclass
class RoutingRebuild:
    sessions: sessionmaker[Session]
    router: Router
    dispatch: RoutingDispatch
    directory: Directory
    clock: Callable[[], float]

    def state_present(self) -> bool:
        """Whether routing's state is in Redis (raises ``redis.RedisError`` when Redis does
        not answer)."""
        return bool(self.router.client.exists(BUILT_KEY))

    def ensure(self) -> RebuildReport | None:
        """Rebuild when the state is missing; the report of what was restored, or None when
        nothing was missing."""
        if self.state_present():
            self._unconfirmed_offline()
            return None
        return self.rebuild()

    def rebuild(self) -> RebuildReport:
        now = self.clock()
        agents = self._agents(now)
        calls = self._waiting_calls(now)
        escalations = self._ladders(now)
        self.router.client.set(BUILT_KEY, str(now))
        report = RebuildReport(agents, calls, escalations)
        log.warning(
            "routing rebuilt from the database: %d agents, %d waiting calls, %d ladders",
            report.agents,
            report.calls,
            report.escalations,
        )
        return report

    def restore_presence(self, agent_id: str, state: str) -> bool:
        """A console's heartbeat: the presence it shows. When routing lost the agent, or the
        rebuild put her on a break and waits for her console, she is registered again and put
        back as the console shows her (available, on a break or offline; on a call she is left
        on the break, so no offer reaches her during it). True when something was restored."""
        client = self.router.client
        unconfirmed = bool(client.srem(UNCONFIRMED_KEY, agent_id))
        known = bool(client.exists(routing_key("agent", agent_id)))
        if known and not unconfirmed:
            return False
        now = self.clock()
        if not known:
            profiles = [
                profile
                for profile in agent_profiles(self.sessions, self.router.config)
                if profile.agent_id == agent_id
            ]
            if not profiles:
                return False
            self.router.register_agent(profiles[0], now)
        if state in RESTORABLE_PRESENCE or state == AgentState.OFFLINE:
            self.router.set_agent_state(agent_id, state, now)
        log.info("agent %s: presence restored from her console", agent_id)
        return True

    def _agents(self, now: float) -> int:
        profiles = agent_profiles(self.sessions, self.router.config)
        client = self.router.client
        client.set(UNCONFIRMED_UNTIL_KEY, str(now + PRESENCE_GRACE_S))
        for profile in profiles:
            if client.exists(routing_key("agent", profile.agent_id)):
                continue  # routing knows her (her presence was set since Redis came back)
            self.router.register_agent(profile, now)
            client.sadd(UNCONFIRMED_KEY, profile.agent_id)
            self.router.set_agent_state(profile.agent_id, AgentState.BREAK, now)
        return len(profiles)

    def _unconfirmed_offline(self) -> None:
        """After the grace, agents no console spoke for since the rebuild go offline."""
        client = self.router.client
        until = client.get(UNCONFIRMED_UNTIL_KEY)
        if until is None or float(until) > self.clock():
            return
        now = self.clock()
        for agent_id in client.smembers(UNCONFIRMED_KEY):
            if not client.srem(UNCONFIRMED_KEY, agent_id):
                continue
            if client.hget(routing_key("agent", str(agent_id)), "state") != AgentState.BREAK:
                continue  # her presence was set since the rebuild (her console, an admin)
            self.router.set_agent_state(str(agent_id), AgentState.OFFLINE, now)
        client.delete(UNCONFIRMED_KEY, UNCONFIRMED_UNTIL_KEY)

    def _waiting_calls(self, now: float) -> int:
        since = datetime.fromtimestamp(now - CALL_META_TTL_S, UTC)
        with self.sessions() as db:
            rows = db.execute(
                select(
                    Call.id,
                    Call.line_id,
                    Call.direction,
                    Call.risk_level,
                    Call.priority,
                    Call.flags,
                    Call.locale,
                ).where(
                    Call.status == CallRecordStatus.QUEUED.value,
                    Call.ended_at.is_(None),
                    Call.direction != Direction.CALLBACK.value,
                    Call.started_at >= since,
                )
            ).all()
        restored = 0
        for call_id, line_id, direction, risk, priority, flags, locale in rows:
            line = self.directory.line(line_id) if line_id else None
            if line is None:
                continue
            queue = "checkins" if direction == Direction.CHECKIN.value else "general"
            self.dispatch.enqueue(
                call_id,
                line,
                queue,
                RiskLevel(risk) if risk else RiskLevel.NO_APRECIADO,
                priority or 0,
                frozenset(CallFlag(flag) for flag in flags or () if flag in _FLAGS),
                locale or line.default_locale,
                now,
            )
            restored += 1
        return restored

    def _ladders(self, now: float) -> int:
        since = datetime.fromtimestamp(now, UTC) - LADDER_REBUILD_WINDOW
        with self.sessions() as db:
            rows = db.execute(
                select(Escalation.id, Escalation.team_id, Escalation.reason, Escalation.call_id)
                .where(Escalation.acknowledged_at.is_(None), Escalation.opened_at >= since)
                .order_by(Escalation.opened_at)
            ).all()
        restored = 0
        for escalation_id, team_id, reason, call_id in rows:
            try:
                self.router.escalate(escalation_id, team_id, reason, now, call_id)
            except (UnknownTeam, ValueError):
                log.error("escalation %s: its team cannot be rung; not restored", escalation_id)
                continue
            restored += 1
        return restored
