"""A real ``amparo worker``-like rq worker for tests, in its own process.

It builds the runtime from ``AMPARO_*`` like ``amparo worker`` and installs the check-in jobs,
with three test instruments read from the environment:

- the clock is frozen at the epoch seconds stored in Redis under ``CLOCK_KEY`` (so the test
  and every worker share one controllable time);
- every call the dialer places is logged in Redis (``DIALS_KEY``), so a test can count calls
  per attempt across processes;
- ``AMPARO_TEST_BLOCK=open|dial`` makes the first run block (after recording it in
  ``BLOCKED_KEY``) just before the call is opened, or just after the phone started ringing,
  so the test can kill the worker exactly there.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import time
from datetime import UTC, datetime
from typing import Any

import redis
from rq.serializers import JSONSerializer

from checkins import jobs
from checkins.context import CheckinContext
from checkins.ports import CallOpener, OutboundDialer
from store.job_worker import JobWorker
from store.live_state import QUEUE_NAMES, job_queue, key
from store.vocabulary import Channel

CLOCK_KEY = key("test", "clock")
DIALS_KEY = key("test", "dials")
BLOCKED_KEY = key("test", "blocked")


class RedisClock:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def now(self) -> datetime:
        raw = self._client.get(CLOCK_KEY)
        return datetime.fromtimestamp(float(raw) if raw else time.time(), UTC)

    def time(self) -> float:
        return self.now().timestamp()


class Blocker:
    def __init__(self, client: redis.Redis, where: str) -> None:
        self._client = client
        self._where = where

    def maybe_block(self, where: str) -> None:
        if where == self._where:
            self._client.rpush(BLOCKED_KEY, f"{where}:{os.getpid()}")
            time.sleep(3600)


class LoggingDialer:
    def __init__(self, inner: OutboundDialer, client: redis.Redis, blocker: Blocker) -> None:
        self._inner = inner
        self._client = client
        self._blocker = blocker

    @property
    def channel(self) -> Channel:
        return self._inner.channel

    def place_call(self, call_id: str, to_number: str, caller_id: str | None) -> str:
        placed = self._inner.place_call(call_id, to_number, caller_id)
        self._client.rpush(DIALS_KEY, f"{call_id}|{caller_id or ''}|{time.time()}")
        self._blocker.maybe_block("dial")
        return placed

    def cancel(self, call_id: str) -> None:
        self._inner.cancel(call_id)


class BlockingOpener:
    def __init__(self, inner: CallOpener, blocker: Blocker) -> None:
        self._inner = inner
        self._blocker = blocker

    def open_outbound(self, **kwargs: Any) -> str:
        self._blocker.maybe_block("open")
        return self._inner.open_outbound(**kwargs)


def instrument(context: CheckinContext, client: redis.Redis) -> None:
    blocker = Blocker(client, os.environ.get("AMPARO_TEST_BLOCK", ""))
    context.clock = RedisClock(client)
    context.dialer = LoggingDialer(context.dialer, client, blocker)
    context.calls = BlockingOpener(context.calls, blocker)


def main() -> None:
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks for stacks
    from runtime import build_runtime
    from settings import load_settings

    runtime = build_runtime(load_settings())
    context = runtime.checkins
    runtime.switchboard  # noqa: B018 - built before the fork, as ``amparo worker`` does
    instrument(context, runtime.redis)
    jobs.install(context)
    connection = runtime.jobs
    queues = [job_queue(connection, name) for name in QUEUE_NAMES]
    burst = "--burst" in sys.argv
    JobWorker(queues, connection=connection, serializer=JSONSerializer).work(
        burst=burst, with_scheduler=False, logging_level="WARNING"
    )
    runtime.close()


if __name__ == "__main__":
    main()
