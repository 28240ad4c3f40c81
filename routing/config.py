"""Routing configuration as plain data: queues, widening rules, urgent teams, timings.

app.py builds one :class:`RouterConfig` (e.g. from the lines and teams in the database, or from
a JSON file with :meth:`RouterConfig.from_dict`) and hands it to the Router. Every process must
use the same configuration; the ladder of a running escalation is copied into Redis when it
starts, so a configuration change never breaks a ladder that is already ringing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from routing.channels import PERSONAL_SKILL_PREFIX
from routing.errors import ConfigurationInvalid, InvalidIdentifier
from routing.priority import DEFAULT_PRIORITY_BY_RISK
from store.vocabulary import RiskLevel

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.@:\-]{1,128}$")


def check_identifier(value: str, what: str) -> str:
    """Ids and skill names end up inside keys and bucket names: no separators, no spaces."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise InvalidIdentifier(f"{what} must be 1-128 of A-Z a-z 0-9 _ . @ : -")
    return value


@dataclass(frozen=True)
class WideningStep:
    """After ``after_seconds`` of waiting, relax the call's requirements.

    Dropping the language sets the call's ``interpreter`` flag: any agent may take it and
    bring in an interpreter.
    """

    after_seconds: float
    drop_language: bool = False
    drop_specialties: bool = False


DEFAULT_WIDENING = (
    WideningStep(90.0, drop_language=True),
    WideningStep(180.0, drop_specialties=True),
)


@dataclass(frozen=True)
class QueueConfig:
    queue_id: str
    widening: tuple[WideningStep, ...] = DEFAULT_WIDENING
    max_wait_seconds: float = 900.0
    ageing_points_per_second: float = 1.0
    urgent_team: str | None = None
    """Severe calls enqueued here also start this team's ladder (same call, same log)."""
    overflow_when_unstaffed: bool = True
    """With no agent of this queue logged in (on break counts as in), overflow at once rather
    than keep a caller waiting out the maximum wait for nobody."""


@dataclass(frozen=True)
class EscalationTier:
    members: tuple[str, ...]
    delay_seconds: float
    """Seconds before the next tier is rung (for the last tier: before it is rung again)."""


@dataclass(frozen=True)
class EscalationTeam:
    team_id: str
    tiers: tuple[EscalationTier, ...]
    supervisor_alert_tier: int = 2
    repeat_seconds: float | None = None
    """Re-ring interval once the top tier is reached; the top tier's delay if unset."""

    def ladder_spec(self, escalation_id: str, reason: str, call_id: str | None) -> dict[str, Any]:
        """The ladder as it is copied into Redis when an escalation starts."""
        repeat = self.repeat_seconds or self.tiers[-1].delay_seconds
        return {
            "id": escalation_id,
            "team": self.team_id,
            "reason": reason,
            "call": call_id or "",
            "tiers": [
                {"members": list(tier.members), "delay": tier.delay_seconds} for tier in self.tiers
            ],
            "alert_tier": self.supervisor_alert_tier,
            "repeat_s": repeat,
        }


@dataclass(frozen=True)
class RouterConfig:
    queues: Mapping[str, QueueConfig] = field(default_factory=dict)
    default_queue: QueueConfig = QueueConfig("default")
    """Used for a queue name nobody configured: a call is never refused for a typo."""
    teams: Mapping[str, EscalationTeam] = field(default_factory=dict)
    backup_targets: Mapping[str, str] = field(default_factory=dict)
    """Line id -> where its calls overflow. Kept out of Redis (numbers are personal-ish)."""
    fallback_target: str = "fallback"
    """Static route for a line without a backup (safety rule 1)."""
    priority_by_risk: Mapping[RiskLevel, int] = field(
        default_factory=lambda: DEFAULT_PRIORITY_BY_RISK
    )
    severe_risk: RiskLevel = RiskLevel.EXTREMO
    urgent_risk: RiskLevel = RiskLevel.ALTO
    """Risk before language: a call at this risk or above, or a silent call, goes to the first
    free agent of its queue at once, waiting neither for her language (a free agent who speaks
    it is still preferred; otherwise an interpreter is marked as needed) nor for a specialist.
    Only lower risks wait for a speaker or a specialist, until the queue's widening. A transfer
    to a named agent still waits for her."""
    wrap_up_yields_to: RiskLevel = RiskLevel.EXTREMO
    """A call at this risk or above, or a silent call, with nobody available is offered to an
    agent in wrap-up (the one nearest its end) rather than wait for her notes."""
    offer_timeout_seconds: float = 15.0
    wrap_up_seconds: float = 30.0
    missed_offers_before_break: int = 2
    decline_cooldown_seconds: float = 60.0
    service_level_seconds: float = 20.0
    day_offset_seconds: int = 0
    """Offset from UTC of the service day used by "today" figures."""
    ended_ttl_seconds: int = 86400
    outbox_grace_seconds: float = 10.0
    scan_depth: int = 16
    """How many waiting calls per bucket a free agent looks past (calls they declined)."""

    def __post_init__(self) -> None:
        self.validate()

    def queue(self, queue_id: str) -> QueueConfig:
        return self.queues.get(queue_id) or QueueConfig(
            queue_id,
            widening=self.default_queue.widening,
            max_wait_seconds=self.default_queue.max_wait_seconds,
            ageing_points_per_second=self.default_queue.ageing_points_per_second,
            urgent_team=self.default_queue.urgent_team,
            overflow_when_unstaffed=self.default_queue.overflow_when_unstaffed,
        )

    def backup_target(self, line_id: str) -> str:
        return self.backup_targets.get(line_id, self.fallback_target)

    def team(self, team_id: str) -> EscalationTeam | None:
        return self.teams.get(team_id)

    def validate(self) -> None:
        for name, queue in [*self.queues.items(), ("default", self.default_queue)]:
            check_identifier(queue.queue_id, "queue id")
            if name != "default" and name != queue.queue_id:
                raise ConfigurationInvalid(f"queue {name!r} is keyed under another id")
            if queue.ageing_points_per_second <= 0:
                raise ConfigurationInvalid(f"queue {name!r}: ageing must be positive")
            if queue.max_wait_seconds <= 0:
                raise ConfigurationInvalid(f"queue {name!r}: max wait must be positive")
            afters = [step.after_seconds for step in queue.widening]
            if afters != sorted(afters) or any(after < 0 for after in afters):
                raise ConfigurationInvalid(f"queue {name!r}: widening steps out of order")
            if queue.urgent_team is not None and queue.urgent_team not in self.teams:
                raise ConfigurationInvalid(f"queue {name!r}: unknown team {queue.urgent_team!r}")
        for team_id, team in self.teams.items():
            check_identifier(team_id, "team id")
            if not team.tiers or any(not tier.members for tier in team.tiers):
                raise ConfigurationInvalid(f"team {team_id!r}: every tier needs members")
            if any(tier.delay_seconds <= 0 for tier in team.tiers):
                raise ConfigurationInvalid(f"team {team_id!r}: tier delays must be positive")
            if team.repeat_seconds is not None and team.repeat_seconds <= 0:
                raise ConfigurationInvalid(f"team {team_id!r}: repeat must be positive")
            for tier in team.tiers:
                for member in tier.members:
                    check_identifier(member, "team member id")
        if set(self.priority_by_risk) != set(RiskLevel):
            raise ConfigurationInvalid("priority_by_risk must give every risk level")
        ranked = [self.priority_by_risk[level] for level in RiskLevel]
        if ranked != sorted(ranked):
            raise ConfigurationInvalid("priority_by_risk must not fall as risk rises")
        if self.offer_timeout_seconds <= 0 or self.missed_offers_before_break < 1:
            raise ConfigurationInvalid("offer timeout and missed-offer limit must be positive")
        if self.wrap_up_seconds < 0 or self.decline_cooldown_seconds < 0:
            raise ConfigurationInvalid("wrap-up and cool-down must not be negative")
        if self.scan_depth < 1:
            raise ConfigurationInvalid("scan_depth must be at least 1")

    def script_settings(self, channel_prefix: str) -> dict[str, Any]:
        """The router-wide values every Lua script receives."""
        return {
            "offer_timeout": self.offer_timeout_seconds,
            "wrap_up": self.wrap_up_seconds,
            "missed_limit": self.missed_offers_before_break,
            "cooldown": self.decline_cooldown_seconds,
            "service_level": self.service_level_seconds,
            "day_offset": self.day_offset_seconds,
            "ended_ttl": self.ended_ttl_seconds,
            "outbox_grace": self.outbox_grace_seconds,
            "scan": self.scan_depth,
            "wrap_yield_rank": self.wrap_up_yields_to.rank,
            "personal_skill": PERSONAL_SKILL_PREFIX,
            "channel": channel_prefix,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RouterConfig:
        """Build from JSON-like data (``queues``/``teams`` as lists, times in seconds)."""
        queues = {
            item["queue_id"]: QueueConfig(
                queue_id=item["queue_id"],
                widening=tuple(WideningStep(**step) for step in item.get("widening", ()))
                if "widening" in item
                else DEFAULT_WIDENING,
                max_wait_seconds=float(item.get("max_wait_seconds", 900.0)),
                ageing_points_per_second=float(item.get("ageing_points_per_second", 1.0)),
                urgent_team=item.get("urgent_team"),
                overflow_when_unstaffed=bool(item.get("overflow_when_unstaffed", True)),
            )
            for item in data.get("queues", ())
        }
        teams = {
            item["team_id"]: EscalationTeam(
                team_id=item["team_id"],
                tiers=tuple(
                    EscalationTier(tuple(tier["members"]), float(tier["delay_seconds"]))
                    for tier in item["tiers"]
                ),
                supervisor_alert_tier=int(item.get("supervisor_alert_tier", 2)),
                repeat_seconds=item.get("repeat_seconds"),
            )
            for item in data.get("teams", ())
        }
        scalars = {
            name: data[name]
            for name in (
                "fallback_target",
                "offer_timeout_seconds",
                "wrap_up_seconds",
                "missed_offers_before_break",
                "decline_cooldown_seconds",
                "service_level_seconds",
                "day_offset_seconds",
                "ended_ttl_seconds",
                "outbox_grace_seconds",
                "scan_depth",
            )
            if name in data
        }
        priority = data.get("priority_by_risk")
        return cls(
            queues=MappingProxyType(queues),
            teams=MappingProxyType(teams),
            backup_targets=MappingProxyType(dict(data.get("backup_targets", {}))),
            priority_by_risk=(
                MappingProxyType({RiskLevel(k): int(v) for k, v in priority.items()})
                if priority
                else DEFAULT_PRIORITY_BY_RISK
            ),
            severe_risk=RiskLevel(data.get("severe_risk", RiskLevel.EXTREMO)),
            urgent_risk=RiskLevel(data.get("urgent_risk", RiskLevel.ALTO)),
            wrap_up_yields_to=RiskLevel(data.get("wrap_up_yields_to", RiskLevel.EXTREMO)),
            **scalars,
        )
