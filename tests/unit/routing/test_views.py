"""Supervisor views: waiting calls, agents by state, today's service level."""

from __future__ import annotations

from routing import AgentState
from routing.views import agents_by_state, service_level_today, waiting_calls
from store.vocabulary import RiskLevel
from tests.unit.routing.conftest import Harness


def test_waiting_calls_are_grouped_by_queue_risk_and_language_with_longest_wait(
    harness: Harness,
) -> None:
    harness.call("c1", risk=RiskLevel.BAJO, language="es")
    harness.clock.advance(10)
    harness.call("c2", risk=RiskLevel.BAJO, language="es")
    harness.call("c3", risk=RiskLevel.EXTREMO, language="ar")
    harness.clock.advance(5)
    groups = waiting_calls(harness.client, harness.now)
    assert [(g.risk, g.language, g.waiting, g.longest_wait) for g in groups] == [
        (RiskLevel.EXTREMO, "ar", 1, 5),
        (RiskLevel.BAJO, "es", 2, 15),
    ]


def test_agents_are_listed_by_state_with_time_in_state(harness: Harness) -> None:
    harness.agent("a1")
    harness.agent("a2", available=False)
    harness.call("c1")
    harness.clock.advance(4)
    states = agents_by_state(harness.client, harness.now)
    assert [a.agent_id for a in states[AgentState.OFFERED]] == ["a1"]
    assert states[AgentState.OFFERED][0].in_state_for == 4
    assert states[AgentState.OFFERED][0].call_id == "c1"
    assert [a.agent_id for a in states[AgentState.OFFLINE]] == ["a2"]


def test_service_level_counts_answers_within_20s_against_all_that_left_the_queue(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.call("fast")
    harness.clock.advance(5)
    harness.router.accept("fast", "a1", harness.now)
    harness.call("slow")
    harness.call("gone")
    harness.clock.advance(30)
    harness.router.hangup("gone", harness.now)
    harness.router.hangup("fast", harness.now)
    harness.advance(30)
    harness.router.accept("slow", "a1", harness.now)
    level = service_level_today(harness.client, harness.router.config, harness.now)
    assert (level.enqueued, level.answered, level.answered_within_threshold) == (3, 2, 1)
    assert level.abandoned == 1
    assert level.service_level == 1 / 3
    assert level.average_wait == (5 + 60) / 2
