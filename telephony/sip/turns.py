"""A caller's turn, watched: its media steps arrive in time, or she goes to the line's overflow.

A turn (the switchboard's answer to a call event, planned into media steps) is computed on the
worker pool while the caller hears the hold loop. On Twilio, any failure of a voice webhook is
answered with a ``Dial`` to the line's overflow number (``telephony/twilio/http.py``), and
Twilio itself gives up on a webhook that does not answer. The SIP edge owes the caller the same
(safety rule 1): a turn that raises, or that has not come back within :data:`TURN_TIMEOUT_S`,
sends her to the line's overflow number exactly as a ``dial`` action does. Nothing here hangs
up: a caller whose fallback cannot be dialled stays on the hold loop.

Whichever comes first, the turn's result, its failure or its deadline, decides; a result that
comes back after the deadline only tells the session who the call was (so the call is closed
properly when she hangs up), it plays nothing. Logs carry ids and exception types only: an
exception's text may quote a query's parameters (a phone number).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

TURN_TIMEOUT_S = 5.0
"""How long a caller waits on the hold loop for a turn before she is sent to the overflow."""

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class TurnClock(Protocol):
    """The pjsua2 loop as the watchdog needs it (``loop.PjLoop``)."""

    def post(self, job: Callable[[], None]) -> None: ...

    def call_later(self, seconds: float, action: Callable[[], None]) -> Cancellable: ...


class WorkerPool(Protocol):
    """The SIP worker pool (a ``ThreadPoolExecutor``)."""

    def submit(self, fn: Callable[[], R], /) -> Future[R]: ...


class TurnTaker(Protocol[R_contra]):
    """The session waiting for the turn (``calls.IvrSession``); called on the pjsua2 thread."""

    @property
    def label(self) -> str: ...

    def apply(self, result: R_contra) -> None: ...

    def turn_failed(self, reason: TurnFailure) -> None: ...

    def turn_late(self, result: R_contra) -> None: ...


class TurnFailure(StrEnum):
    """Why a turn produced no steps; the ``reason`` of the fallback ``dial``."""

    RAISED = "internal_error"
    TIMED_OUT = "turn_timeout"
    NOT_STARTED = "workers_closed"


@dataclass
class _Watch(Generic[R]):
    taker: TurnTaker[R]
    decided: bool = False
    deadline: Cancellable | None = field(default=None, repr=False)


@dataclass
class TurnWatchdog:
    """Runs turns on the worker pool and watches each one from the pjsua2 thread."""

    clock: TurnClock
    workers: WorkerPool
    timeout_s: float = TURN_TIMEOUT_S

    def start(self, work: Callable[[], R], taker: TurnTaker[R]) -> None:
        """Compute ``work`` off the pjsua2 thread for ``taker``; call on the pjsua2 thread.

        Args:
            work: the switchboard call and the planning of its steps (any thread may run it).
            taker: gets ``apply(result)`` in time, else ``turn_failed(reason)`` once, and
                ``turn_late(result)`` for a result that comes after that.
        """
        watch: _Watch[R] = _Watch(taker)
        try:
            future = self.workers.submit(work)
        except RuntimeError:  # the pool is shut down: the process is stopping
            self._fail(watch, TurnFailure.NOT_STARTED)
            return
        watch.deadline = self.clock.call_later(self.timeout_s, lambda: self._expired(watch))
        future.add_done_callback(lambda done: self.clock.post(lambda: self._finished(watch, done)))

    def _finished(self, watch: _Watch[R], future: Future[R]) -> None:
        error = future.exception()
        if watch.decided:
            if error is None:
                log.warning("call %s: a turn came back too late; not played", watch.taker.label)
                watch.taker.turn_late(future.result())
            return
        if watch.deadline is not None:
            watch.deadline.cancel()
        if error is not None:
            log.error(
                "call %s: turn failed (%s); sending the caller to the overflow",
                watch.taker.label,
                type(error).__name__,
            )
            self._fail(watch, TurnFailure.RAISED)
            return
        watch.decided = True
        watch.taker.apply(future.result())

    def _expired(self, watch: _Watch[R]) -> None:
        if watch.decided:
            return
        log.error(
            "call %s: no turn within %.0f s; sending the caller to the overflow",
            watch.taker.label,
            self.timeout_s,
        )
        self._fail(watch, TurnFailure.TIMED_OUT)

    @staticmethod
    def _fail(watch: _Watch[R], reason: TurnFailure) -> None:
        watch.decided = True
        watch.taker.turn_failed(reason)
