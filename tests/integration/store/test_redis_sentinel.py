"""Redis under Sentinel: every connection a process opens (live state, rq's jobs, the consoles'
event streams) follows the sentinels to the promoted replica when the primary dies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from runtime import Runtime, build_runtime
from settings import Settings, load_settings
from store.live_state import job_queue, key
from tests.harness.sentinel import SentinelCluster, sentinel_cluster

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    with sentinel_cluster(tmp_path / "redis") as started:
        yield started


@pytest.fixture
def runtime(settings: Settings, cluster: SentinelCluster) -> Iterator[Runtime]:
    from_env = load_settings({"AMPARO_DATA_DIR": str(settings.data_dir), **cluster.env})
    built = build_runtime(
        settings.with_overrides(
            redis_url=from_env.redis_url, redis_sentinels=from_env.redis_sentinels
        )
    )
    yield built
    built.close()


def on(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=1)


def until(check: object, seconds: float) -> float:
    """Seconds until ``check()`` is true (Redis errors count as no); fails after ``seconds``."""
    assert callable(check)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if check():
                return time.monotonic() - started
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def test_every_connection_follows_the_sentinels_to_the_promoted_replica(
    runtime: Runtime, cluster: SentinelCluster
) -> None:
    before = key("test", "before")
    runtime.redis.set(before, "kept")
    assert on(cluster.primary.port).get(before) == "kept"  # written to the primary
    until(lambda: on(cluster.replica.port).get(before) == "kept", 10)  # and replicated
    job_queue(runtime.jobs, "urgent").enqueue("checkins.jobs.sweep", job_id="before-failover")

    cluster.kill_primary()
    after = key("test", "after")
    took = until(lambda: runtime.redis.set(after, "written"), 20)
    print(f"\nwrites resumed {took:.1f} s after the primary was killed")

    assert cluster.primary_port() == cluster.replica.port
    assert on(cluster.replica.port).get(after) == "written"
    assert runtime.redis.get(before) == "kept"
    queue = job_queue(runtime.jobs, "urgent")
    assert "before-failover" in queue.job_ids
    queue.enqueue("checkins.jobs.sweep", job_id="after-failover")
    assert on(cluster.replica.port).llen("rq:queue:urgent") == 2

    streams = runtime.event_streams.pubsub()
    streams.subscribe(key("test", "channel"))
    until(lambda: streams.get_message(timeout=0.5) is not None, 5)  # the subscribe reply
    runtime.redis.publish(key("test", "channel"), "hello")
    until(lambda: (streams.get_message(timeout=0.5) or {}).get("data") == "hello", 5)
    streams.close()
