"""The SIP turn watchdog: a turn's result in time is played; a turn that raises or is late
sends the caller to the overflow once, and a late result only names the call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from telephony.sip.turns import TURN_TIMEOUT_S, TurnFailure, TurnWatchdog

T = TypeVar("T")


@dataclass
class Timer:
    due: float
    action: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class PjThread:
    """The pjsua2 loop, run by hand: posted jobs wait until ``run_posted``."""

    now: float = 0.0
    posted: list[Callable[[], None]] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)

    def post(self, job: Callable[[], None]) -> None:
        self.posted.append(job)

    def call_later(self, seconds: float, action: Callable[[], None]) -> Timer:
        timer = Timer(self.now + seconds, action)
        self.timers.append(timer)
        return timer

    def run_posted(self) -> None:
        jobs, self.posted = self.posted, []
        for job in jobs:
            job()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for timer in [t for t in self.timers if t.due <= self.now and not t.cancelled]:
            self.timers.remove(timer)
            timer.action()


@dataclass
class Workers:
    """A pool whose jobs finish when the test says so."""

    pending: list[tuple[Callable[[], Any], Future[Any]]] = field(default_factory=list)
    closed: bool = False

    def submit(self, fn: Callable[[], T], /) -> Future[T]:
        if self.closed:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: Future[T] = Future()
        self.pending.append((fn, future))
        return future

    def finish_all(self) -> None:
        for fn, future in self.pending:
            try:
                future.set_result(fn())
            except Exception as exc:
                future.set_exception(exc)
        self.pending.clear()


@dataclass
class Caller:
    label: str = "call-1"
    applied: list[object] = field(default_factory=list)
    failed: list[TurnFailure] = field(default_factory=list)
    late: list[object] = field(default_factory=list)

    def apply(self, result: object) -> None:
        self.applied.append(result)

    def turn_failed(self, reason: TurnFailure) -> None:
        self.failed.append(reason)

    def turn_late(self, result: object) -> None:
        self.late.append(result)


@pytest.fixture
def pj() -> PjThread:
    return PjThread()


@pytest.fixture
def workers() -> Workers:
    return Workers()


def test_a_turn_answered_in_time_is_played_and_its_deadline_disarmed(
    pj: PjThread, workers: Workers
) -> None:
    caller = Caller()
    TurnWatchdog(pj, workers).start(lambda: "steps", caller)

    pj.advance(TURN_TIMEOUT_S - 0.5)
    workers.finish_all()
    pj.run_posted()
    pj.advance(10)

    assert caller.applied == ["steps"]
    assert caller.failed == [] and caller.late == []


def test_a_turn_that_raises_sends_the_caller_to_the_overflow_logging_ids_only(
    pj: PjThread, workers: Workers, caplog: pytest.LogCaptureFixture
) -> None:
    caller = Caller()

    def switchboard_down() -> object:
        raise RuntimeError("duplicate key (caller_number)=(+34600111222)")

    TurnWatchdog(pj, workers).start(switchboard_down, caller)
    with caplog.at_level(logging.INFO):
        workers.finish_all()
        pj.run_posted()
        pj.advance(10)

    assert caller.failed == [TurnFailure.RAISED]  # once: the deadline no longer counts
    assert caller.applied == []
    assert "call-1" in caplog.text and "RuntimeError" in caplog.text
    assert "+34600111222" not in caplog.text


def test_a_late_turn_sends_the_caller_to_the_overflow_and_its_result_only_names_the_call(
    pj: PjThread, workers: Workers
) -> None:
    caller = Caller()
    TurnWatchdog(pj, workers).start(lambda: "late steps", caller)

    pj.advance(TURN_TIMEOUT_S)
    assert caller.failed == [TurnFailure.TIMED_OUT]

    workers.finish_all()
    pj.run_posted()
    assert caller.applied == []
    assert caller.late == ["late steps"]


def test_a_late_turn_that_raises_changes_nothing(pj: PjThread, workers: Workers) -> None:
    caller = Caller()

    def broken() -> object:
        raise LookupError("gone")

    TurnWatchdog(pj, workers).start(broken, caller)
    pj.advance(TURN_TIMEOUT_S)
    workers.finish_all()
    pj.run_posted()

    assert caller.failed == [TurnFailure.TIMED_OUT]
    assert caller.applied == [] and caller.late == []


def test_a_turn_with_no_worker_left_goes_to_the_overflow_at_once(
    pj: PjThread, workers: Workers
) -> None:
    caller = Caller()
    workers.closed = True

    TurnWatchdog(pj, workers).start(lambda: "steps", caller)

    assert caller.failed == [TurnFailure.NOT_STARTED]
    assert pj.timers == []


def test_each_turn_has_its_own_deadline(pj: PjThread, workers: Workers) -> None:
    first, second = Caller("call-1"), Caller("call-2")
    watchdog = TurnWatchdog(pj, workers, timeout_s=2.0)
    watchdog.start(lambda: "one", first)
    pj.advance(1.5)
    watchdog.start(lambda: "two", second)

    pj.advance(0.5)  # the first turn's deadline
    assert first.failed == [TurnFailure.TIMED_OUT] and second.failed == []
    workers.finish_all()
    pj.run_posted()
    assert second.applied == ["two"] and first.late == ["one"]
