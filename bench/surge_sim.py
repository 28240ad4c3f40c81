"""A day of synthetic hotline traffic, routed by the REAL router in simulated time, beside
first-in-first-out baselines run on the same engine with the same callers and agents.

Assumptions (printed with the results; change them with the flags):
- ~650 calls a day, diurnal profile, one surge hour (21:00-22:00) at 3x its usual rate;
- risk mix 35% no apreciado, 30% bajo, 20% medio, 10% alto, 5% extremo; 8% need legal advice;
- languages 82% es, 4% en, 4% ar, 3% ro, 2% fr, 2% pt, 2% uk, 1% zh (nobody speaks uk or zh:
  only widening with an interpreter reaches them);
- 17 agents in three shifts (3 at night, 6 by day, 8 in the evening), all speak Spanish, some
  English, French, Arabic, Romanian or Portuguese, three are legal specialists;
- talk time lognormal, mean about 8 minutes; wrap-up 60 s; agents answer an offer in 2-6 s,
  miss 4% of offers (15 s timeout) and reject 1%; an agent sent on break comes back after 120 s;
- callers hang up after an exponential patience, mean 4 minutes; overflow after 10 minutes;
- the urgent team (2 members, then a supervisor after 60 s) is off the console, so the ladder
  phones them (as the product does for a member who is not signed in); each answers with
  probability 0.5 after 10-40 s and presses 1, which takes the woman's call: she is talking to
  that member and leaves the queue. Only the full router policy rings it.

Policies: ``router`` (risk priority + ageing + widening + urgent ladder), ``fifo`` (flat
priority, same widening), ``fifo-no-widening`` (flat priority, strict skills). All three keep
the router's rules for urgent calls (risk before language, wrap-up yields to extremo): they
follow the callers' risk, not their priority.

    python bench/surge_sim.py [--days 5] [--seed 7]
    python bench/surge_sim.py --quick
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

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
from routing.state import PREFIX
from store.embedded_redis import EmbeddedRedis
from store.live_state import connect
from store.vocabulary import RiskLevel

DAY_START = 1_717_372_800.0  # 2024-06-03 00:00 UTC
HOURLY = [0.4, 0.3, 0.25, 0.2, 0.2, 0.25, 0.4, 0.7, 1.0, 1.2, 1.3, 1.3,
          1.3, 1.2, 1.2, 1.2, 1.3, 1.4, 1.5, 1.5, 1.5, 1.4, 1.1, 0.7]  # fmt: skip
SURGE_HOUR = 21
RISK_MIX = [(RiskLevel.NO_APRECIADO, 35), (RiskLevel.BAJO, 30), (RiskLevel.MEDIO, 20),
            (RiskLevel.ALTO, 10), (RiskLevel.EXTREMO, 5)]  # fmt: skip
LANGUAGE_MIX = [("es", 82), ("en", 4), ("ar", 4), ("ro", 3), ("fr", 2), ("pt", 2), ("uk", 2),
                ("zh", 1)]  # fmt: skip
# (languages, legal, shift start hour, shift end hour)
STAFF = [({"es"}, False, 0, 8), ({"es", "en"}, True, 0, 8), ({"es", "ar"}, False, 0, 8),
         ({"es"}, False, 8, 16), ({"es"}, False, 8, 16), ({"es", "en"}, False, 8, 16),
         ({"es", "fr"}, True, 8, 16), ({"es", "ro"}, False, 8, 16),
         ({"es", "ar"}, False, 8, 16),
         ({"es"}, False, 16, 24), ({"es"}, False, 16, 24), ({"es"}, False, 16, 24),
         ({"es", "en"}, True, 16, 24), ({"es", "ar"}, False, 16, 24),
         ({"es", "pt"}, False, 16, 24), ({"es", "ro"}, False, 16, 24),
         ({"es", "en", "fr"}, False, 16, 24)]  # fmt: skip
TEAM = EscalationTeam(
    "urgent",
    (EscalationTier(("u1", "u2"), 60.0), EscalationTier(("supervisor",), 60.0)),
)


@dataclass(frozen=True)
class Caller:
    call_id: str
    arrival: float
    risk: RiskLevel
    language: str
    legal: bool
    patience: float
    talk: float


@dataclass
class Outcome:
    caller: Caller
    answered_at: float | None = None
    abandoned_at: float | None = None
    overflowed_at: float | None = None
    taken_at: float | None = None
    interpreter: bool = False

    @property
    def human_at(self) -> float | None:
        times = [t for t in (self.answered_at, self.taken_at) if t is not None]
        return min(times) if times else None


def policies() -> dict[str, RouterConfig]:
    widening = (WideningStep(60, drop_language=True), WideningStep(120, drop_specialties=True))
    common: dict[str, Any] = {"wrap_up_seconds": 60.0, "offer_timeout_seconds": 15.0}
    flat = {level: 0 for level in RiskLevel}
    return {
        "router": RouterConfig(
            queues={"main": QueueConfig("main", widening, 600.0, urgent_team="urgent")},
            teams={"urgent": TEAM},
            **common,
        ),
        "fifo": RouterConfig(
            queues={"main": QueueConfig("main", widening, 600.0)}, priority_by_risk=flat, **common
        ),
        "fifo-no-widening": RouterConfig(
            queues={"main": QueueConfig("main", (), 600.0)}, priority_by_risk=flat, **common
        ),
    }


def callers_for_day(rng: random.Random, day: int, per_day: float, hours: int) -> list[Caller]:
    weights = [w * (3 if hour == SURGE_HOUR else 1) for hour, w in enumerate(HOURLY)]
    scale = per_day / sum(weights)
    start = DAY_START + day * 86400
    callers: list[Caller] = []
    for hour in range(hours):
        rate = weights[hour] * scale / 3600
        t = start + hour * 3600
        while True:
            t += rng.expovariate(rate)
            if t >= start + (hour + 1) * 3600:
                break
            callers.append(
                Caller(
                    call_id=f"d{day}-c{len(callers)}",
                    arrival=t,
                    risk=pick(rng, RISK_MIX),
                    language=pick(rng, LANGUAGE_MIX),
                    legal=rng.random() < 0.08,
                    patience=rng.expovariate(1 / 240),
                    talk=rng.lognormvariate(math.log(420), 0.5),
                )
            )
    return callers


def pick(rng: random.Random, mix: list[tuple[Any, int]]) -> Any:
    return rng.choices([item for item, _ in mix], weights=[w for _, w in mix])[0]


class DaySimulation:
    """One day: a heap of timed events; the router's ports schedule the humans' reactions."""

    def __init__(
        self, client: redis.Redis, config: RouterConfig, callers: list[Caller], seed: int
    ) -> None:
        self.seed = seed
        self.heap: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self.seq = 0
        self.now = callers[0].arrival if callers else DAY_START
        self.outcomes = {c.call_id: Outcome(c) for c in callers}
        self.leaving: set[str] = set()
        self.on_shift: set[str] = set()
        self.sweep_at: float | None = None
        self.escalation_calls: dict[str, str] = {}
        self.router = Router(client, config, self, self, self)
        day_start = DAY_START + 86400 * math.floor((self.now - DAY_START) / 86400)
        for index, (languages, legal, start, end) in enumerate(STAFF):
            agent_id = f"agent-{index}"
            specialties = frozenset({"legal"}) if legal else frozenset()
            self.router.register_agent(
                AgentProfile(agent_id, frozenset(languages), specialties, frozenset({"main"})),
                day_start,
            )
            self.at(day_start + start * 3600, "shift_start", agent_id)
            self.at(day_start + end * 3600, "shift_end", agent_id)
        for caller in callers:
            self.at(caller.arrival, "arrive", caller)
            self.at(caller.arrival + caller.patience, "give_up", caller.call_id)

    # ports ---------------------------------------------------------------------------------
    def append(self, call_id: str, kind: str, data: dict[str, Any], at: float) -> None:
        outcome = self.outcomes.get(call_id)
        if outcome is None:
            return
        if kind == "answered":
            outcome.answered_at = at
        elif kind == "abandoned":
            outcome.abandoned_at = at
        elif kind == "overflowed":
            outcome.overflowed_at = at
        elif kind == "escalation_started":
            self.escalation_calls[str(data["escalation"])] = call_id
        elif kind == "taken_by_team":
            outcome.taken_at = at
        elif kind == "offered" and "interpreter" in str(data.get("flags", "")):
            outcome.interpreter = True

    def offer_made(self, agent_id: str, call_id: str, expires_at: float, details: Any) -> None:
        if agent_id in self.leaving:
            self.at(self.now, "leave", agent_id)
            return
        draw = self.rng("offer", call_id, agent_id, details.get("attempt"))
        roll = draw.random()
        if roll < 0.04:
            return
        action = "reject" if roll < 0.05 else "accept"
        self.at(self.now + draw.uniform(2, 6), action, (call_id, agent_id))

    def offer_withdrawn(self, agent_id: str, call_id: str, reason: str) -> None:
        return None

    def notify_supervisors(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "agent_sent_to_break":
            self.at(self.now + 120, "back_from_break", data["agent_id"])

    def ring(self, member_id: str, escalation_id: str, subject_id: str, tier: int) -> None:
        return None  # nobody of the team is at a console here: the ladder phones them

    def stop_ringing(self, escalation_id: str) -> None:
        return None

    def call_member(self, member_id: str, escalation_id: str) -> None:
        draw = self.rng("ring", escalation_id, member_id, self.now)
        if draw.random() < 0.5:
            self.at(self.now + draw.uniform(10, 40), "take", (escalation_id, member_id))

    def dial_urgent_number(self, escalation_id: str) -> None:
        return None

    def overflow(self, call_id: str, target: str) -> None:
        return None

    # engine --------------------------------------------------------------------------------
    def rng(self, *parts: Any) -> random.Random:
        """Common random numbers: the same offer gets the same answer under every policy."""
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def at(self, when: float, kind: str, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (when, self.seq, kind, (payload,)))

    def run(self) -> list[Outcome]:
        while self.heap:
            when, _, kind, (payload,) = heapq.heappop(self.heap)
            self.now = max(self.now, when)
            if kind == "sweep":
                if self.sweep_at != when:
                    continue
                self.sweep_at = None
                self.router.sweep(self.now)
            else:
                getattr(self, "on_" + kind)(payload)
            due = self.router.next_due()
            if due is not None and (self.sweep_at is None or due < self.sweep_at):
                self.sweep_at = max(due, self.now)
                self.at(self.sweep_at, "sweep", None)
        return list(self.outcomes.values())

    def on_arrive(self, caller: Caller) -> None:
        self.router.enqueue(
            CallRequest(
                call_id=caller.call_id,
                queue="main",
                risk=caller.risk,
                language=caller.language,
                specialties=frozenset({"legal"}) if caller.legal else frozenset(),
            ),
            self.now,
        )

    def on_give_up(self, call_id: str) -> None:
        outcome = self.outcomes[call_id]
        if outcome.human_at is None and outcome.overflowed_at is None:
            self.router.hangup(call_id, self.now)

    def on_accept(self, offer: tuple[str, str]) -> None:
        call_id, agent_id = offer
        if self.router.accept(call_id, agent_id, self.now).status == "answered":
            # A person has her: the console closes her ladder (calls.escalations).
            self.router.close_escalation(f"call:{call_id}", "answered", self.now)
            self.at(self.now + self.outcomes[call_id].caller.talk, "talk_over", (call_id, agent_id))

    def on_reject(self, offer: tuple[str, str]) -> None:
        self.router.reject(*offer, self.now)

    def on_talk_over(self, ended: tuple[str, str]) -> None:
        call_id, agent_id = ended
        self.router.hangup(call_id, self.now)
        if agent_id in self.leaving:
            self.on_leave(agent_id)

    def on_shift_start(self, agent_id: str) -> None:
        self.on_shift.add(agent_id)
        self.leaving.discard(agent_id)
        self.router.set_agent_state(agent_id, "available", self.now)

    def on_shift_end(self, agent_id: str) -> None:
        self.on_shift.discard(agent_id)
        self.leaving.add(agent_id)
        self.on_leave(agent_id)

    def on_leave(self, agent_id: str) -> None:
        if self.router.set_agent_state(agent_id, "offline", self.now).ok:
            self.leaving.discard(agent_id)

    def on_back_from_break(self, agent_id: str) -> None:
        if agent_id in self.on_shift:
            self.router.set_agent_state(agent_id, "available", self.now)

    def on_take(self, alert: tuple[str, str]) -> None:
        """She pressed 1 on the alert call: the first to answer acknowledges and, while the
        woman is still waiting, is put through to her (``calls.urgent_calls.checked_take``)."""
        escalation_id, member_id = alert
        transition = self.router.acknowledge(escalation_id, member_id, self.now)
        first = transition.status == "acknowledged" or (
            transition.status == "already_acknowledged"
            and transition.result.get("acknowledged_by") == member_id
        )
        call_id = self.escalation_calls.get(escalation_id)
        if first and call_id is not None:
            self.router.take(call_id, member_id, self.now)


@dataclass
class Figures:
    outcomes: list[Outcome] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fmt(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.0f}{unit}"


def share(part: int, whole: int) -> str:
    return "-" if whole == 0 else f"{100 * part / whole:.1f}%"


def report(results: dict[str, list[Outcome]], days: int, calls: int) -> None:
    print(
        f"Surge simulation: {days} day(s), {calls} calls in all (~{calls / days:.0f}/day, 3x surge "
        f"{SURGE_HOUR}:00-{SURGE_HOUR + 1}:00), {len(STAFF)} agents in 3 shifts; real router "
        "on Redis in simulated time"
    )
    header = (
        f"{'policy':<17} {'risk':<13} {'calls':>6} {'answered':>9} {'p50 wait':>9} "
        f"{'p95 wait':>9} {'abandoned':>10} {'overflow':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, outcomes in results.items():
        for risk in reversed(list(RiskLevel)):
            group = [o for o in outcomes if o.caller.risk == risk]
            waits = [o.answered_at - o.caller.arrival for o in group if o.answered_at is not None]
            print(
                f"{name:<17} {risk.value:<13} {len(group):>6} {share(len(waits), len(group)):>9} "
                f"{fmt(percentile(waits, 0.5)):>9} {fmt(percentile(waits, 0.95)):>9} "
                f"{share(sum(o.abandoned_at is not None for o in group), len(group)):>10} "
                f"{share(sum(o.overflowed_at is not None for o in group), len(group)):>9}"
            )
    print()
    header = (
        f"{'policy':<17} {'SL<=20s':>8} {'abandoned':>10} {'surge abnd':>11} "
        f"{'severe to human p50/p95/max':>29} {'severe to agent p50/p95':>24} "
        f"{'team took':>10} {'interp.':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, outcomes in results.items():
        quick = sum(
            1
            for o in outcomes
            if o.answered_at is not None and o.answered_at - o.caller.arrival <= 20
        )
        surge = [
            o for o in outcomes if int((o.caller.arrival - DAY_START) % 86400 // 3600) == SURGE_HOUR
        ]
        severe = [o for o in outcomes if o.caller.risk == RiskLevel.EXTREMO]
        human = [o.human_at - o.caller.arrival for o in severe if o.human_at is not None]
        agent = [o.answered_at - o.caller.arrival for o in severe if o.answered_at is not None]
        never = sum(1 for o in severe if o.human_at is None)
        human_text = (
            f"{fmt(percentile(human, 0.5))}/{fmt(percentile(human, 0.95))}/"
            f"{fmt(max(human) if human else None)}" + (f" ({never} never)" if never else "")
        )
        print(
            f"{name:<17} {share(quick, len(outcomes)):>8} "
            f"{share(sum(o.abandoned_at is not None for o in outcomes), len(outcomes)):>10} "
            f"{share(sum(o.abandoned_at is not None for o in surge), len(surge)):>11} "
            f"{human_text:>29} "
            f"{fmt(percentile(agent, 0.5)) + '/' + fmt(percentile(agent, 0.95)):>24} "
            f"{sum(o.taken_at is not None for o in severe):>10} "
            f"{sum(o.interpreter and o.answered_at is not None for o in outcomes):>8}"
        )


def patience_floor(results: dict[str, list[Outcome]]) -> None:
    """Extremo callers who hang up before any agent could answer a ringing offer (2-6 s): no
    routing keeps them, whatever it does."""
    outcomes = next(iter(results.values()), [])
    severe = [o.caller for o in outcomes if o.caller.risk == RiskLevel.EXTREMO]
    if not severe:
        return
    print(
        f"\nExtremo callers whose patience is under 2 s / 4 s / 6 s (an agent answers a ringing "
        f"offer in 2-6 s): {share(sum(c.patience < 2 for c in severe), len(severe))} / "
        f"{share(sum(c.patience < 4 for c in severe), len(severe))} / "
        f"{share(sum(c.patience < 6 for c in severe), len(severe))}"
    )


@contextmanager
def redis_server(url: str | None) -> Iterator[redis.Redis]:
    if url:
        yield connect(url)
        return
    with tempfile.TemporaryDirectory() as directory:
        server = EmbeddedRedis(Path(directory)).start()
        try:
            yield connect(server.url)
        finally:
            server.stop()


def clear_routing_keys(client: redis.Redis) -> None:
    keys = list(client.scan_iter(match=PREFIX + ":*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def run(
    url: str | None, days: int, per_day: float, hours: int, seed: int
) -> dict[str, list[Outcome]]:
    results: dict[str, list[Outcome]] = {}
    with redis_server(url) as client:
        day_callers = [
            callers_for_day(random.Random(f"{seed}:{day}"), day, per_day, hours)
            for day in range(days)
        ]
        for name, config in policies().items():
            results[name] = []
            for day, callers in enumerate(day_callers):
                clear_routing_keys(client)
                results[name] += DaySimulation(client, config, callers, seed + day).run()
        clear_routing_keys(client)
    report(results, days, sum(len(c) for c in day_callers))
    patience_floor(results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--calls-per-day", type=float, default=650.0)
    parser.add_argument("--hours", type=int, default=24, help="simulate only the first N hours")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="one day (CI smoke)")
    parser.add_argument("--redis-url", default=os.environ.get("AMPARO_BENCH_REDIS_URL"))
    args = parser.parse_args(argv)
    if args.quick:
        args.days = 1
    run(args.redis_url, args.days, args.calls_per_day, args.hours, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
