"""A Router on the test Redis with in-memory ports and a hand-moved clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis

from routing import AgentProfile, CallRequest, QueueConfig, Router, RouterConfig, Transition
from routing.ports import MemoryCallControl, MemoryCallLog, MemoryNotifier
from store.clock import ManualClock
from store.vocabulary import RiskLevel

STAFFED_OR_NOT = RouterConfig(default_queue=QueueConfig("default", overflow_when_unstaffed=False))
"""Most tests queue calls before anyone logs in; the unstaffed overflow has its own tests."""


@dataclass
class Harness:
    router: Router
    clock: ManualClock
    log: MemoryCallLog
    notifier: MemoryNotifier
    control: MemoryCallControl
    client: redis.Redis

    @property
    def now(self) -> float:
        return self.clock.time()

    def advance(self, seconds: float) -> float:
        self.clock.advance(seconds)
        self.router.sweep(self.now)
        return self.now

    def agent(
        self,
        agent_id: str,
        languages: tuple[str, ...] = ("es",),
        specialties: tuple[str, ...] = (),
        queues: tuple[str, ...] = ("default",),
        available: bool = True,
    ) -> Transition:
        self.router.register_agent(
            AgentProfile(agent_id, frozenset(languages), frozenset(specialties), frozenset(queues)),
            self.now,
        )
        if available:
            return self.router.set_agent_state(agent_id, "available", self.now)
        return Transition("registered")

    def call(
        self,
        call_id: str,
        risk: RiskLevel = RiskLevel.MEDIO,
        language: str | None = "es",
        specialties: tuple[str, ...] = (),
        queue: str = "default",
        callback_eligible: bool = False,
        priority: int | None = None,
        line_id: str = "line-1",
    ) -> Transition:
        return self.router.enqueue(
            CallRequest(
                call_id=call_id,
                queue=queue,
                risk=risk,
                priority=priority,
                language=language,
                specialties=frozenset(specialties),
                line_id=line_id,
                callback_eligible=callback_eligible,
            ),
            self.now,
        )

    def call_field(self, call_id: str, name: str) -> str | None:
        from routing.state import routing_key

        value = self.client.hget(routing_key("call", call_id), name)
        return None if value is None else str(value)

    def agent_field(self, agent_id: str, name: str) -> str | None:
        from routing.state import routing_key

        value = self.client.hget(routing_key("agent", agent_id), name)
        return None if value is None else str(value)


MakeHarness = Callable[..., Harness]


@pytest.fixture
def make_harness(redis_client: redis.Redis) -> Iterator[MakeHarness]:
    def build(config: RouterConfig | None = None, start: float = 1_717_400_000.0) -> Harness:
        clock = ManualClock.at(start)
        log, notifier, control = MemoryCallLog(), MemoryNotifier(), MemoryCallControl()
        router = Router(redis_client, config or STAFFED_OR_NOT, log, notifier, control)
        return Harness(router, clock, log, notifier, control, redis_client)

    yield build


@pytest.fixture
def harness(make_harness: MakeHarness) -> Harness:
    return make_harness()
