"""Routing's configuration read from the database: queues per line, urgent teams with their
tiers, overflow targets, and the agents who serve them."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from routing.channels import personal_skill
from routing.config import EscalationTeam, EscalationTier, QueueConfig, RouterConfig, WideningStep
from routing.state import AgentProfile
from store.models import Agent, Line, Queue, Team, TeamMember


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
