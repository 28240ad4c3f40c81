"""Periodic work of the whole deployment, done by one worker at a time and never given up.

Every ``amparo worker`` runs a ``Timekeeper`` thread. Each tick (a second) it takes or renews
one Redis lease (:class:`store.lease.Lease`); the worker holding it runs the chores that are
due (release scheduled jobs, sweep stored alarms, keep the periodic jobs scheduled), the others
only stand by, and take over within the lease's TTL when the holder dies or hangs.

Nothing here ever stops the loop: a chore that raises (Redis or the database down) is logged
once when it starts failing, once a minute while it keeps failing and once when it recovers,
and is tried again on the next tick, so work resumes about a second after the service is back.
Chores are idempotent, so the rare overlap of two holders (one paused past its TTL) does no
harm. The schedule lives in the chores themselves, not in Redis: when Redis comes back empty,
the next tick schedules everything again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from store.lease import Lease

log = logging.getLogger(__name__)

#: The lease the workers' timekeepers share (``amparo:lease:timekeeper``): held means that
#: some worker runs the periodic work now.
LEASE = "timekeeper"

#: How often a failure that goes on is logged again.
REPEAT_FAILURE_LOG_S = 60.0


@dataclass(frozen=True)
class Chore:
    """``run`` every ``every_s`` seconds (at most once a tick) on the lease holder."""

    name: str
    every_s: float
    run: Callable[[], object]


@dataclass
class _Failure:
    since: float
    logged_at: float


class Timekeeper:
    """Runs ``chores`` on whichever process holds ``lease``, one tick every ``tick_s``."""

    def __init__(
        self,
        lease: Lease,
        chores: Sequence[Chore],
        *,
        tick_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if lease.ttl_ms < 3000 * tick_s:
            raise ValueError("the lease must outlast three ticks")
        self._lease = lease
        self._chores = list(chores)
        self._tick_s = tick_s
        self._monotonic = monotonic
        self._due: dict[str, float] = {}
        self._failures: dict[str, _Failure] = {}
        self._leading = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="amparo-timekeeper", daemon=True)

    @property
    def leading(self) -> bool:
        """True while this process held the lease at its last tick."""
        return self._leading

    def tick(self) -> list[str]:
        """Renew the lease and run the chores that are due; the names of those that ran
        (successfully). Never raises."""
        ran: list[str] = []
        for chore in self._chores:
            if not self._hold():
                return ran
            now = self._monotonic()
            if now < self._due.get(chore.name, 0.0):
                continue
            ok, _ = self._attempt(chore.name, chore.run)
            if ok:
                self._due[chore.name] = now + chore.every_s
                ran.append(chore.name)
        return ran

    def _hold(self) -> bool:
        ok, held = self._attempt("lease", self._lease.hold)
        leading = ok and bool(held)
        if leading and not self._leading:
            log.info("timekeeper: this worker now runs the periodic work")
        elif self._leading and not leading:
            log.warning("timekeeper: lease lost; another worker runs the periodic work")
        if not leading:
            self._due.clear()  # whoever leads next runs every chore at once
        self._leading = leading
        return leading

    def _attempt(self, name: str, work: Callable[[], object]) -> tuple[bool, object]:
        """``(True, work())``, or ``(False, None)`` when it raised (logged without flooding
        the log)."""
        now = self._monotonic()
        try:
            result = work()
        except Exception as exc:
            failure = self._failures.get(name)
            if failure is None:
                self._failures[name] = _Failure(since=now, logged_at=now)
                log.warning("timekeeper: %s failed (%s); retrying every tick", name, exc_name(exc))
            elif now - failure.logged_at >= REPEAT_FAILURE_LOG_S:
                failure.logged_at = now
                log.warning(
                    "timekeeper: %s still failing after %.0f s (%s)",
                    name,
                    now - failure.since,
                    exc_name(exc),
                )
            return False, None
        failure = self._failures.pop(name, None)
        if failure is not None:
            log.warning("timekeeper: %s recovered after %.1f s", name, now - failure.since)
        return True, result

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self._tick_s)

    def start(self) -> Timekeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop ticking and hand the lease over at once (best effort)."""
        self._stop.set()
        self._thread.join(10)
        if self._leading:
            try:
                self._lease.release()
            except Exception:
                log.info("timekeeper: lease not released; it expires by itself")
        self._leading = False


def exc_name(exc: BaseException) -> str:
    """An exception's class only: messages may quote data (a row, a key)."""
    return type(exc).__name__
