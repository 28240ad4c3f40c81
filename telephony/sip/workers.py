"""The SIP process's threads off the pjsua2 thread, kept apart so that nothing queues ahead of
a caller's turn.

- **turns** (``AMPARO_SIP_WORKERS``): the switchboard's database and Redis I/O for a caller
  waiting for what comes next (``turns.TurnWatchdog``);
- **call-log writers** (half as many, at least 2): single-thread executors, a call always on
  the same one, so each call's events are stored in the order they happened;
- **side work** (2): Redis claims and publishes, the overflow book, recordings' archiving.

At the default (8 + 4 + 2) they stay inside the database pool's 15 connections.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
SIDE_WORKERS = 2


class SipWorkers:
    def __init__(self, turn_workers: int) -> None:
        self.turns = ThreadPoolExecutor(turn_workers, "amparo-sip-turn")
        self.side = ThreadPoolExecutor(SIDE_WORKERS, "amparo-sip-worker")
        self.log_writers = [
            ThreadPoolExecutor(1, f"amparo-sip-log-{n}") for n in range(max(2, turn_workers // 2))
        ]

    def side_job(self, work: Callable[[], T], done: Callable[[Future[T]], None]) -> None:
        try:
            self.side.submit(work).add_done_callback(done)
        except RuntimeError:
            log.error("SIP worker pool is closed; job dropped")

    def write_log(self, call_id: str, write: Callable[[], object]) -> None:
        """``write`` one of ``call_id``'s events, after the ones asked for before it."""
        writer = self.log_writers[zlib.crc32(call_id.encode()) % len(self.log_writers)]

        def guarded() -> None:
            try:
                write()
            except Exception:
                log.exception("call %s: an event was not stored", call_id)

        try:
            writer.submit(guarded)
        except RuntimeError:
            log.error("SIP log writer is closed; an event of call %s dropped", call_id)

    def shutdown(self) -> None:
        """Waits for what was asked: the turns, the side work, then the events."""
        for executor in (self.turns, self.side, *self.log_writers):
            executor.shutdown(wait=True, cancel_futures=False)
