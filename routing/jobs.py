"""Thin entry points for processes that drive the sweeper: one sweep, a loop, and the
``Sweeper`` thread every worker and SIP process runs. The composition root builds the Router
(with its ports) and passes it in; the time comes from the injected clock, the only clock read
in routing."""

from __future__ import annotations

import logging
import threading

import redis

from routing.router import Router
from routing.state import SweepReport
from store.clock import Clock, SystemClock

log = logging.getLogger(__name__)


def sweep_once(router: Router, clock: Clock) -> SweepReport | None:
    """One sweep; a failure is logged (no ids, no data) and the next tick tries again."""
    try:
        return router.sweep(clock.time())
    except (redis.RedisError, OSError):
        log.warning("routing sweep failed; retrying on the next tick", exc_info=True)
    except Exception:
        log.exception("routing sweep failed; retrying on the next tick")
    return None


def sweep_forever(
    router: Router, clock: Clock, stop: threading.Event, interval_seconds: float = 1.0
) -> None:
    """Sweep every ``interval_seconds`` until ``stop`` is set. Run one per process if you like:
    concurrent sweepers are safe (each timer fires once)."""
    while not stop.is_set():
        sweep_once(router, clock)
        stop.wait(interval_seconds)


class Sweeper:
    """``sweep_forever`` in a daemon thread (offer timeouts, widening, overflow, ladders)."""

    def __init__(self, router: Router, interval: float = 0.5, clock: Clock | None = None) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=sweep_forever,
            args=(router, clock or SystemClock(), self._stop, interval),
            name="amparo-sweeper",
            daemon=True,
        )

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
