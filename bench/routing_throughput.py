"""Routing decisions per second and their latency with a full queue and a full floor.

Two decisions are measured, each with p50/p99 latency, beside a raw Redis round trip (PING) and
a trivial Lua call measured in the same run on the same connection — the ratio to the round trip
is the figure that carries over between machines:

- *agent frees up*: an agent becomes available and the best of N waiting calls (priority,
  ageing, skills, cool-downs) is offered to them;
- *call arrives*: a call is enqueued and the longest-idle qualified agent of M free agents is
  offered it.

"full" is the Router call as app.py makes it (script + event delivery + outbox acknowledgement);
"script" is the Lua transition's own round trip. Nothing here asserts a time.

    python bench/routing_throughput.py [--calls 10000] [--agents 2000] [--decisions 3000]
    python bench/routing_throughput.py --quick
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from routing import AgentProfile, CallRequest, QueueConfig, Router, RouterConfig
from routing.lua import ScriptRunner
from routing.ports import MemoryCallControl, MemoryNotifier
from routing.state import AGENT_CHANNEL_PREFIX, PREFIX
from store.embedded_redis import EmbeddedRedis
from store.live_state import connect
from store.vocabulary import RiskLevel

LANGUAGES = [("es", 1.0), ("en", 0.25), ("ar", 0.1), ("fr", 0.1), ("ro", 0.06), ("pt", 0.05)]
CALL_LANGUAGES = ["es"] * 85 + ["en"] * 6 + ["ar"] * 4 + ["fr"] * 2 + ["ro"] * 2 + ["pt"]
RISKS = [RiskLevel.NO_APRECIADO] * 35 + [RiskLevel.BAJO] * 30 + [RiskLevel.MEDIO] * 20
RISKS += [RiskLevel.ALTO] * 10 + [RiskLevel.EXTREMO] * 5


class NullLog:
    def append(self, call_id: str, kind: str, data: dict[str, Any], at: float) -> None:
        return None


@dataclass
class Row:
    name: str
    samples: list[float]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def redis_server(url: str | None) -> Iterator[redis.Redis]:
    """The given Redis (routing keys cleared), or an embedded one in a temporary directory."""
    if url:
        client = connect(url)
        clear_routing_keys(client)
        yield client
        clear_routing_keys(client)
        return
    with tempfile.TemporaryDirectory() as directory:
        server = EmbeddedRedis(Path(directory)).start()
        try:
            yield connect(server.url)
        finally:
            server.stop()


def clear_routing_keys(client: redis.Redis) -> None:
    batch = []
    for found in client.scan_iter(match=PREFIX + ":*", count=1000):
        batch.append(found)
        if len(batch) >= 1000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


class TimedRunner(ScriptRunner):
    """Records the Lua round trip of each transition, apart from delivery."""

    def __init__(self, client: redis.Redis, settings: dict[str, Any]) -> None:
        super().__init__(client, settings)
        self.samples: dict[str, list[float]] = defaultdict(list)

    def run(self, operation: str, now: float, args: dict[str, Any]) -> Any:
        started = time.perf_counter()
        reply = super().run(operation, now, args)
        self.samples[operation].append(time.perf_counter() - started)
        return reply


def build_router(client: redis.Redis) -> tuple[Router, TimedRunner]:
    config = RouterConfig(default_queue=QueueConfig("default", max_wait_seconds=10**7))
    runner = TimedRunner(client, config.script_settings(AGENT_CHANNEL_PREFIX))
    router = Router(client, config, NullLog(), MemoryNotifier(), MemoryCallControl(), runner=runner)
    return router, runner


def profile(rng: random.Random, agent_id: str) -> AgentProfile:
    languages = frozenset(lang for lang, share in LANGUAGES if rng.random() < share)
    specialties = frozenset({"legal"}) if rng.random() < 0.1 else frozenset()
    return AgentProfile(agent_id, languages, specialties)


def request(rng: random.Random, call_id: str) -> CallRequest:
    return CallRequest(
        call_id=call_id,
        queue="default",
        risk=rng.choice(RISKS),
        language=rng.choice(CALL_LANGUAGES),
        specialties=frozenset({"legal"}) if rng.random() < 0.05 else frozenset(),
    )


def timed(samples: list[float], action: Any, *args: Any) -> Any:
    started = time.perf_counter()
    result = action(*args)
    samples.append(time.perf_counter() - started)
    return result


def baseline(client: redis.Redis, rounds: int) -> list[Row]:
    ping: list[float] = []
    lua: list[float] = []
    script = client.register_script("return 1")
    script()
    for _ in range(rounds):
        timed(ping, client.ping)
        timed(lua, script)
    return [Row("raw round trip (PING)", ping), Row("raw Lua call (return 1)", lua)]


def agent_frees_up(client: redis.Redis, calls: int, agents: int, decisions: int) -> list[Row]:
    rng = random.Random(1)
    router, runner = build_router(client)
    now = 1_717_400_000.0
    ids = [f"agent-{index}" for index in range(agents)]
    for agent_id in ids:
        router.register_agent(profile(rng, agent_id), now)
        router.set_agent_state(agent_id, "break", now)
    for index in range(calls):
        now += 0.01
        router.enqueue(request(rng, f"call-{index}"), now)
    enqueue_empty = list(runner.samples["enqueue"])
    runner.samples.clear()
    free: list[float] = []
    accept: list[float] = []
    hangup: list[float] = []
    enqueue: list[float] = []
    made = 0
    next_call = calls
    for step in range(decisions):
        now += 0.05
        agent_id = ids[step % agents]
        result = timed(free, router.set_agent_state, agent_id, "available", now)
        offer = result.offers[0] if result.offers else None
        if offer is None:
            router.set_agent_state(agent_id, "break", now)
            continue
        made += 1
        timed(accept, router.accept, offer.call_id or "", agent_id, now)
        timed(hangup, router.hangup, offer.call_id or "", now)
        timed(enqueue, router.enqueue, request(rng, f"call-{next_call}"), now)
        next_call += 1
    label = f"best of {calls:,} waiting calls"
    return [
        Row(f"decision: agent frees -> {label} (full)", free),
        Row(f"decision: agent frees -> {label} (script)", runner.samples["agent_state"]),
        Row("accept (full)", accept),
        Row("hang-up -> wrap-up (full)", hangup),
        Row(f"enqueue, no agent free, {calls:,} waiting (script)", enqueue_empty),
    ]


def call_arrives(client: redis.Redis, agents: int, decisions: int) -> list[Row]:
    clear_routing_keys(client)
    rng = random.Random(2)
    router, runner = build_router(client)
    now = 1_717_500_000.0
    ids = [f"agent-{index}" for index in range(agents)]
    for agent_id in ids:
        router.register_agent(profile(rng, agent_id), now)
        router.set_agent_state(agent_id, "available", now)
    runner.samples.clear()
    arrive: list[float] = []
    for step in range(decisions):
        now += 0.05
        result = timed(arrive, router.enqueue, request(rng, f"arrival-{step}"), now)
        for offer in result.offers:
            router.accept(offer.call_id or "", offer.agent_id or "", now)
            router.hangup(offer.call_id or "", now)
            router.set_agent_state(offer.agent_id or "", "available", now)
        if not result.offers:
            router.hangup(f"arrival-{step}", now)
    label = f"longest-idle of {agents:,} free agents"
    return [
        Row(f"decision: call arrives -> {label} (full)", arrive),
        Row(f"decision: call arrives -> {label} (script)", runner.samples["enqueue"]),
    ]


def print_table(rows: list[Row], rtt: float, title: str) -> None:
    print(title)
    header = f"{'operation':<66} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'ops/s':>8} {'p50/RTT':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        if not row.samples:
            continue
        p50, p99 = row.percentile(0.5), row.percentile(0.99)
        rate = len(row.samples) / sum(row.samples)
        print(
            f"{row.name:<66} {len(row.samples):>6} {p50 * 1e3:>8.3f} {p99 * 1e3:>8.3f} "
            f"{rate:>8.0f} {p50 / rtt:>8.1f}"
        )


def run(url: str | None, calls: int, agents: int, decisions: int) -> list[Row]:
    with redis_server(url) as client:
        version = client.info("server").get("redis_version")
        rows = baseline(client, max(1000, decisions))
        rows += agent_frees_up(client, calls, agents, decisions)
        rows += call_arrives(client, agents, decisions)
        rtt = rows[0].percentile(0.5)
        where = "given server" if url else "embedded server, unix socket"
        title = (
            f"Routing throughput: {calls:,} waiting calls, {agents:,} agents, "
            f"{decisions:,} decisions each way; redis {version} ({where}); one client"
        )
        print_table(rows, rtt, title)
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=2_000)
    parser.add_argument("--decisions", type=int, default=3_000)
    parser.add_argument("--quick", action="store_true", help="a small run (CI smoke)")
    parser.add_argument("--redis-url", default=os.environ.get("AMPARO_BENCH_REDIS_URL"))
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.agents, args.decisions = 500, 100, 200
    run(args.redis_url, args.calls, args.agents, args.decisions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
