"""``GET /metrics``: the deployment's figures in Prometheus's text format, and the timing of
telephony webhooks.

Any web process answers for the whole deployment: histograms and counters are read from Redis,
where every process adds to them (:mod:`store.metrics`), and gauges are read from live state at
scrape time by the readers the composition root hands in. Reading only needs Redis; when Redis
does not answer, ``amparo_redis_up`` is 0 and the rest is left out (a scrape never fails on an
outage, so the alert on it can fire).

Who may read it: only a scraper presenting ``Authorization: Bearer <AMPARO_METRICS_TOKEN>``.
Without the setting ``/metrics`` answers 404, as if it did not exist. The figures hold no
personal data, but queue lengths of a violence hotline are nobody else's business.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence

import redis
from flask import Blueprint, Flask, Response, abort, g, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from store import metrics

log = logging.getLogger(__name__)


class DeploymentFigures:
    """A prometheus_client collector reading everything from Redis when scraped."""

    def __init__(self, live: redis.Redis, readers: Sequence[metrics.GaugeReader]) -> None:
        self._live = live
        self._readers = readers

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("amparo_redis_up", "1 when the metrics could be read from Redis")
        try:
            families = list(self._families(time.time()))
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: Redis unreadable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, now: float) -> Iterable[Metric]:
        by_gauge: dict[metrics.Gauge, list[metrics.Reading]] = defaultdict(list)
        for reader in self._readers:
            for reading in reader(self._live, now):
                by_gauge[reading.gauge].append(reading)
        for gauge in metrics.GAUGES:
            family = GaugeMetricFamily(gauge.name, gauge.help, labels=gauge.labels)
            for reading in by_gauge.get(gauge, []):
                family.add_metric(list(metrics.label_values(reading.labels)), reading.value)
            yield family
        for histogram in metrics.HISTOGRAMS:
            h_family = HistogramMetricFamily(
                histogram.name, histogram.help, labels=histogram.labels
            )
            for figures in metrics.read_histogram(self._live, histogram):
                buckets = [(_bound(le), float(n)) for le, n in figures.buckets]
                h_family.add_metric(list(figures.labels), buckets, figures.total)
            yield h_family
        for counter in metrics.COUNTERS:
            c_family = CounterMetricFamily(counter.name, counter.help, labels=counter.labels)
            for labels, value in metrics.read_counter(self._live, counter).items():
                c_family.add_metric(list(labels), value)
            yield c_family


def _bound(le: float) -> str:
    return "+Inf" if le == float("inf") else repr(float(le))


def metrics_blueprint(
    token: str | None,
    live: Callable[[], redis.Redis],
    readers: Sequence[metrics.GaugeReader],
) -> Blueprint:
    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics")
    def exposition() -> Response:
        if token is None:
            abort(404)
        presented = request.headers.get("Authorization", "")
        if not hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
            return Response(
                "metrics need the bearer token\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        registry = CollectorRegistry(auto_describe=False)
        registry.register(DeploymentFigures(live(), readers))
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    return bp


def time_webhooks(app: Flask, live: Callable[[], redis.Redis], prefix: str = "/twilio/") -> None:
    """Observe each telephony webhook's duration under its route template (never its URL:
    ids stay out of labels), once its answer has been handed to the server."""

    @app.before_request
    def _start_clock() -> None:
        if request.path.startswith(prefix):
            g.webhook_started = time.perf_counter()

    @app.after_request
    def _stop_clock(response: Response) -> Response:
        started = g.pop("webhook_started", None)
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        response.call_on_close(
            lambda: metrics.observe(live(), metrics.WEBHOOK_SECONDS, (route,), elapsed)
        )
        return response
