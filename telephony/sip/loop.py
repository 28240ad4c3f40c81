"""The one thread that drives pjsua2, and the queue every other thread talks to it through.

pjsua2 is not safe to call from arbitrary Python threads: a ``Call`` may be destroyed by one
thread while another reads it, and each foreign thread would have to be registered with pjlib.
So the Endpoint is created, polled and destroyed on a single thread (``amparo-sip``), with no
pjsua worker threads (``threadCnt = 0``) and ``mainThreadOnly`` so that callbacks from pjmedia's
threads are re-posted to it. Other threads (the switchboard workers, the Redis command listener,
signal handling) never touch pjsua2 objects: they :meth:`PjLoop.post` a function, which runs on
the pjsua2 thread between two polls. Timers (prompt ends, gather timeouts) run there too.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

POLL_MS = 5
MAX_JOBS_PER_TURN = 500


@dataclass(order=True)
class Timer:
    due: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class PjLoop:
    """Jobs and timers for the pjsua2 thread; ``poll`` is the engine's event pump."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self.thread_id: int | None = None

    def post(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the pjsua2 thread (safe from any thread)."""
        self._jobs.put(job)

    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self.thread_id

    def call_later(self, seconds: float, action: Callable[[], None]) -> Timer:
        """Schedule ``action`` on the pjsua2 thread; only call from that thread."""
        timer = Timer(time.monotonic() + max(0.0, seconds), next(self._seq), action)
        heapq.heappush(self._timers, timer)
        return timer

    def run_once(self, poll: Callable[[int], object]) -> None:
        """One turn: poll the engine, then run queued jobs and due timers."""
        wait_ms = POLL_MS
        if self._timers:
            until = (self._timers[0].due - time.monotonic()) * 1000
            wait_ms = int(max(0, min(POLL_MS, until)))
        if not self._jobs.empty():
            wait_ms = 0
        poll(wait_ms)
        for _ in range(MAX_JOBS_PER_TURN):
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            self._run(job)
        now = time.monotonic()
        while self._timers and self._timers[0].due <= now:
            timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                self._run(timer.action)

    def drain(self) -> None:
        """Run whatever is queued (used while shutting down)."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            self._run(job)

    @staticmethod
    def _run(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:
            log.exception("SIP job failed")
