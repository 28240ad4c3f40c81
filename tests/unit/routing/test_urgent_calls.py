"""Risk before language: alto and extremo callers, and silent callers, go to the first free
agent at once (a speaker preferred, else anyone with an interpreter marked as needed), wait for
no specialist, and with nobody available an extremo or silent call is offered to an agent in
wrap-up. Lower risks still wait for a speaker until the queue's widening."""

from __future__ import annotations

from typing import Any

from routing import CallRequest
from routing.channels import personal_skill
from routing.invariants import find_violations
from store.vocabulary import RiskLevel
from tests.unit.routing.conftest import Harness


def _offered_to(harness: Harness, agent_id: str) -> str | None:
    if harness.agent_field(agent_id, "state") != "offered":
        return None
    return harness.agent_field(agent_id, "call")


def _event(harness: Harness, call_id: str, kind: str) -> dict[str, Any]:
    found = [data for cid, k, data, _ in harness.log.entries if cid == call_id and k == kind]
    assert found, f"no {kind} for {call_id}"
    return found[-1]


def _enqueue(
    harness: Harness,
    call_id: str,
    risk: RiskLevel,
    language: str | None = "es",
    specialties: frozenset[str] = frozenset(),
    flags: frozenset[str] = frozenset(),
) -> None:
    harness.router.enqueue(
        CallRequest(
            call_id=call_id,
            queue="default",
            risk=risk,
            language=language,
            specialties=specialties,
            flags=flags,
            line_id="line-1",
        ),
        harness.now,
    )


def _into_wrap_up(harness: Harness, agent_id: str, call_id: str) -> None:
    harness.agent(agent_id)
    harness.call(call_id)
    assert harness.router.accept(call_id, agent_id, harness.now).status == "answered"
    assert harness.router.hangup(call_id, harness.now).status == "completed"
    assert harness.agent_field(agent_id, "state") == "wrap_up"


def test_given_an_extremo_caller_in_arabic_and_only_a_spanish_speaker_free_then_she_is_offered_at_once_with_an_interpreter_needed(  # noqa: E501
    harness: Harness,
) -> None:
    harness.agent("es-only")
    _enqueue(harness, "c-ar", RiskLevel.EXTREMO, language="ar")
    assert _offered_to(harness, "es-only") == "c-ar"
    offered = _event(harness, "c-ar", "offered")
    assert (offered["language"], offered["interpreter_needed"]) == ("ar", "ar")
    answered = harness.router.accept("c-ar", "es-only", harness.now)
    assert answered.result["interpreter_needed"] == "ar"
    assert _event(harness, "c-ar", "answered")["interpreter_needed"] == "ar"
    assert find_violations(harness.client, harness.now) == []


def test_given_an_alto_caller_and_a_free_speaker_then_the_speaker_takes_her_without_interpreter(
    harness: Harness,
) -> None:
    harness.agent("es-only")
    harness.clock.advance(5)
    harness.agent("ar-speaker", languages=("ar", "es"))
    _enqueue(harness, "c-ar", RiskLevel.ALTO, language="ar")
    assert _offered_to(harness, "ar-speaker") == "c-ar"
    assert _event(harness, "c-ar", "offered")["interpreter_needed"] is False


def test_given_a_medio_caller_in_arabic_then_she_still_waits_for_a_speaker(
    harness: Harness,
) -> None:
    harness.agent("es-only")
    _enqueue(harness, "c-ar", RiskLevel.MEDIO, language="ar")
    assert harness.call_field("c-ar", "status") == "waiting"


def test_given_a_silent_caller_whose_language_was_guessed_from_her_number_then_any_agent_takes_her(
    harness: Harness,
) -> None:
    harness.agent("es-only")
    _enqueue(harness, "c-silent", RiskLevel.MEDIO, language="ro", flags=frozenset({"silent"}))
    assert _offered_to(harness, "es-only") == "c-silent"


def test_given_an_extremo_caller_with_a_legal_question_then_no_specialist_is_awaited(
    harness: Harness,
) -> None:
    harness.agent("generalist")
    _enqueue(harness, "c-legal", RiskLevel.EXTREMO, specialties=frozenset({"legal"}))
    assert _offered_to(harness, "generalist") == "c-legal"
    assert harness.call_field("c-legal", "req_specs") == ",legal,"


def test_given_an_extremo_call_transferred_to_a_named_agent_then_it_still_waits_for_her(
    harness: Harness,
) -> None:
    harness.agent("someone-else")
    named = frozenset({personal_skill("ana")})
    _enqueue(harness, "c-t1", RiskLevel.EXTREMO, specialties=named)
    assert _offered_to(harness, "someone-else") is None
    harness.agent("ana", specialties=(personal_skill("ana"),))
    assert _offered_to(harness, "ana") == "c-t1"


def test_given_a_waiting_medio_call_raised_to_alto_then_it_stops_waiting_for_her_language(
    harness: Harness,
) -> None:
    harness.agent("es-only")
    _enqueue(harness, "c-ar", RiskLevel.MEDIO, language="ar")
    assert harness.call_field("c-ar", "status") == "waiting"
    harness.router.raise_priority("c-ar", harness.now, risk=RiskLevel.ALTO)
    assert _offered_to(harness, "es-only") == "c-ar"
    assert _event(harness, "c-ar", "widened")["reason"] == "urgent"
    assert find_violations(harness.client, harness.now) == []


def test_given_a_waiting_call_flagged_silent_then_it_stops_waiting_for_her_language(
    harness: Harness,
) -> None:
    harness.agent("es-only")
    _enqueue(harness, "c-ar", RiskLevel.BAJO, language="ar")
    harness.router.raise_priority("c-ar", harness.now, flags={"silent"})
    assert _offered_to(harness, "es-only") == "c-ar"


def test_given_everyone_in_wrap_up_then_an_extremo_call_is_offered_to_the_one_nearest_its_end(
    harness: Harness,
) -> None:
    _into_wrap_up(harness, "a1", "c1")
    harness.clock.advance(10)
    _into_wrap_up(harness, "a2", "c2")
    _enqueue(harness, "c-severe", RiskLevel.EXTREMO)
    assert _offered_to(harness, "a1") == "c-severe"
    assert harness.agent_field("a2", "state") == "wrap_up"
    assert find_violations(harness.client, harness.now) == []
    assert harness.router.accept("c-severe", "a1", harness.now).status == "answered"
    harness.advance(60)
    assert harness.agent_field("a1", "state") == "on_call"
    assert find_violations(harness.client, harness.now) == []


def test_given_a_medio_call_and_everyone_in_wrap_up_then_it_waits_for_the_end_of_wrap_up(
    harness: Harness,
) -> None:
    _into_wrap_up(harness, "a1", "c1")
    _enqueue(harness, "c-medio", RiskLevel.MEDIO)
    assert harness.call_field("c-medio", "status") == "waiting"
    harness.advance(30)
    assert _offered_to(harness, "a1") == "c-medio"
    assert find_violations(harness.client, harness.now) == []


def test_given_an_extremo_call_waiting_when_a_call_ends_then_its_agent_is_offered_it_before_wrap_up(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.call("c1")
    harness.router.accept("c1", "a1", harness.now)
    _enqueue(harness, "c-severe", RiskLevel.EXTREMO)
    _enqueue(harness, "c-medio", RiskLevel.MEDIO)
    harness.router.hangup("c1", harness.now)
    assert _offered_to(harness, "a1") == "c-severe"
    assert harness.call_field("c-medio", "status") == "waiting"
    assert find_violations(harness.client, harness.now) == []


def test_given_an_agent_in_wrap_up_who_asked_for_a_break_after_it_then_no_extremo_offer(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.call("c1")
    harness.router.accept("c1", "a1", harness.now)
    harness.router.set_agent_state("a1", "break", harness.now)
    harness.router.hangup("c1", harness.now)
    _enqueue(harness, "c-severe", RiskLevel.EXTREMO)
    assert harness.agent_field("a1", "state") == "wrap_up"
    assert harness.call_field("c-severe", "status") == "waiting"


def test_given_a_missed_offer_made_in_wrap_up_then_the_agent_is_available_and_indexes_agree(
    harness: Harness,
) -> None:
    _into_wrap_up(harness, "a1", "c1")
    _enqueue(harness, "c-severe", RiskLevel.EXTREMO)
    harness.advance(15)
    assert harness.agent_field("a1", "state") == "available"
    assert harness.call_field("c-severe", "status") == "waiting"
    assert find_violations(harness.client, harness.now) == []
