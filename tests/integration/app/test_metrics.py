"""``/metrics``: who may read it, what it says while Redis is down, the gauges read from SIP
heartbeats and job queues, and the deploy/ alerting rules and dashboard naming only metrics it
exposes."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import redis
import yaml
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from runtime import build_runtime
from settings import Settings
from store import metrics
from store.lease import Lease
from telephony.sip import commands
from tests.harness.services import RedisProcess

TOKEN = "scraper-" + "k" * 30
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
METRIC_NAME = re.compile(r"\bamparo_[a-z0-9_]+")


def _families(client: FlaskClient) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    answer = client.get("/metrics", headers=AUTH)
    assert answer.status_code == 200
    return {
        family.name: [(s.name, dict(s.labels), float(s.value)) for s in family.samples]
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
    }


def exposed_names(client: FlaskClient) -> set[str]:
    """Every series name a scrape can carry (a histogram's _bucket/_sum/_count too, even
    before its first observation)."""
    answer = client.get("/metrics", headers=AUTH)
    names: set[str] = set()
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        names.add(family.name)
        if family.type == "histogram":
            names |= {f"{family.name}_{part}" for part in ("bucket", "sum", "count")}
        if family.type == "counter":
            names.add(f"{family.name}_total")
    return names


def test_metrics_are_off_without_the_setting_and_refused_without_the_token(
    settings: Settings, redis_client: redis.Redis
) -> None:
    assert create_app(settings).test_client().get("/metrics").status_code == 404

    client = create_app(settings.with_overrides(metrics_token=TOKEN)).test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "w" * len(TOKEN)})
    assert wrong.status_code == 401
    assert "amparo_" not in wrong.get_data(as_text=True)
    assert client.get("/metrics", headers=AUTH).status_code == 200


def test_sip_heartbeats_job_queues_and_reconciled_calls_are_reported(
    settings: Settings, redis_client: redis.Redis
) -> None:
    now = time.time()
    commands.beat(
        redis_client,
        "sip-a:127.0.0.1:5071",
        {"process_id": "sip-a:127.0.0.1:5071", "legs": "7", "max_calls": "480"},
        now,
    )
    metrics.count(redis_client, metrics.RECONCILED_CALLS, n=2)
    metrics.count(redis_client, metrics.RECONCILED_CALLS, n=1)
    client = create_app(settings.with_overrides(metrics_token=TOKEN)).test_client()

    families = _families(client)
    labels = {"process": "sip-a:127.0.0.1:5071"}
    assert ("amparo_sip_calls", labels, 7.0) in families["amparo_sip_calls"]
    assert ("amparo_sip_capacity", labels, 480.0) in families["amparo_sip_capacity"]
    queued = {s[1]["queue"]: s[2] for s in families["amparo_jobs_queued"]}
    assert queued == {"urgent": 0.0, "default": 0.0, "checkins": 0.0, "maintenance": 0.0}
    assert families["amparo_job_workers"] == [("amparo_job_workers", {}, 0.0)]
    reconciled = families["amparo_reconciled_calls"]
    assert ("amparo_reconciled_calls_total", {}, 3.0) in reconciled
    timekeeper = "amparo_timekeeper_running"
    assert families[timekeeper] == [(timekeeper, {}, 0.0)]  # no worker runs
    assert Lease(redis_client, "timekeeper", 5000).hold()  # a worker's timekeeper takes it
    assert _families(client)[timekeeper] == [(timekeeper, {}, 1.0)]


def test_a_label_value_that_is_not_an_identifier_is_counted_as_other(
    settings: Settings, redis_client: redis.Redis
) -> None:
    metrics.observe(redis_client, metrics.TIME_TO_HUMAN, ("María +34 600 000 000",), 3.0)
    client = create_app(settings.with_overrides(metrics_token=TOKEN)).test_client()
    text = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    assert "María" not in text and "600 000" not in text
    assert 'amparo_time_to_human_seconds_count{risk="other"} 1.0' in text


def test_with_redis_down_the_scrape_still_answers_and_says_so(
    settings: Settings, redis_process: RedisProcess
) -> None:
    runtime = build_runtime(
        settings.with_overrides(redis_url=redis_process.url, metrics_token=TOKEN)
    )
    try:
        client = create_app(runtime=runtime).test_client()
        assert _families(client)["amparo_redis_up"] == [("amparo_redis_up", {}, 1.0)]
        redis_process.stop()
        assert _families(client) == {"amparo_redis_up": [("amparo_redis_up", {}, 0.0)]}
        redis_process.start()
        assert _families(client)["amparo_redis_up"] == [("amparo_redis_up", {}, 1.0)]
    finally:
        runtime.close()


def test_the_alerting_rules_and_the_dashboard_name_only_exposed_metrics(
    settings: Settings, redis_client: redis.Redis
) -> None:
    exposed = exposed_names(create_app(settings.with_overrides(metrics_token=TOKEN)).test_client())

    rules = yaml.safe_load((DEPLOY / "prometheus" / "amparo-rules.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 10
    for rule in alerts:
        assert rule["alert"].startswith("Amparo")
        assert rule["labels"]["severity"] in {"page", "warning"}
        assert rule["annotations"]["summary"]
        named = set(METRIC_NAME.findall(rule["expr"]))
        assert named, rule["alert"]
        assert named <= exposed, (rule["alert"], named - exposed)

    dashboard = json.loads((DEPLOY / "grafana" / "amparo-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert exprs
    charted = {name for expr in exprs for name in METRIC_NAME.findall(expr)}
    assert charted <= exposed, charted - exposed
    every_metric = {g.name for g in metrics.GAUGES} | {h.name for h in metrics.HISTOGRAMS}
    assert every_metric <= {name.removesuffix("_bucket") for name in charted}
