"""Escalation ladders with a hand-moved clock: tiers, supervisor alerts, re-ringing, stop."""

from __future__ import annotations

import threading

import pytest

from routing import EscalationTeam, EscalationTier, QueueConfig, Router, RouterConfig
from routing.ports import MemoryCallControl, MemoryCallLog, MemoryNotifier
from routing.views import open_escalations
from store.vocabulary import RiskLevel
from tests.unit.routing.conftest import Harness, MakeHarness

TEAM = EscalationTeam(
    "urgent",
    tiers=(
        EscalationTier(("m1", "m2"), delay_seconds=30),
        EscalationTier(("m3",), delay_seconds=60),
    ),
)
CONFIG = RouterConfig(
    teams={"urgent": TEAM},
    queues={"default": QueueConfig("default", urgent_team="urgent", overflow_when_unstaffed=False)},
)


@pytest.fixture
def ladder(make_harness: MakeHarness) -> Harness:
    return make_harness(CONFIG)


def rung(harness: Harness) -> list[tuple[str, int]]:
    return [(member, tier) for member, _, tier in harness.control.rings]


def alerts(harness: Harness) -> list[str]:
    return [kind for kind, _ in harness.notifier.supervisor_alerts]


def test_given_an_escalation_then_tier_one_is_rung_at_once(ladder: Harness) -> None:
    result = ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    assert result.status == "started"
    assert sorted(rung(ladder)) == [("m1", 1), ("m2", 1)]
    assert alerts(ladder) == []


def test_given_no_answer_then_tier_two_and_supervisors_after_the_delay(ladder: Harness) -> None:
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    ladder.advance(29.9)
    assert len(rung(ladder)) == 2
    ladder.advance(0.1)
    assert rung(ladder)[2:] == [("m3", 2)]
    assert alerts(ladder) == ["escalation_supervisor_alert"]
    [view] = open_escalations(ladder.client, ladder.now)
    assert (view.tier, view.round, view.open_for) == (2, 0, 30)


def test_given_still_no_answer_then_the_top_tier_rings_again_until_acknowledged(
    ladder: Harness,
) -> None:
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    ladder.advance(30)
    for _ in range(5):
        ladder.advance(60)
    assert rung(ladder)[2:] == [("m3", 2)] * 6
    assert alerts(ladder).count("escalation_supervisor_alert") == 6
    result = ladder.router.acknowledge("alarm-1", "m3", ladder.now)
    assert result.status == "acknowledged"
    assert ladder.control.stopped == ["alarm-1"]
    ladder.advance(600)
    assert len(rung(ladder)) == 8
    assert open_escalations(ladder.client, ladder.now) == []
    late = ladder.router.acknowledge("alarm-1", "m1", ladder.now)
    assert (late.status, late.result["acknowledged_by"]) == ("already_acknowledged", "m3")


def test_given_an_early_acknowledgement_then_no_tier_two(ladder: Harness) -> None:
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    ladder.advance(10)
    ladder.router.acknowledge("alarm-1", "m2", ladder.now)
    ladder.advance(100)
    assert sorted(rung(ladder)) == [("m1", 1), ("m2", 1)]


def test_given_a_retried_alarm_then_the_ladder_is_not_restarted(ladder: Harness) -> None:
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    ladder.advance(5)
    again = ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    assert again.status == "duplicate"
    assert len(rung(ladder)) == 2


def test_given_an_on_call_rota_then_only_members_on_call_are_rung(ladder: Harness) -> None:
    ladder.router.set_on_call("urgent", ["m2", "m3"])
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    assert rung(ladder) == [("m2", 1)]


def test_given_nobody_of_a_tier_on_call_then_all_are_rung_and_supervisors_told(
    ladder: Harness,
) -> None:
    ladder.router.set_on_call("urgent", ["m3"])
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    assert sorted(rung(ladder)) == [("m1", 1), ("m2", 1)]
    assert alerts(ladder) == ["escalation_tier_unstaffed"]


def test_every_step_is_an_event_in_the_calls_log(ladder: Harness) -> None:
    ladder.agent("m3", queues=("default",))
    ladder.router.escalate("esc-9", "urgent", "duress", ladder.now, call_id="call-9")
    ladder.advance(30)
    ladder.router.acknowledge("esc-9", "m3", ladder.now)
    assert ladder.log.kinds("call-9") == [
        "escalation_started",
        "escalation_step",
        "ring",
        "ring",
        "call_member",
        "call_member",
        "escalation_step",
        "ring",
        "escalation_supervisor_alert",
        "escalation_acknowledged",
    ]


def test_given_a_severe_call_in_a_queue_with_an_urgent_team_then_its_ladder_starts(
    ladder: Harness,
) -> None:
    ladder.call("c-severe", risk=RiskLevel.EXTREMO)
    assert sorted(rung(ladder)) == [("m1", 1), ("m2", 1)]
    [view] = open_escalations(ladder.client, ladder.now)
    assert (view.escalation_id, view.call_id) == ("call:c-severe", "c-severe")
    ladder.call("c-medio", risk=RiskLevel.MEDIO)
    assert len(rung(ladder)) == 2


def test_given_a_duress_raise_to_severe_then_the_ladder_starts_once(ladder: Harness) -> None:
    ladder.call("c1", risk=RiskLevel.MEDIO)
    ladder.router.raise_priority("c1", ladder.now, risk=RiskLevel.EXTREMO, reason="duress")
    ladder.router.raise_priority("c1", ladder.now, risk=RiskLevel.EXTREMO, reason="duress")
    assert sorted(rung(ladder)) == [("m1", 1), ("m2", 1)]


def test_given_many_processes_ticking_at_once_then_each_tier_is_taken_once(
    ladder: Harness,
) -> None:
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    controls = [MemoryCallControl() for _ in range(6)]
    routers = [
        Router(ladder.client, CONFIG, MemoryCallLog(), MemoryNotifier(), control)
        for control in controls
    ]
    tick_at = ladder.now + 30
    barrier = threading.Barrier(len(routers))

    def tick(router: Router) -> None:
        barrier.wait()
        router.sweep(tick_at)

    threads = [threading.Thread(target=tick, args=(router,)) for router in routers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    all_rings = [ring for control in controls for ring in control.rings]
    assert [(member, tier) for member, _, tier in all_rings] == [("m3", 2)]


def called(harness: Harness) -> list[str]:
    return [member for member, _ in harness.control.member_calls]


def test_given_members_signed_out_then_they_are_phoned_at_once(ladder: Harness) -> None:
    ladder.agent("m1", queues=("default",))
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    assert sorted(rung(ladder)) == [("m1", 1), ("m2", 1)]
    assert called(ladder) == ["m2"]


def test_given_a_member_rung_on_her_console_without_acknowledging_then_she_is_phoned_after_the_tier_delay(  # noqa: E501
    ladder: Harness,
) -> None:
    ladder.agent("m1", queues=("default",))
    ladder.agent("m2", queues=("default",))
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    assert called(ladder) == []
    ladder.advance(30)
    assert sorted(called(ladder)) == ["m1", "m2", "m3"]
    ladder.advance(59)
    assert sorted(called(ladder)) == ["m1", "m2", "m3"], "each member is phoned once a round"
    for _ in range(3):
        ladder.advance(60)
    assert sorted(called(ladder)[3:]) == ["m3"] * 3, "the top tier, again each round"


def test_given_the_whole_ladder_unanswered_then_the_urgent_number_is_dialled_once(
    ladder: Harness,
) -> None:
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    ladder.advance(30)
    assert ladder.control.urgent_calls == []
    ladder.advance(60)
    assert ladder.control.urgent_calls == ["alarm-1"]
    ladder.advance(60)
    ladder.advance(60)
    assert ladder.control.urgent_calls == ["alarm-1"]


def test_given_an_acknowledgement_then_nobody_else_is_phoned(ladder: Harness) -> None:
    ladder.agent("m1", queues=("default",))
    ladder.agent("m2", queues=("default",))
    ladder.router.escalate("alarm-1", "urgent", "assault", ladder.now)
    ladder.advance(10)
    ladder.router.acknowledge("alarm-1", "m1", ladder.now)
    ladder.advance(600)
    assert called(ladder) == []
    assert ladder.control.urgent_calls == []


def test_given_a_free_member_answers_at_her_console_then_the_waiting_woman_is_offered_to_her(
    ladder: Harness,
) -> None:
    ladder.agent("m1", languages=("en",), queues=("other",))
    ladder.call("c-severe", risk=RiskLevel.EXTREMO)
    assert ladder.call_field("c-severe", "status") == "waiting"
    result = ladder.router.acknowledge("call:c-severe", "m1", ladder.now, offer_call=True)
    assert result.result["call_offered"] is True
    assert (ladder.call_field("c-severe", "status"), ladder.call_field("c-severe", "agent")) == (
        "offered",
        "m1",
    )
    assert ladder.call_field("c-severe", "interpreter_needed") == "es"
    assert ladder.router.accept("c-severe", "m1", ladder.now).status == "answered"


def test_given_the_member_is_busy_or_answers_by_phone_then_the_woman_keeps_her_place(
    ladder: Harness,
) -> None:
    ladder.agent("m2")
    ladder.call("c-first")
    assert ladder.router.accept("c-first", "m2", ladder.now).status == "answered"
    ladder.call("c-severe", risk=RiskLevel.EXTREMO)
    busy = ladder.router.acknowledge("call:c-severe", "m2", ladder.now, offer_call=True)
    assert busy.result["call_offered"] is False
    assert ladder.call_field("c-severe", "status") == "waiting"
    ladder.call("c-other", risk=RiskLevel.EXTREMO)
    ladder.agent("m1", queues=("other",))
    by_phone = ladder.router.acknowledge("call:c-other", "m1", ladder.now)
    assert by_phone.result["call_offered"] is False
    assert ladder.call_field("c-other", "status") == "waiting"


@pytest.mark.parametrize("away", ["break", "offline"])
def test_given_a_member_not_taking_calls_answers_then_she_is_offered_the_woman_and_goes_back_after(
    ladder: Harness, away: str
) -> None:
    ladder.agent("m1", available=False)
    ladder.router.set_agent_state("m1", away, ladder.now)
    ladder.call("c-severe", risk=RiskLevel.EXTREMO)
    ladder.call("c-next", risk=RiskLevel.BAJO)
    result = ladder.router.acknowledge("call:c-severe", "m1", ladder.now, offer_call=True)
    assert result.result["call_offered"] is True
    assert ladder.agent_field("m1", "state") == "offered"
    ladder.router.accept("c-severe", "m1", ladder.now)
    ladder.router.hangup("c-severe", ladder.now)
    ladder.advance(600)
    assert ladder.agent_field("m1", "state") == away
    assert ladder.call_field("c-next", "agent") in (None, ""), "she takes no other call"


@pytest.mark.parametrize("lets_it_pass", ["reject", "timeout", "caller_hangs_up"])
def test_given_she_lets_the_offer_pass_then_she_is_back_on_her_break(
    ladder: Harness, lets_it_pass: str
) -> None:
    ladder.agent("m1", available=False)
    ladder.router.set_agent_state("m1", "break", ladder.now)
    ladder.call("c-severe", risk=RiskLevel.EXTREMO)
    ladder.router.acknowledge("call:c-severe", "m1", ladder.now, offer_call=True)
    if lets_it_pass == "reject":
        ladder.router.reject("c-severe", "m1", ladder.now)
    elif lets_it_pass == "timeout":
        ladder.advance(20)
    else:
        ladder.router.hangup("c-severe", ladder.now)
    assert ladder.agent_field("m1", "state") == "break"
    assert ladder.agent_field("m1", "after_call") in (None, "")
