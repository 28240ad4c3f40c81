"""Several OS processes hammer one real Redis with arrivals, answers and sweeps (one of them is
killed mid-run): afterwards every call was answered at most once and is answered, waiting,
abandoned or overflowed — none lost, none doubled — and the invariants hold."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from routing import Router
from routing.invariants import find_violations
from routing.ports import MemoryCallControl, MemoryCallLog, MemoryNotifier
from routing.state import CallStatus, routing_key
from routing.views import service_level_today
from tests.integration.routing.workload import CONFIG, hammer, staff

WORKERS = 4
SECONDS = 3.0


def all_calls(client: redis.Redis) -> dict[str, str]:
    prefix = routing_key("call", "")
    calls = {}
    for raw in client.scan_iter(match=prefix + "*", count=1000):
        name = str(raw)[len(prefix) :]
        if ":" in name:
            continue
        calls[name] = str(client.hget(raw, "status"))
    return calls


@pytest.mark.slow
def test_processes_racing_on_one_redis_never_lose_or_double_a_call(
    redis_client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    staff(redis_url)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=hammer, args=(redis_url, index, SECONDS, str(tmp_path)))
        for index in range(WORKERS)
    ]
    doomed = context.Process(target=hammer, args=(redis_url, 99, 30.0, str(tmp_path)))
    for process in [*workers, doomed]:
        process.start()
    time.sleep(SECONDS / 2 + 1.0)
    assert doomed.pid is not None
    os.kill(doomed.pid, signal.SIGKILL)
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    doomed.join(10)

    reports = [json.loads(path.read_text()) for path in tmp_path.glob("worker-*.json")]
    assert len(reports) == WORKERS
    enqueued = [call_id for report in reports for call_id in report["enqueued"]]
    assert len(enqueued) > 100
    answered_by = Counter(call_id for report in reports for call_id, _ in report["answered"])
    assert max(answered_by.values()) == 1

    now = time.time()
    assert find_violations(redis_client, now, work_conserving=False) == []

    log = MemoryCallLog()
    closer = Router(redis_client, CONFIG, log, MemoryNotifier(), MemoryCallControl())
    closer.sweep(now + CONFIG.outbox_grace_seconds + 1)
    end = now + CONFIG.default_queue.max_wait_seconds + 5
    for _ in range(100):
        closer.sweep(end)
        if redis_client.zcard(routing_key("waiting")) == 0:
            break
        end += CONFIG.offer_timeout_seconds
    assert find_violations(redis_client, end) == []

    calls = all_calls(redis_client)
    assert set(enqueued) <= set(calls)
    assert set(calls.values()) <= {
        CallStatus.ANSWERED,
        CallStatus.COMPLETED,
        CallStatus.ABANDONED,
        CallStatus.OVERFLOWED,
    }
    answered_calls = [
        c for c, s in calls.items() if s in (CallStatus.ANSWERED, CallStatus.COMPLETED)
    ]
    level = service_level_today(redis_client, CONFIG, now)
    assert level.answered == len(answered_calls), "an accept went through twice"
    assert level.enqueued == len(calls)

    answered_events = {tuple(event) for report in reports for event in report["answered_events"]}
    per_call = Counter(call_id for call_id, _ in answered_events)
    assert not per_call or max(per_call.values()) == 1
    assert redis_client.zcard(routing_key("outbox")) == 0
