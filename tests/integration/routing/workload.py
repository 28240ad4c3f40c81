"""A worker process for the concurrency test: random arrivals, answers, hang-ups, presence
changes and sweeps against one shared Redis, on the wall clock. Importable by spawned
processes."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import redis

from routing import (
    AgentProfile,
    CallRequest,
    QueueConfig,
    Router,
    RouterConfig,
    WideningStep,
)
from routing.ports import MemoryCallControl, MemoryCallLog, MemoryNotifier
from routing.state import routing_key
from store.live_state import connect
from store.vocabulary import RiskLevel

AGENTS = tuple(f"ag{i}" for i in range(8))
CONFIG = RouterConfig(
    default_queue=QueueConfig(
        "default", widening=(WideningStep(0.5, drop_language=True),), max_wait_seconds=4.0
    ),
    offer_timeout_seconds=0.25,
    wrap_up_seconds=0.05,
    decline_cooldown_seconds=0.3,
    outbox_grace_seconds=0.5,
)


def staff(redis_url: str) -> None:
    client = connect(redis_url)
    router = Router(client, CONFIG, MemoryCallLog(), MemoryNotifier(), MemoryCallControl())
    languages = [{"es"}, {"es", "ar"}, {"es", "en"}, {"en"}]
    for index, agent_id in enumerate(AGENTS):
        router.register_agent(AgentProfile(agent_id, frozenset(languages[index % 4])), time.time())
        router.set_agent_state(agent_id, "available", time.time())


def agent_call(client: redis.Redis, agent_id: str) -> tuple[str, str]:
    state, call_id = client.hmget(routing_key("agent", agent_id), ["state", "call"])
    return str(state or ""), str(call_id or "")


def hammer(redis_url: str, worker: int, seconds: float, out_dir: str) -> None:
    rng = random.Random(worker)
    client = connect(redis_url)
    log = MemoryCallLog()
    router = Router(client, CONFIG, log, MemoryNotifier(), MemoryCallControl())
    mine: list[str] = []
    answered: list[tuple[str, str]] = []
    deadline = time.time() + seconds
    step = 0
    while time.time() < deadline:
        step += 1
        now = time.time()
        roll = rng.random()
        if roll < 0.25:
            call_id = f"w{worker}-{len(mine)}"
            mine.append(call_id)
            router.enqueue(
                CallRequest(
                    call_id=call_id,
                    queue="default",
                    risk=rng.choice(list(RiskLevel)),
                    language=rng.choice(["es", "es", "ar", "en"]),
                    callback_eligible=rng.random() < 0.5,
                ),
                now,
            )
        elif roll < 0.6:
            agent_id = rng.choice(AGENTS)
            state, call_id = agent_call(client, agent_id)
            if state == "offered" and call_id:
                answer = rng.random()
                if answer < 0.7:
                    result = router.accept(call_id, agent_id, now)
                    if result.status == "answered":
                        answered.append((call_id, agent_id))
                elif answer < 0.85:
                    router.reject(call_id, agent_id, now)
        elif roll < 0.7:
            agent_id = rng.choice(AGENTS)
            state, call_id = agent_call(client, agent_id)
            if state == "on_call" and call_id:
                router.hangup(call_id, now)
        elif roll < 0.78 and mine:
            router.hangup(rng.choice(mine), now)
        elif roll < 0.85:
            state = "available" if rng.random() < 0.8 else "break"
            router.set_agent_state(rng.choice(AGENTS), state, now)
        elif roll < 0.9 and mine:
            router.raise_priority(rng.choice(mine), now, risk=RiskLevel.ALTO)
        if step % 10 == 0 or roll >= 0.9:
            router.sweep(now)
    answered_events = [
        (call_id, data["event_id"]) for call_id, kind, data, _ in log.entries if kind == "answered"
    ]
    Path(out_dir, f"worker-{worker}.json").write_text(
        json.dumps({"enqueued": mine, "answered": answered, "answered_events": answered_events})
    )
