"""Offers: longest-idle qualified agent, accept, reject, timeout, never two at once."""

from __future__ import annotations

from store.vocabulary import RiskLevel
from tests.unit.routing.conftest import Harness


def test_given_two_free_agents_when_a_call_arrives_then_the_longest_idle_is_offered(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.clock.advance(5)
    harness.agent("a2")
    result = harness.call("c1")
    assert result.status == "enqueued"
    assert [(e.agent_id, e.call_id) for e in result.offers] == [("a1", "c1")]
    assert harness.notifier.offers[0][:2] == ("a1", "c1")
    assert harness.agent_field("a1", "state") == "offered"
    assert harness.agent_field("a2", "state") == "available"


def test_given_an_offer_when_accepted_then_call_is_answered_and_agent_on_call(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.call("c1")
    harness.clock.advance(3)
    result = harness.router.accept("c1", "a1", harness.now)
    assert result.ok and result.status == "answered"
    assert result.result["waited"] == 3
    assert harness.call_field("c1", "status") == "answered"
    assert harness.agent_field("a1", "state") == "on_call"
    again = harness.router.accept("c1", "a1", harness.now)
    assert again.ok and again.status == "already_accepted"


def test_given_an_offer_to_one_agent_when_another_accepts_then_it_is_refused(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.agent("a2")
    harness.call("c1")
    result = harness.router.accept("c1", "a2", harness.now)
    assert not result.ok
    assert result.error_id == "routing.offer_not_current"


def test_given_a_reject_then_the_call_goes_to_the_next_agent_not_back(harness: Harness) -> None:
    harness.agent("a1")
    harness.clock.advance(1)
    harness.agent("a2")
    harness.call("c1")
    result = harness.router.reject("c1", "a1", harness.now)
    assert result.status == "rejected"
    assert [(e.agent_id, e.call_id) for e in result.offers] == [("a2", "c1")]
    assert harness.agent_field("a1", "state") == "available"
    harness.router.reject("c1", "a2", harness.now)
    assert harness.call_field("c1", "status") == "waiting"


def test_given_an_offer_not_answered_in_15s_then_it_goes_to_the_next_agent(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.clock.advance(1)
    harness.agent("a2")
    harness.call("c1")
    harness.advance(14.9)
    assert harness.call_field("c1", "agent") == "a1"
    harness.advance(0.2)
    assert harness.call_field("c1", "agent") == "a2"
    assert harness.agent_field("a1", "missed") == "1"
    assert harness.notifier.withdrawals == [("a1", "c1", "timed_out")]


def test_given_two_missed_offers_in_a_row_then_agent_on_break_and_supervisors_told(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.call("c1")
    harness.advance(16)
    assert harness.agent_field("a1", "state") == "available"
    harness.call("c2")
    assert harness.call_field("c2", "agent") == "a1"
    harness.advance(16)
    assert harness.agent_field("a1", "state") == "break"
    kinds = [kind for kind, _ in harness.notifier.supervisor_alerts]
    assert "agent_sent_to_break" in kinds


def test_given_an_accept_between_misses_then_the_count_starts_again(harness: Harness) -> None:
    harness.agent("a1")
    harness.call("c1")
    harness.advance(16)
    harness.call("c2")
    harness.router.accept("c2", "a1", harness.now)
    assert harness.agent_field("a1", "missed") == "0"


def test_given_a_busy_agent_then_no_second_offer_is_made(harness: Harness) -> None:
    harness.agent("a1")
    harness.call("c1")
    second = harness.call("c2")
    assert second.offers == ()
    assert harness.call_field("c2", "status") == "waiting"


def test_given_wrap_up_then_agent_gets_the_next_call_when_it_ends(harness: Harness) -> None:
    harness.agent("a1")
    harness.call("c1")
    harness.router.accept("c1", "a1", harness.now)
    harness.call("c2", risk=RiskLevel.BAJO)
    harness.clock.advance(60)
    harness.router.hangup("c1", harness.now)
    assert harness.agent_field("a1", "state") == "wrap_up"
    harness.advance(29)
    assert harness.agent_field("a1", "state") == "wrap_up"
    harness.advance(1)
    assert harness.agent_field("a1", "state") == "offered"
    assert harness.call_field("c2", "agent") == "a1"


def test_given_agent_goes_on_break_while_offered_then_call_is_offered_to_next(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.clock.advance(1)
    harness.agent("a2")
    harness.call("c1")
    result = harness.router.set_agent_state("a1", "break", harness.now)
    assert [(e.agent_id, e.call_id) for e in result.offers] == [("a2", "c1")]
    assert harness.agent_field("a1", "state") == "break"
