"""The façade app.py builds once per process: ``Router(redis, config, call_log, notifier,
call_control)``.

Every method takes ``now`` (epoch seconds) from the caller, runs one atomic Lua transition, hands
the resulting events to the ports and returns them. Nothing is kept in process memory, so any
number of processes may hold a Router on the same Redis. A Redis failure raises
``redis.RedisError``: the telephony edge then takes its fallback route (safety rule 1).
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from routing import agents, escalation, offers, queues, sweeper
from routing.config import RouterConfig
from routing.context import RoutingContext
from routing.events import EventDelivery
from routing.lua import ScriptRunner
from routing.ports import CallControl, CallLog, Notifier
from routing.state import (
    AGENT_CHANNEL_PREFIX,
    AgentProfile,
    AgentState,
    CallbackTask,
    CallRequest,
    SweepReport,
    Transition,
)
from store.vocabulary import RiskLevel


class Router:
    def __init__(
        self,
        client: redis.Redis,
        config: RouterConfig,
        call_log: CallLog,
        notifier: Notifier,
        call_control: CallControl,
        *,
        runner: ScriptRunner | None = None,
    ) -> None:
        """``runner`` is for instrumentation (benchmarks); by default the scripts are
        registered on ``client``."""
        runner = runner or ScriptRunner(client, config.script_settings(AGENT_CHANNEL_PREFIX))
        delivery = EventDelivery(client, config, call_log, notifier, call_control)
        self._ctx = RoutingContext(client, config, runner, delivery)

    @property
    def config(self) -> RouterConfig:
        return self._ctx.config

    @property
    def client(self) -> redis.Redis:
        return self._ctx.client

    # Calls
    def enqueue(self, request: CallRequest, now: float) -> Transition:
        return queues.enqueue(self._ctx, request, now)

    def raise_priority(
        self,
        call_id: str,
        now: float,
        *,
        risk: RiskLevel | None = None,
        priority: int | None = None,
        flags: Iterable[str] = (),
        reason: str = "risk_raised",
    ) -> Transition:
        return queues.raise_priority(
            self._ctx,
            call_id,
            now,
            risk=risk,
            priority=priority,
            flags=frozenset(flags),
            reason=reason,
        )

    def hangup(self, call_id: str, now: float) -> Transition:
        return queues.hangup(self._ctx, call_id, now)

    def waiting_count(self) -> int:
        return queues.waiting_count(self._ctx)

    def take(self, call_id: str, member_id: str, now: float) -> Transition:
        return queues.take(self._ctx, call_id, member_id, now)

    def accept(self, call_id: str, agent_id: str, now: float) -> Transition:
        return offers.accept(self._ctx, call_id, agent_id, now)

    def reject(self, call_id: str, agent_id: str, now: float) -> Transition:
        return offers.reject(self._ctx, call_id, agent_id, now)

    # Agents
    def register_agent(self, profile: AgentProfile, now: float) -> Transition:
        return agents.register_agent(self._ctx, profile, now)

    def set_agent_state(self, agent_id: str, state: AgentState | str, now: float) -> Transition:
        return agents.set_agent_state(self._ctx, agent_id, state, now)

    # Escalation
    def escalate(
        self,
        escalation_id: str,
        team_id: str,
        reason: str,
        now: float,
        call_id: str | None = None,
    ) -> Transition:
        return escalation.escalate(self._ctx, escalation_id, team_id, reason, now, call_id)

    def acknowledge(
        self, escalation_id: str, agent_id: str, now: float, offer_call: bool = False
    ) -> Transition:
        return escalation.acknowledge(self._ctx, escalation_id, agent_id, now, offer_call)

    def close_escalation(self, escalation_id: str, reason: str, now: float) -> Transition:
        return escalation.close(self._ctx, escalation_id, reason, now)

    def set_on_call(self, team_id: str, member_ids: Iterable[str]) -> None:
        escalation.set_on_call(self._ctx, team_id, member_ids)

    # Time
    def sweep(self, now: float) -> SweepReport:
        return sweeper.sweep(self._ctx, now)

    def next_due(self) -> float | None:
        return sweeper.next_due(self._ctx)

    # Callback tasks
    def pending_callbacks(self, limit: int = 100) -> list[CallbackTask]:
        return queues.pending_callbacks(self._ctx, limit)

    def resolve_callback(self, call_id: str) -> bool:
        return queues.resolve_callback(self._ctx, call_id)
