"""The surge simulation's traffic (callers, their outcomes, the callback assumptions) and its
printed tables; the engine that drives the real router is ``bench/surge_sim.py``, whose
docstring states every assumption."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Any

from store.vocabulary import RiskLevel

DAY_START = 1_717_372_800.0  # 2024-06-03 00:00 UTC
SURGE_HOUR = 21
HOURLY = [0.4, 0.3, 0.25, 0.2, 0.2, 0.25, 0.4, 0.7, 1.0, 1.2, 1.3, 1.3,
          1.3, 1.2, 1.2, 1.2, 1.3, 1.4, 1.5, 1.5, 1.5, 1.4, 1.1, 0.7]  # fmt: skip
RISK_MIX = [(RiskLevel.NO_APRECIADO, 35), (RiskLevel.BAJO, 30), (RiskLevel.MEDIO, 20),
            (RiskLevel.ALTO, 10), (RiskLevel.EXTREMO, 5)]  # fmt: skip
LANGUAGE_MIX = [("es", 82), ("en", 4), ("ar", 4), ("ro", 3), ("fr", 2), ("pt", 2), ("uk", 2),
                ("zh", 1)]  # fmt: skip
SEVERE_SAFE = frozenset({RiskLevel.ALTO, RiskLevel.EXTREMO})
OPEN = frozenset({"pending", "routed", "dialing"})


@dataclass(frozen=True)
class Caller:
    call_id: str
    arrival: float
    risk: RiskLevel
    language: str
    legal: bool
    patience: float
    talk: float
    safe_number: bool = False
    """She calls from a known safe number (a registered victim's phone or device): her call is
    ``callback_eligible``, so abandoning it leaves a callback task."""


@dataclass
class Outcome:
    caller: Caller
    answered_at: float | None = None
    abandoned_at: float | None = None
    overflowed_at: float | None = None
    taken_at: float | None = None
    interpreter: bool = False
    callback_reached_at: float | None = None
    """She answered an agent's callback after she abandoned (she still counts as abandoned)."""
    callback: str | None = None
    """Her callback task's status when the simulation ended (reached, failed, pending...)."""
    callback_tries: int = 0

    @property
    def human_at(self) -> float | None:
        """When a person first talked to her while she waited (an agent or the urgent team)."""
        times = [t for t in (self.answered_at, self.taken_at) if t is not None]
        return min(times) if times else None

    @property
    def reached(self) -> bool:
        return self.human_at is not None or self.callback_reached_at is not None


@dataclass
class Task:
    """A callback task as ``calls.callbacks`` keeps it: status, tries, when due, the attempt."""

    outcome: Outcome
    risk: RiskLevel
    language: str | None
    queue: str
    line_id: str
    due_at: float
    status: str = "pending"
    tries: int = 0
    routed: int = 0
    attempt: str = ""
    agent: str = ""


@dataclass(frozen=True)
class CallbackAssumptions:
    safe_severe: float = 0.7
    """Share of alto/extremo callers calling from a known safe number: most of them are
    registered victims (VioGén cases, ATENPRO devices) whose phones are on file."""
    safe_other: float = 0.2
    """Share of lower-risk callers from a known safe number (most are first or anonymous
    callers, or relatives)."""
    answer: float = 0.8
    """Probability that she answers one callback try (else no answer, or a machine)."""
    answer_after: tuple[float, float] = (5.0, 20.0)
    ring_out: float = 30.0
    """An unanswered try rings this long (the Twilio edge's ring timeout) before it ends."""

    def describe(self) -> str:
        return (
            f"Callbacks: {100 * self.safe_severe:.0f}% of alto/extremo and "
            f"{100 * self.safe_other:.0f}% of other callers call from a known safe number; when "
            "one abandons, the callback worker (a round every 10 s) routes her task to agents by "
            f"risk; she answers a try with probability {self.answer:.2f} after "
            f"{self.answer_after[0]:.0f}-{self.answer_after[1]:.0f} s (else it rings out after "
            f"{self.ring_out:.0f} s and is due again 15 min later; 3 tries); her safe call "
            "windows are assumed open"
        )


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


def with_safe_numbers(
    callers: list[Caller], rng: random.Random, assumptions: CallbackAssumptions
) -> list[Caller]:
    """A stream of its own, so the callers themselves stay those of runs without callbacks."""
    return [
        replace(
            c,
            safe_number=rng.random()
            < (assumptions.safe_severe if c.risk in SEVERE_SAFE else assumptions.safe_other),
        )
        for c in callers
    ]


def pick(rng: random.Random, mix: list[tuple[Any, int]]) -> Any:
    return rng.choices([item for item, _ in mix], weights=[w for _, w in mix])[0]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fmt(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.0f}{unit}"


def share(part: int, whole: int) -> str:
    return "-" if whole == 0 else f"{100 * part / whole:.1f}%"


def spread(values: list[float]) -> str:
    """p50/p95/max."""
    top = max(values) if values else None
    return f"{fmt(percentile(values, 0.5))}/{fmt(percentile(values, 0.95))}/{fmt(top)}"


def report(results: dict[str, list[Outcome]], days: int, calls: int, agents: int) -> None:
    print(
        f"Surge simulation: {days} day(s), {calls} calls in all (~{calls / days:.0f}/day, 3x surge "
        f"{SURGE_HOUR}:00-{SURGE_HOUR + 1}:00), {agents} agents in 3 shifts; real router "
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
        never = sum(1 for o in severe if not o.reached)
        human_text = spread(human) + (f" ({never} never)" if never else "")
        print(
            f"{name:<17} {share(quick, len(outcomes)):>8} "
            f"{share(sum(o.abandoned_at is not None for o in outcomes), len(outcomes)):>10} "
            f"{share(sum(o.abandoned_at is not None for o in surge), len(surge)):>11} "
            f"{human_text:>29} "
            f"{fmt(percentile(agent, 0.5)) + '/' + fmt(percentile(agent, 0.95)):>24} "
            f"{sum(o.taken_at is not None for o in severe):>10} "
            f"{sum(o.interpreter and o.answered_at is not None for o in outcomes):>8}"
        )


def called_back_after(outcomes: list[Outcome]) -> list[float]:
    """From her abandonment to a callback she answered, for those reached."""
    return [
        o.callback_reached_at - o.abandoned_at
        for o in outcomes
        if o.callback_reached_at is not None and o.abandoned_at is not None
    ]


def callbacks_report(results: dict[str, list[Outcome]], assumptions: CallbackAssumptions) -> None:
    """Extremo callers who abandoned, and what their callbacks did (all risks in the last
    column: every task is an agent's work)."""
    print(f"\n{assumptions.describe()}.")
    header = (
        f"{'policy':<17} {'extremo abnd':>13} {'from safe no.':>14} {'called back':>12} "
        f"{'abandon->reached p50/p95/max':>29} {'failed/open':>12} {'never reached':>14} "
        f"{'all risks: reached/tasks, p50/p95':>34}"
    )
    print(header)
    print("-" * len(header))
    for name, outcomes in results.items():
        severe = [o for o in outcomes if o.caller.risk == RiskLevel.EXTREMO]
        left = [o for o in severe if o.abandoned_at is not None]
        delays = called_back_after(left)
        failed = sum(o.callback == "failed" for o in left)
        still_open = sum(o.callback in OPEN for o in left)
        tasks = [o for o in outcomes if o.callback is not None]
        waits = called_back_after(tasks)
        every = (
            f"{len(waits)}/{len(tasks)}, "
            f"{fmt(percentile(waits, 0.5))}/{fmt(percentile(waits, 0.95))}"
        )
        print(
            f"{name:<17} {share(len(left), len(severe)):>13} "
            f"{sum(o.callback is not None for o in left):>14} {len(delays):>12} "
            f"{spread(delays):>29} {f'{failed}/{still_open}':>12} "
            f"{sum(not o.reached for o in severe):>14} {every:>34}"
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
