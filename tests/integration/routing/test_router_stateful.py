"""A stateful property test of the router: random arrivals, offers, accepts, rejects,
timeouts, hang-ups, risk raises, skill changes and presence changes (on a call: the state to
take after it), with the invariants checked against Redis after every step."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pytest
import redis
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from routing import (
    AgentProfile,
    CallRequest,
    EscalationTeam,
    EscalationTier,
    QueueConfig,
    Router,
    RouterConfig,
    WideningStep,
)
from routing.invariants import find_violations
from routing.ports import MemoryCallControl, MemoryCallLog, MemoryNotifier
from routing.state import AgentState, CallStatus, routing_key
from store.clock import ManualClock
from store.vocabulary import RiskLevel

AGENTS = ("a0", "a1", "a2")
LANGUAGES = st.sampled_from(["es", "es", "ar", "en", None])
TERMINAL = {CallStatus.COMPLETED, CallStatus.ABANDONED, CallStatus.OVERFLOWED}
CONFIG = RouterConfig(
    queues={
        "main": QueueConfig(
            "main",
            widening=(
                WideningStep(40, drop_language=True),
                WideningStep(80, drop_specialties=True),
            ),
            max_wait_seconds=120,
            urgent_team="urgent",
        ),
        "legal": QueueConfig("legal", widening=(), max_wait_seconds=90),
    },
    teams={"urgent": EscalationTeam("urgent", (EscalationTier(("m1", "m2"), 10.0),))},
    wrap_up_seconds=5,
    decline_cooldown_seconds=12,
)


def build_machine(
    client: redis.Redis, config: RouterConfig = CONFIG
) -> type[RuleBasedStateMachine]:
    class RouterMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            client.flushdb()
            self.clock = ManualClock.at(1_717_400_000.0)
            self.log = MemoryCallLog()
            self.notifier = MemoryNotifier()
            self.router = Router(client, config, self.log, self.notifier, MemoryCallControl())
            self.calls: list[str] = []
            self.answers: dict[str, set[str]] = defaultdict(set)
            self.ended: dict[str, str] = {}
            self.after_call: dict[str, str | None] = dict.fromkeys(AGENTS)
            """The model: the state each agent asked for during her call, until she takes it."""
            self.offers_checked = 0

        @initialize()
        def staff(self) -> None:
            skills = [
                ({"es"}, set(), {"main"}),
                ({"es", "ar"}, {"legal"}, {"main", "legal"}),
                ({"en"}, {"legal"}, {"legal"}),
            ]
            for agent_id, (langs, specs, queues) in zip(AGENTS, skills, strict=True):
                self.router.register_agent(
                    AgentProfile(agent_id, frozenset(langs), frozenset(specs), frozenset(queues)),
                    self.clock.time(),
                )
                self.router.set_agent_state(agent_id, "available", self.clock.time())

        def status(self, call_id: str) -> str | None:
            value = client.hget(routing_key("call", call_id), "status")
            return None if value is None else str(value)

        def agent_call(self, agent_id: str) -> tuple[str, str]:
            state, call = client.hmget(routing_key("agent", agent_id), ["state", "call"])
            return str(state), str(call or "")

        @rule(
            risk=st.sampled_from(list(RiskLevel)),
            language=LANGUAGES,
            legal=st.booleans(),
            queue=st.sampled_from(["main", "main", "legal"]),
            callback=st.booleans(),
        )
        def arrive(
            self, risk: RiskLevel, language: str | None, legal: bool, queue: str, callback: bool
        ) -> None:
            call_id = f"c{len(self.calls)}"
            self.calls.append(call_id)
            result = self.router.enqueue(
                CallRequest(
                    call_id=call_id,
                    queue=queue,
                    risk=risk,
                    language=language,
                    specialties=frozenset({"legal"}) if legal else frozenset(),
                    callback_eligible=callback,
                ),
                self.clock.time(),
            )
            assert result.status == "enqueued"

        @rule(risks=st.lists(st.sampled_from(list(RiskLevel)), min_size=2, max_size=4))
        def rush(self, risks: list[RiskLevel]) -> None:
            """Several Spanish-speaking callers at once: queues form."""
            for risk in risks:
                self.arrive(risk, "es", False, "main", False)

        @rule(
            agent=st.sampled_from(AGENTS), state=st.sampled_from(["available", "break", "offline"])
        )
        def presence(self, agent: str, state: str) -> None:
            """By herself, a supervisor or an admin deactivating her account (offline)."""
            before, call_id = self.agent_call(agent)
            result = self.router.set_agent_state(agent, state, self.clock.time())
            assert result.ok
            if before == AgentState.ON_CALL:
                self.after_call[agent] = None if state == AgentState.AVAILABLE else state
                event(f"{state} asked for on a call")
                assert result.status == "after_call"
                assert dict(result.result) == {
                    "state": "on_call",
                    "after_call": self.after_call[agent] or "",
                    "call": call_id,
                }
                assert self.agent_call(agent) == (before, call_id), "the call goes on"
            else:
                self.after_call[agent] = None
                assert self.agent_call(agent)[0] in (state, AgentState.OFFERED)

        @rule(
            state=st.sampled_from(["break", "offline", "available"]),
            nth=st.integers(0, 2),
            then=st.sampled_from(["talk on", "end", "end and wrap up"]),
        )
        def after_this_call(self, state: str, nth: int, then: str) -> None:
            """An agent on a call (she takes the offer she has, if nobody is) asks for a break
            after it, or an admin deactivates her, or she changes her mind; the call may end
            at once, and its wrap-up too."""
            on_call = [a for a in AGENTS if self.agent_call(a)[0] == AgentState.ON_CALL]
            if not on_call:
                offered = [a for a in AGENTS if self.agent_call(a)[0] == AgentState.OFFERED]
                if not offered:
                    return
                self.answer_offer(offered[0], "accept")
                on_call = offered[:1]
            agent = on_call[nth % len(on_call)]
            self.presence(agent, state)
            if then != "talk on":
                self.conversation_ends(agent)
            if then == "end and wrap up":
                self.time_passes(config.wrap_up_seconds)

        @rule(
            agent=st.sampled_from(AGENTS),
            languages=st.sets(st.sampled_from(["es", "ar", "en"]), min_size=1),
        )
        def change_skills(self, agent: str, languages: set[str]) -> None:
            self.router.register_agent(
                AgentProfile(
                    agent, frozenset(languages), frozenset(), frozenset({"main", "legal"})
                ),
                self.clock.time(),
            )

        @rule(agent=st.sampled_from(AGENTS), answer=st.sampled_from(["accept", "reject", "accept"]))
        def answer_offer(self, agent: str, answer: str) -> None:
            state, call_id = self.agent_call(agent)
            if state != "offered":
                return
            if answer == "accept":
                result = self.router.accept(call_id, agent, self.clock.time())
                assert result.status == "answered"
                self.answers[call_id].add(agent)
            else:
                assert self.router.reject(call_id, agent, self.clock.time()).status == "rejected"

        @rule(agent=st.sampled_from(AGENTS), call=st.integers(0, 15))
        def stray_accept(self, agent: str, call: int) -> None:
            """A stale click on an offer that is no longer (or never was) this agent's."""
            if call >= len(self.calls):
                return
            call_id = self.calls[call]
            state, held = self.agent_call(agent)
            if state == "offered" and held == call_id:
                return
            result = self.router.accept(call_id, agent, self.clock.time())
            assert result.status in {"offer_not_current", "already_accepted"}

        @rule(agent=st.sampled_from(AGENTS))
        def conversation_ends(self, agent: str) -> None:
            state, call_id = self.agent_call(agent)
            if state == "on_call":
                assert self.router.hangup(call_id, self.clock.time()).status == "completed"
                self.ended[call_id] = CallStatus.COMPLETED

        @rule(call=st.integers(0, 15))
        def hang_up(self, call: int) -> None:
            if call >= len(self.calls):
                return
            call_id = self.calls[call]
            self.router.hangup(call_id, self.clock.time())
            self.ended[call_id] = str(self.status(call_id))

        @rule(call=st.integers(0, 15), risk=st.sampled_from([RiskLevel.ALTO, RiskLevel.EXTREMO]))
        def raise_risk(self, call: int, risk: RiskLevel) -> None:
            if call < len(self.calls):
                self.router.raise_priority(self.calls[call], self.clock.time(), risk=risk)

        @rule(seconds=st.sampled_from([0.5, 3.0, 6.0, 16.0, 30.0]))
        def time_passes(self, seconds: float) -> None:
            self.clock.advance(seconds)
            self.router.sweep(self.clock.time())

        @rule(member=st.sampled_from(["m1", "m2"]))
        def acknowledge_ladders(self, member: str) -> None:
            for raw in client.zrange(routing_key("escalations"), 0, -1):
                self.router.acknowledge(str(raw), member, self.clock.time())

        @invariant()
        def router_invariants_hold(self) -> None:
            assert find_violations(client, self.clock.time()) == []

        @invariant()
        def the_state_asked_for_is_taken_after_the_call_with_no_offer_between(self) -> None:
            for agent_id, call_id, _ in self.notifier.offers[self.offers_checked :]:
                asked = self.after_call[agent_id]
                assert asked is None, f"{agent_id} was offered {call_id} with {asked} pending"
            self.offers_checked = len(self.notifier.offers)
            for agent_id in AGENTS:
                state, pending = client.hmget(
                    routing_key("agent", agent_id), ["state", "after_call"]
                )
                expected = self.after_call[agent_id]
                if expected is None:
                    assert not pending, f"{agent_id} has {pending!r} pending, asked for nothing"
                elif state in (AgentState.ON_CALL, AgentState.WRAP_UP):
                    assert pending == expected
                else:
                    assert (state, pending) == (expected, None), f"{agent_id} after her call"
                    event(f"{expected} taken after the call")
                    self.after_call[agent_id] = None

        @invariant()
        def no_call_is_lost_answered_twice_or_revived(self) -> None:
            pipe = client.pipeline(transaction=False)
            for call_id in self.calls:
                pipe.hmget(routing_key("call", call_id), ["status", "answered_at"])
            for call_id, (status, answered_at) in zip(self.calls, pipe.execute(), strict=True):
                assert status in set(CallStatus), f"{call_id} lost"
                assert len(self.answers[call_id]) <= 1
                if call_id in self.ended and self.ended[call_id] in TERMINAL:
                    assert status == self.ended[call_id]
                if status in (CallStatus.ANSWERED, CallStatus.COMPLETED):
                    assert answered_at is not None

    return RouterMachine


def _run(machine: type[RuleBasedStateMachine], examples: int) -> None:
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_router_state_machine(redis_client: redis.Redis) -> None:
    _run(build_machine(redis_client), 150)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_router_state_machine_without_wrap_up(redis_client: redis.Redis) -> None:
    """A call's end leads straight to the next state (available, or the one asked for)."""
    _run(build_machine(redis_client, replace(CONFIG, wrap_up_seconds=0)), 60)
