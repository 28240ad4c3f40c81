"""Queues: risk priority with ageing, skills and widening, overflow, abandonment, callbacks."""

from __future__ import annotations

import pytest

from routing import QueueConfig, RouterConfig, WideningStep
from routing.invariants import find_violations
from store.vocabulary import RiskLevel
from tests.unit.routing.conftest import Harness, MakeHarness


def offered_call(harness: Harness, agent_id: str) -> str | None:
    return harness.agent_field(agent_id, "call") or None


def test_given_calls_of_every_risk_then_the_severe_one_is_answered_first(
    harness: Harness,
) -> None:
    for index, risk in enumerate(RiskLevel):
        harness.call(f"c-{risk.value}", risk=risk)
        harness.clock.advance(1 + index)
    harness.agent("a1")
    assert offered_call(harness, "a1") == "c-extremo"


def test_given_equal_risk_then_the_longest_waiting_is_answered_first(harness: Harness) -> None:
    harness.call("first", risk=RiskLevel.ALTO)
    harness.clock.advance(1)
    harness.call("second", risk=RiskLevel.ALTO)
    harness.agent("a1")
    assert offered_call(harness, "a1") == "first"


def test_given_a_supplied_priority_below_the_risk_then_the_risk_wins(harness: Harness) -> None:
    harness.call("low-priority-severe", risk=RiskLevel.EXTREMO, priority=0)
    harness.call("high-priority-medio", risk=RiskLevel.MEDIO, priority=500)
    harness.agent("a1")
    assert offered_call(harness, "a1") == "low-priority-severe"


def test_given_a_supplied_priority_above_the_risk_then_it_raises_the_call(
    harness: Harness,
) -> None:
    harness.call("silent-bajo", risk=RiskLevel.BAJO, priority=700)
    harness.call("extremo", risk=RiskLevel.EXTREMO)
    harness.agent("a1")
    assert offered_call(harness, "a1") == "silent-bajo"


def test_given_a_raised_risk_while_waiting_then_the_call_moves_ahead(harness: Harness) -> None:
    harness.call("c1", risk=RiskLevel.ALTO)
    harness.call("c2", risk=RiskLevel.BAJO)
    result = harness.router.raise_priority("c2", harness.now, risk=RiskLevel.EXTREMO)
    assert result.status == "raised"
    lowered = harness.router.raise_priority("c2", harness.now, risk=RiskLevel.BAJO)
    assert lowered.result["risk"] == "extremo"
    harness.agent("a1")
    assert offered_call(harness, "a1") == "c2"


def test_given_a_language_no_free_agent_speaks_then_the_call_waits_for_one_who_does(
    harness: Harness,
) -> None:
    harness.agent("es-only")
    harness.call("c-ar", language="ar")
    assert harness.call_field("c-ar", "status") == "waiting"
    harness.agent("ar-speaker", languages=("ar", "es"))
    assert offered_call(harness, "ar-speaker") == "c-ar"


def test_given_a_rare_language_after_90s_then_any_agent_with_interpreter_flag(
    harness: Harness,
) -> None:
    harness.agent("es-only")
    harness.call("c-uk", language="uk")
    harness.advance(89)
    assert harness.call_field("c-uk", "status") == "waiting"
    harness.advance(1)
    assert offered_call(harness, "es-only") == "c-uk"
    offer = harness.notifier.offers[-1]
    assert offer[:2] == ("es-only", "c-uk")
    assert "interpreter" in (harness.call_field("c-uk", "flags") or "")
    assert "widened" in harness.log.kinds("c-uk")


def test_given_a_widened_call_taken_by_a_speaker_then_no_interpreter_flag(
    harness: Harness,
) -> None:
    harness.call("c-en", language="en")
    harness.advance(90)
    harness.agent("en-speaker", languages=("en",))
    assert offered_call(harness, "en-speaker") == "c-en"
    assert "interpreter" not in (harness.call_field("c-en", "flags") or "")


def test_given_a_specialty_after_its_widening_step_then_any_agent(harness: Harness) -> None:
    harness.agent("generalist")
    harness.call("c-legal", specialties=("legal",))
    harness.advance(179)
    assert harness.call_field("c-legal", "status") == "waiting"
    harness.advance(1)
    assert offered_call(harness, "generalist") == "c-legal"


def test_given_a_specialist_free_then_the_specialty_call_goes_to_them(harness: Harness) -> None:
    harness.agent("generalist")
    harness.clock.advance(1)
    harness.agent("lawyer", specialties=("legal",))
    harness.call("c-legal", specialties=("legal",))
    assert offered_call(harness, "lawyer") == "c-legal"


def test_given_max_wait_then_the_call_overflows_to_its_line_backup(
    make_harness: MakeHarness,
) -> None:
    config = RouterConfig(
        queues={
            "default": QueueConfig(
                "default", widening=(), max_wait_seconds=120, overflow_when_unstaffed=False
            )
        },
        backup_targets={"line-1": "backup-centre"},
    )
    harness = make_harness(config)
    harness.call("c1")
    harness.advance(119)
    assert harness.call_field("c1", "status") == "waiting"
    harness.advance(1)
    assert harness.call_field("c1", "status") == "overflowed"
    assert harness.control.overflows == [("c1", "backup-centre")]
    assert harness.router.enqueue is not None
    again = harness.call("c1")
    assert again.status == "duplicate"


def test_given_an_unknown_line_then_overflow_uses_the_static_fallback(
    make_harness: MakeHarness,
) -> None:
    config = RouterConfig(
        default_queue=QueueConfig(
            "default", widening=(), max_wait_seconds=10, overflow_when_unstaffed=False
        ),
        fallback_target="urgent-fallback",
    )
    harness = make_harness(config)
    harness.call("c1", queue="nobody-configured-this", line_id="line-x")
    harness.advance(10)
    assert harness.control.overflows == [("c1", "urgent-fallback")]


def test_given_an_offer_out_at_max_wait_then_overflow_waits_for_it(
    make_harness: MakeHarness,
) -> None:
    config = RouterConfig(
        default_queue=QueueConfig(
            "default", widening=(), max_wait_seconds=20, overflow_when_unstaffed=False
        )
    )
    harness = make_harness(config)
    harness.call("c1")
    harness.advance(10)
    harness.agent("a1")
    harness.advance(10)
    assert harness.call_field("c1", "status") == "offered"
    harness.router.accept("c1", "a1", harness.now)
    assert harness.call_field("c1", "status") == "answered"
    assert harness.control.overflows == []


def test_given_an_abandoned_call_from_a_safe_number_then_a_callback_task(
    harness: Harness,
) -> None:
    harness.call("c1", risk=RiskLevel.ALTO, callback_eligible=True)
    harness.clock.advance(40)
    result = harness.router.hangup("c1", harness.now)
    assert result.status == "abandoned"
    [task] = harness.router.pending_callbacks()
    assert (task.call_id, task.risk, task.waited, task.language) == ("c1", RiskLevel.ALTO, 40, "es")
    assert harness.router.hangup("c1", harness.now).status == "already_ended"
    assert len(harness.router.pending_callbacks()) == 1
    assert harness.router.resolve_callback("c1")
    assert harness.router.pending_callbacks() == []


def test_given_an_abandoned_call_from_an_unknown_number_then_no_callback(
    harness: Harness,
) -> None:
    harness.call("c1")
    harness.router.hangup("c1", harness.now)
    assert harness.router.pending_callbacks() == []


def test_given_a_hangup_while_offered_then_the_agent_is_freed_for_the_next_call(
    harness: Harness,
) -> None:
    harness.agent("a1")
    harness.call("c1")
    harness.call("c2")
    harness.router.hangup("c1", harness.now)
    assert harness.notifier.withdrawals == [("a1", "c1", "caller_hung_up")]
    assert offered_call(harness, "a1") == "c2"
    assert find_violations(harness.client, harness.now) == []


def test_given_an_unknown_queue_then_the_call_is_still_taken(harness: Harness) -> None:
    result = harness.call("c1", queue="typo-queue")
    assert result.status == "enqueued"


@pytest.mark.parametrize("bad", ["with space", "a|b", "a,b", ""])
def test_given_an_identifier_with_separators_then_it_is_refused(harness: Harness, bad: str) -> None:
    from routing.errors import InvalidIdentifier

    with pytest.raises(InvalidIdentifier):
        harness.call(bad)


def test_given_a_retried_enqueue_then_nothing_is_doubled(harness: Harness) -> None:
    harness.agent("a1")
    harness.call("c1")
    assert harness.call("c1").status == "duplicate"
    assert len(harness.notifier.offers) == 1


def test_widening_step_config_is_validated() -> None:
    from routing.errors import ConfigurationInvalid

    with pytest.raises(ConfigurationInvalid):
        RouterConfig(
            queues={
                "q": QueueConfig("q", widening=(WideningStep(60), WideningStep(30))),
            }
        )


def test_given_nobody_logged_in_for_the_queue_then_the_call_overflows_at_once(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness(RouterConfig(backup_targets={"line-1": "backup-centre"}))
    harness.agent("gone-home", available=False)
    harness.call("c1")
    assert harness.call_field("c1", "status") == "overflowed"
    assert harness.control.overflows == [("c1", "backup-centre")]
    assert harness.log.entries[-1][2]["reason"] == "unstaffed"


def test_given_an_agent_on_break_then_the_queue_counts_as_staffed(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness(RouterConfig())
    harness.agent("a1")
    harness.router.set_agent_state("a1", "break", harness.now)
    harness.call("c1")
    assert harness.call_field("c1", "status") == "waiting"
    harness.router.set_agent_state("a1", "offline", harness.now)
    harness.call("c2")
    assert harness.call_field("c2", "status") == "overflowed"


def test_given_an_agent_moved_to_another_queue_then_the_old_queue_is_unstaffed(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness(RouterConfig())
    harness.agent("a1", queues=("default",))
    harness.agent("a1", queues=("other",))
    harness.call("c1", queue="default")
    assert harness.call_field("c1", "status") == "overflowed"
    harness.call("c2", queue="other")
    assert harness.call_field("c2", "status") == "offered"


def test_given_a_callback_task_with_nobody_logged_in_then_it_waits_and_leaves_no_new_task(
    make_harness: MakeHarness,
) -> None:
    from routing import CallRequest
    from routing.state import OUTBOUND_MAX_WAIT_S

    harness = make_harness(RouterConfig(backup_targets={"line-1": "backup-centre"}))
    harness.agent("gone-home", available=False)
    request = CallRequest(
        "cb1",
        "default",
        RiskLevel.EXTREMO,
        language="es",
        line_id="line-1",
        outbound=True,
        callback_eligible=True,
        flags=frozenset({"callback"}),
    )
    harness.router.enqueue(request, harness.now)
    assert harness.call_field("cb1", "status") == "waiting"
    assert harness.control.overflows == []
    assert harness.control.rings == [], "nobody is on the line: no ladder"
    harness.router.hangup("cb1", harness.now)
    assert harness.router.pending_callbacks() == []
    harness.router.enqueue(
        CallRequest("cb2", "default", RiskLevel.ALTO, line_id="line-1", outbound=True),
        harness.now,
    )
    harness.clock.advance(OUTBOUND_MAX_WAIT_S + 1)
    harness.router.sweep(harness.now)
    assert harness.control.overflows == [("cb2", "backup-centre")], "its owner hears it expired"
