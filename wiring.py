"""Parts of the composition root that ``app.py`` assembles: routing configuration read from the
database, the ports routing talks through (Redis pub/sub notifications, telephony control), and
the switchboard every telephony edge shares.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from checkins.errors import DialerNotConfigured
from checkins.ports import OutboundDialer
from routing import (
    AgentProfile,
    AgentState,
    EscalationTeam,
    EscalationTier,
    QueueConfig,
    Router,
    RouterConfig,
    WideningStep,
)
from routing.errors import RoutingError, UnknownAgent
from settings import Settings
from store.call_log import CallLog
from store.live_state import key
from store.models import Agent, Line, Queue, Team, TeamMember
from store.vocabulary import Channel

log = logging.getLogger(__name__)

SUPERVISOR_CHANNEL = key("events", "supervisors")
SUPERVISOR_FEED = key("events", "supervisors", "recent")
ESCALATION_CHANNEL = key("events", "escalations")
"""Every console listens here to stop showing a ring someone else has acknowledged."""
BOARD_CHANGED = json.dumps({"kind": "board_changed"})
"""A hint on the supervisors' channel that the wallboard should re-read routing's views."""


def agent_channel(agent_id: str) -> str:
    return key("events", "agent", agent_id)


def personal_skill(agent_id: str) -> str:
    """Every agent also holds a skill of her own, so a call transferred to her by name is a
    call that needs that skill (and widens to anyone if she does not take it)."""
    return f"agent_{agent_id}"


def base_call_id(routing_call_id: str) -> str:
    """A call transferred from the console goes back to routing as ``<call id>.t<n>`` (routing
    never re-queues a call id it has seen); its events belong to the call itself."""
    return routing_call_id.partition(".")[0]


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
            # The built-in flows enqueue to "general" and (check-ins) "checkins".
            names.setdefault("general", None)  # type: ignore[arg-type]
            names.setdefault("checkins", None)  # type: ignore[arg-type]
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
            specialties=frozenset(agent.skills or ()) | {personal_skill(agent.id)},
            queues=queues,
        )
        for agent in agents
    ]


@dataclass
class RoutingCallLog:
    """Routing's events into the durable call log; a redelivered event lands once (its
    ``event_id`` with the call and kind is the idempotency key, unique even if the Redis
    counter behind event ids is ever reset)."""

    call_log: CallLog

    def append(self, call_id: str, kind: str, data: dict[str, Any], at: float) -> None:
        event_id = data.get("event_id")
        if base_call_id(call_id) != call_id:
            data = {**data, "leg": call_id}
        self.call_log.append(
            base_call_id(call_id),
            kind,
            data,
            at=at,
            idempotency_key=(
                f"routing:{call_id}:{kind}:{event_id}" if event_id is not None else None
            ),
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
        """Routing's Lua already published the offer on the agent's channel; wallboards only
        hear that something moved."""
        self.client.publish(SUPERVISOR_CHANNEL, BOARD_CHANGED)

    def offer_withdrawn(self, agent_id: str, call_id: str, reason: str) -> None:
        """Published by routing's Lua on the agent's channel."""
        self.client.publish(SUPERVISOR_CHANNEL, BOARD_CHANGED)

    def notify_supervisors(self, kind: str, data: dict[str, Any]) -> None:
        message = json.dumps({"kind": kind, "at": time.time(), **data}, default=str)
        pipe = self.client.pipeline()
        pipe.publish(SUPERVISOR_CHANNEL, message)
        pipe.lpush(SUPERVISOR_FEED, message)
        pipe.ltrim(SUPERVISOR_FEED, 0, self.keep - 1)
        pipe.execute()


@dataclass
class RoutingAlerts:
    """Check-ins' and alarms' ``Alerts``: routing's ladders and the supervisors' feed."""

    router: Router
    notifier: RedisNotifier

    def escalate(
        self, escalation_id: str, team_id: str, reason: str, now: float, call_id: str | None = None
    ) -> Any:
        return self.router.escalate(escalation_id, team_id, reason, now, call_id)

    def notify_supervisors(self, kind: str, data: dict[str, Any]) -> None:
        self.notifier.notify_supervisors(kind, data)


class LazyDialer:
    """Chooses the outbound edge on first use, so a web process that only records the
    outcomes of check-in calls never needs the dialer's module."""

    def __init__(self, choose: Callable[[], OutboundDialer]) -> None:
        self._choose = choose
        self._dialer: OutboundDialer | None = None

    def _edge(self) -> OutboundDialer:
        if self._dialer is None:
            self._dialer = self._choose()
        return self._dialer

    @property
    def channel(self) -> Channel:
        return self._edge().channel

    def place_call(self, call_id: str, to_number: str, caller_id: str | None) -> str:
        return self._edge().place_call(call_id, to_number, caller_id)

    def cancel(self, call_id: str) -> None:
        self._edge().cancel(call_id)


def outbound_dialer(
    settings: Settings, simulator: Callable[[], OutboundDialer], runtime: Any = None
) -> OutboundDialer:
    """The edge that rings beneficiaries for check-ins and notifications: Twilio when it is
    configured, else SIP when ``AMPARO_SIP_LISTEN`` is set, else the simulator.

    The Twilio and SIP edges provide ``build_outbound_dialer(runtime)`` (this process's
    ``app.Runtime``) in ``telephony.twilio.dialer`` and ``telephony.sip.dialer``;
    selecting one whose module is not part of this build stops with a clear error instead of
    calling nobody.
    """
    if settings.twilio_account_sid:
        return _edge_dialer(
            "telephony.twilio.dialer", "Twilio (AMPARO_TWILIO_ACCOUNT_SID)", runtime
        )
    if getattr(settings, "sip_listen", None):
        return _edge_dialer("telephony.sip.dialer", "SIP (AMPARO_SIP_LISTEN)", runtime)
    return simulator()


def _edge_dialer(module_name: str, what: str, runtime: Any) -> OutboundDialer:
    try:
        module = importlib.import_module(module_name)
        build = module.build_outbound_dialer
    except (ImportError, AttributeError) as exc:
        raise DialerNotConfigured(
            f"{what} is configured, but this build has no outbound dialer for it "
            f"({module_name}.build_outbound_dialer); check-in calls cannot be placed"
        ) from exc
    dialer: OutboundDialer = build(runtime)
    return dialer


class CallRedirector(Protocol):
    """What a telephony edge offers routing: move a live call somewhere else."""

    def redirect_to_number(self, call_id: str, number: str) -> None: ...


SUPERVISION_MODES = ("listen", "whisper", "barge")


class CallBridge(Protocol):
    """What a telephony edge offers the console: join a waiting caller to the agent who
    accepted her, end the call from the agent's side, and bring a supervisor in
    (``mode``: listen = hears both, heard by none; whisper = heard by the agent only;
    barge = heard by both). Each method may be called from any web process, so an edge
    forwards it to the process holding the call (Twilio REST, a Redis command, ...).

    Optional, looked up with ``getattr``: ``hold(call_id, on: bool)`` and
    ``add_interpreter(call_id, language: str)``; without them the console answers 409.
    """

    def connect(self, call_id: str, agent_id: str) -> object: ...

    def end(self, call_id: str) -> None: ...

    def supervise(self, call_id: str, supervisor_id: str, mode: str) -> None: ...


@dataclass
class TelephonyControl:
    """Routing's ``CallControl``: rings urgent-team members on their consoles and hands
    overflows to the edge that carries the call. ``bridges`` (channel -> CallBridge) is how
    the console reaches the edge carrying a call."""

    client: redis.Redis
    redirectors: dict[str, CallRedirector] = field(default_factory=dict)
    bridges: dict[str, CallBridge] = field(default_factory=dict)

    def channel_of(self, call_id: str) -> str | None:
        channel = self.client.hget(key("call", base_call_id(call_id)), "channel")
        return str(channel) if channel else None

    def bridge_for(self, call_id: str, channel: str | None = None) -> CallBridge | None:
        """The bridge of the edge carrying ``call_id`` (None when that edge has none)."""
        found = channel or self.channel_of(call_id)
        return self.bridges.get(found) if found else None

    def ring(self, member_id: str, escalation_id: str, subject_id: str, tier: int) -> None:
        message = {"kind": "escalation_ring", "escalation_id": escalation_id, "tier": tier}
        self.client.publish(agent_channel(member_id), json.dumps(message))
        self.client.publish(SUPERVISOR_CHANNEL, BOARD_CHANGED)

    def stop_ringing(self, escalation_id: str) -> None:
        message = json.dumps({"kind": "escalation_stopped", "escalation_id": escalation_id})
        self.client.publish(SUPERVISOR_CHANNEL, message)
        self.client.publish(ESCALATION_CHANNEL, message)

    def overflow(self, call_id: str, target: str) -> None:
        channel = self.channel_of(call_id)
        redirector = self.redirectors.get(channel) if channel else None
        if redirector is None:
            log.error("call %s: overflow with no edge to redirect it", call_id)
            return
        redirector.redirect_to_number(base_call_id(call_id), target)


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


def leave_routing(router: Router, agent_id: str, now: float) -> tuple[str, str | None]:
    """Take a deactivated account out of routing: offline at once, so no caller waits on an
    offer to someone who can no longer take it (an offer out to her goes to the next agent). A
    call she is on is left alone (a deactivation never cuts a caller off): routing keeps
    ``offline`` as her state after that call (status ``after_call``), so when it and its wrap-up
    end she goes offline and is offered nothing. Returns her routing state and the state pending
    after her call; ``unknown`` when routing could not be reached."""
    try:
        transition = router.set_agent_state(agent_id, AgentState.OFFLINE, now)
    except UnknownAgent:
        return AgentState.OFFLINE.value, None
    except (RoutingError, redis.RedisError) as exc:
        log.warning("deactivated agent_id=%s still in routing (%s)", agent_id, type(exc).__name__)
        return "unknown", None
    state = str(transition.result.get("state") or "unknown")
    if transition.status == "after_call":
        return state, str(transition.result.get("after_call") or "") or None
    if not transition.ok or state != AgentState.OFFLINE:
        log.warning(
            "deactivated agent_id=%s not offline in routing (%s)", agent_id, transition.status
        )
    return state, None
