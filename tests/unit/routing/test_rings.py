"""Which open ladders ring a person now (the console's list of rings): the members of every
tier a ladder has reached who are on the team's rota, everybody in a tier with nobody on it."""

from __future__ import annotations

import pytest

from routing import EscalationTeam, EscalationTier, Router, RouterConfig
from routing.views import ladder, rings_for
from tests.unit.routing.conftest import Harness, MakeHarness

TEAM = EscalationTeam(
    "urgent",
    tiers=(
        EscalationTier(("m1", "m2"), delay_seconds=30),
        EscalationTier(("m3",), delay_seconds=60),
    ),
)


@pytest.fixture
def team(make_harness: MakeHarness) -> Harness:
    return make_harness(RouterConfig(teams={"urgent": TEAM}))


def ringing(harness: Harness, member: str) -> list[str]:
    return [ring.escalation_id for ring in rings_for(harness.client, member)]


def test_given_a_new_ladder_then_only_tier_one_is_rung(team: Harness) -> None:
    team.router.escalate("alarm:1", "urgent", "device_alarm", team.now)
    assert (ringing(team, "m1"), ringing(team, "m2"), ringing(team, "m3")) == (
        ["alarm:1"],
        ["alarm:1"],
        [],
    )
    [ring] = rings_for(team.client, "m1")
    assert (ring.reason, ring.team_id, ring.since) == ("device_alarm", "urgent", team.now)


def test_given_the_ladder_climbs_then_both_tiers_ring_oldest_first(team: Harness) -> None:
    team.router.escalate("alarm:1", "urgent", "device_alarm", team.now)
    team.advance(10)
    team.router.escalate("call:2", "urgent", "severe_call", team.now, "2")
    team.advance(25)
    assert ringing(team, "m3") == ["alarm:1"]
    assert ringing(team, "m1") == ["alarm:1", "call:2"]


def test_given_a_rota_then_members_off_it_are_not_rung_unless_their_tier_has_nobody_on_it(
    team: Harness,
) -> None:
    router: Router = team.router
    router.set_on_call("urgent", ["m2"])
    router.escalate("alarm:1", "urgent", "device_alarm", team.now)
    assert (ringing(team, "m1"), ringing(team, "m2")) == ([], ["alarm:1"])
    team.advance(30)
    assert ringing(team, "m3") == ["alarm:1"], "tier 2 has nobody on the rota: all of it rings"


def test_given_an_acknowledgement_then_nobody_is_rung_and_the_ladder_remembers_who(
    team: Harness,
) -> None:
    team.router.escalate("alarm:1", "urgent", "device_alarm", team.now)
    team.router.acknowledge("alarm:1", "m2", team.now)
    assert ringing(team, "m1") == []
    found = ladder(team.client, "alarm:1")
    assert found is not None and (found.status, found.acknowledged_by) == ("acknowledged", "m2")
    assert ladder(team.client, "alarm:nope") is None
