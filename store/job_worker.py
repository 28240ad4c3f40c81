"""rq's workers as Amparo runs them.

rq 3.0 stops its pub/sub thread (the one that hears "stop this job" commands) with an unbounded
join. When the thread has just read the reply to the worker's UNSUBSCRIBE and gone back to
waiting for a subscription, that join waits out the thread's whole 60 s sleep, so a worker
asked to stop (or a burst worker with nothing left) could take a minute to exit. The thread is
a daemon: the workers here wait for it one second at most.
"""

from __future__ import annotations

import threading
from types import FrameType

from rq import SimpleWorker, Worker
from rq.worker import BaseWorker

PUBSUB_STOP_WAIT_S = 1.0


def _unsubscribe(worker: BaseWorker) -> None:
    if worker.pubsub_thread and worker.pubsub:
        worker.pubsub.unsubscribe()
        worker.pubsub_thread.stop(timeout=PUBSUB_STOP_WAIT_S)
        worker.pubsub.close()


class JobWorker(Worker):
    """The forking worker of ``amparo worker``, which also tells the process when a signal
    asked it to stop (``stop_requested``)."""

    stop_requested: threading.Event | None = None

    def unsubscribe(self) -> None:
        _unsubscribe(self)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_requested is not None:
            self.stop_requested.set()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]


class InProcessJobWorker(SimpleWorker):
    """Runs jobs in its own process (no work horse): tests and benchmarks."""

    def unsubscribe(self) -> None:
        _unsubscribe(self)
