"""The sweeper thread every worker and SIP process runs (``routing.sweeper.sweep`` on a timer)."""

from __future__ import annotations

import logging
import threading
import time

from routing.router import Router

log = logging.getLogger(__name__)


class Sweeper:
    """Runs ``router.sweep`` every ``interval`` seconds in a daemon thread (offer timeouts,
    widening, overflow, ladders). Any number of processes may sweep at once."""

    def __init__(self, router: Router, interval: float = 0.5) -> None:
        self._router = router
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="amparo-sweeper", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._router.sweep(time.time())
            except Exception:
                log.exception("routing sweep failed; retrying")
