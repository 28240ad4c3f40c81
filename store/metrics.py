"""The deployment's metrics: their names, and the figures kept for them in Redis.

Every process adds to the same figures in Redis (a hash per metric, ``amparo:metrics:<name>``):
gunicorn's several web workers, rq's forked work horses and the SIP processes all observe the
time to a human, an alarm's time to its ladder, a webhook's duration or a reconciled call, and
any web process's ``/metrics`` reads them back, with the gauges read from live state at scrape
time. So one scrape of any web process describes the whole deployment, a restart loses nothing,
and no process keeps a figure another one needs (``docs/operations.md``, "Metrics").

Recording a figure never fails the work it measures: a Redis error is logged (at debug) and the
figure is lost. Label values are checked against a narrow pattern (ids, risk levels, route
templates) and anything else is counted as ``other``: no personal data reaches a label.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import redis
from rq import Worker

from store import timekeeper
from store.lease import is_held
from store.live_state import QUEUE_NAMES, job_queue, key

log = logging.getLogger(__name__)

LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:/<>\-]{1,80}$")
_SEP = "\x1f"


@dataclass(frozen=True)
class Histogram:
    name: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]


@dataclass(frozen=True)
class Counter:
    name: str
    help: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gauge:
    name: str
    help: str
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    """One gauge's value for one set of label values, read from live state at scrape time."""

    gauge: Gauge
    labels: tuple[str, ...]
    value: float


@dataclass(frozen=True)
class HistogramFigures:
    labels: tuple[str, ...]
    buckets: tuple[tuple[float, int], ...]
    """Cumulative counts per upper bound (``le``), +Inf last."""
    count: int
    total: float


GaugeReader = Callable[[redis.Redis, float], Iterable[Reading]]
"""Reads some gauges from live state: (client, now) -> readings."""

TIME_TO_HUMAN = Histogram(
    "amparo_time_to_human_seconds",
    "Seconds from a caller entering routing to a person answering (an agent accepting, or an "
    "urgent-team member taking the call), by the caller's risk",
    ("risk",),
    (2, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600),
)
ALARM_TO_LADDER = Histogram(
    "amparo_alarm_to_ladder_seconds",
    "Seconds from a device alarm being stored to its urgent team's ladder starting",
    (),
    (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 300, 900),
)
WEBHOOK_SECONDS = Histogram(
    "amparo_webhook_seconds",
    "Seconds a telephony webhook took to answer, by route template",
    ("route",),
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECONCILED_CALLS = Counter(
    "amparo_reconciled_calls",
    "Open calls the reconciler closed because their channel said they had ended",
)
HISTOGRAMS = (TIME_TO_HUMAN, ALARM_TO_LADDER, WEBHOOK_SECONDS)
COUNTERS = (RECONCILED_CALLS,)

CALLS_WAITING = Gauge(
    "amparo_calls_waiting",
    "Callers waiting for a person (waiting or being offered), by line and by risk, the band "
    "that sets a caller's priority",
    ("line", "risk"),
)
ESCALATIONS_OPEN = Gauge(
    "amparo_escalations_open", "Urgent-team ladders still ringing (no human acknowledged yet)"
)
AGENTS = Gauge("amparo_agents", "Agents known to routing, by state", ("state",))
SIP_CALLS = Gauge(
    "amparo_sip_calls",
    "Call legs (callers, agents' phones, outbound calls) each live SIP process holds",
    ("process",),
)
SIP_CAPACITY = Gauge(
    "amparo_sip_capacity", "Legs each live SIP process admits before answering 503", ("process",)
)
JOBS_QUEUED = Gauge("amparo_jobs_queued", "Jobs waiting in each job queue", ("queue",))
JOB_WORKERS = Gauge("amparo_job_workers", "Job workers registered in Redis")
TIMEKEEPER = Gauge(
    "amparo_timekeeper_running",
    "1 while a worker's timekeeper holds its lease (alarm sweeps, scheduled jobs, the journal's "
    "replay and the reconciler run), else 0",
)
GAUGES = (
    CALLS_WAITING,
    ESCALATIONS_OPEN,
    AGENTS,
    SIP_CALLS,
    SIP_CAPACITY,
    JOBS_QUEUED,
    JOB_WORKERS,
    TIMEKEEPER,
)


def metric_key(name: str) -> str:
    return key("metrics", name)


def label_values(values: Sequence[str]) -> tuple[str, ...]:
    """Label values as stored: anything that is not a plain identifier becomes ``other``."""
    return tuple(value if LABEL_VALUE.match(value) else "other" for value in values)


def observe(client: redis.Redis, histogram: Histogram, labels: Sequence[str], value: float) -> None:
    """Add one observation (one round trip); never raises."""
    prefix = _SEP.join(label_values(labels))
    index = bisect.bisect_left(histogram.buckets, value)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(metric_key(histogram.name), f"{prefix}{_SEP}b{index}", 1)
        pipe.hincrbyfloat(metric_key(histogram.name), f"{prefix}{_SEP}sum", max(0.0, value))
        pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.debug("metric %s not recorded (%s)", histogram.name, type(exc).__name__)


def count(client: redis.Redis, counter: Counter, labels: Sequence[str] = (), n: int = 1) -> None:
    """Add ``n`` to a counter; never raises."""
    if n <= 0:
        return
    try:
        client.hincrby(metric_key(counter.name), _SEP.join(label_values(labels)), n)
    except (redis.RedisError, OSError) as exc:
        log.debug("metric %s not recorded (%s)", counter.name, type(exc).__name__)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _split(field: str, width: int) -> tuple[tuple[str, ...], str]:
    parts = field.split(_SEP)
    return (tuple(parts[:-1]) if width else ()), parts[-1]


def read_histogram(client: redis.Redis, histogram: Histogram) -> list[HistogramFigures]:
    """The histogram's figures per label set, buckets made cumulative."""
    raw = client.hgetall(metric_key(histogram.name))
    per_labels: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    for field, value in raw.items():
        labels, part = _split(_text(field), len(histogram.labels))
        if len(labels) == len(histogram.labels):
            per_labels[labels][part] = float(_text(value))
    figures = []
    bounds = (*histogram.buckets, float("inf"))
    for labels, parts in sorted(per_labels.items()):
        running, cumulative = 0, []
        for index, bound in enumerate(bounds):
            running += int(parts.get(f"b{index}", 0))
            cumulative.append((float(bound), running))
        figures.append(HistogramFigures(labels, tuple(cumulative), running, parts.get("sum", 0.0)))
    return figures


def read_counter(client: redis.Redis, counter: Counter) -> dict[tuple[str, ...], int]:
    raw = client.hgetall(metric_key(counter.name))
    return {
        (tuple(_text(field).split(_SEP)) if counter.labels else ()): int(_text(value))
        for field, value in raw.items()
    }


def job_readings(client: redis.Redis, now: float) -> list[Reading]:
    """Jobs waiting per queue and the job workers registered (rq's own keys)."""
    readings = [
        Reading(JOBS_QUEUED, (name,), float(job_queue(client, name).count)) for name in QUEUE_NAMES
    ]
    readings.append(Reading(JOB_WORKERS, (), float(Worker.count(connection=client))))
    readings.append(Reading(TIMEKEEPER, (), float(is_held(client, timekeeper.LEASE))))
    return readings
