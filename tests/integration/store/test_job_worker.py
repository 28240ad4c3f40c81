"""Amparo's rq workers stop promptly on real Redis, even when rq's pub/sub thread has gone back
to its 60 s wait for a subscription (rq 3.0 would join it without a bound)."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from rq.serializers import JSONSerializer
from rq.worker import BaseWorker

from store.job_worker import PUBSUB_STOP_WAIT_S, InProcessJobWorker, JobWorker
from store.live_state import job_queue


@pytest.mark.parametrize("kind", [JobWorker, InProcessJobWorker])
def test_a_worker_whose_pubsub_thread_is_waiting_stops_within_seconds(
    redis_url: str, kind: type[BaseWorker]
) -> None:
    connection = redis.Redis.from_url(redis_url)
    worker = kind(
        [job_queue(connection, "checkins")], connection=connection, serializer=JSONSerializer
    )
    worker.subscribe()  # type: ignore[no-untyped-call]
    assert worker.pubsub is not None and worker.pubsub_thread is not None
    # The thread reads the reply to an UNSUBSCRIBE and goes back to waiting for a subscription:
    # the moment a worker's own teardown can meet.
    worker.pubsub.unsubscribe()
    deadline = time.monotonic() + 10
    while worker.pubsub.subscribed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker.pubsub.subscribed
    time.sleep(0.2)

    stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
    stopping.start()
    stopping.join(PUBSUB_STOP_WAIT_S + 10)
    assert not stopping.is_alive()  # rq's own unsubscribe would still wait out its 60 s
    connection.close()


def test_a_burst_worker_with_nothing_to_do_ends(redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    queue = job_queue(connection, "checkins")
    assert (
        JobWorker([queue], connection=connection, serializer=JSONSerializer).work(burst=True)
        is False
    )
    connection.close()
