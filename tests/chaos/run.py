"""One chaos run: a fault injected mid-traffic, and what it left (``ChaosReport``), for the
chaos suite (``test_faults.py``, which asserts on it) and ``bench/chaos.py`` (which prints it).

20 callers phone through the Twilio webhooks, four agents answer from the console, a device
alarm is sent during the fault (resent every 2 s until it is taken, as a device does).

Faults: the leading worker of two SIGKILLed as the first callers' maximum waits run out (its
supervisor starts another 3 s later; the other keeps routing's timers on time), one gunicorn
worker of a web instance SIGKILLed, a whole web instance SIGKILLed with the other one up (two behind
HAProxy), Redis SIGKILLed without persistence (back at once, empty) and with its append-only
file (back at once, with its data), the Redis primary SIGKILLed under Sentinel (its replica
promoted; the fault ends when the sentinels name it), PostgreSQL stopped for 20 s; and
``none``, the same traffic with no fault, as the benchmark's baseline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from routing.invariants import find_violations
from routing.views import open_escalations
from store.alarms import DeviceAlarm
from store.live_state import key
from store.models import Device
from store.records import Call, CallEvent
from tests.chaos.stack import MAX_WAIT_S, ChaosStack, chaos_stack, wait_for
from tests.chaos.traffic import CallerResult, run_agent, run_caller
from tests.integration.agent_console.console_helpers import account
from tests.integration.checkins.helpers import alarm_body, signed_headers

CALLERS = 20
CALLER_EVERY_S = 0.4
FAULT_AT_S = 3.0
LINE_OVERFLOW = "+34900000002"  # the test hotline's overflow number


def _worker_killed(stack: ChaosStack) -> None:
    """As the first callers' maximum waits run out, so their overflow is due during it."""
    time.sleep(MAX_WAIT_S - FAULT_AT_S)
    stack.kill_worker()
    time.sleep(3.0)
    stack.start_worker()


def _redis_killed(stack: ChaosStack) -> None:
    stack.kill_redis()
    time.sleep(1.0)
    stack.redis.start()


def _no_fault(stack: ChaosStack) -> None:
    return None


def _web_worker_killed(stack: ChaosStack) -> None:
    stack.kill_web_worker(0)


def _web_instance_killed(stack: ChaosStack) -> None:
    stack.kill_web(0)
    time.sleep(3.0)
    stack.start_web(0)


def _primary_failed_over(stack: ChaosStack) -> None:
    assert stack.sentinels is not None
    promoted = stack.sentinels.replica.port
    stack.sentinels.kill_primary()
    assert wait_for(lambda: stack.sentinels and stack.sentinels.primary_port() == promoted, 30)


def _database_stopped(stack: ChaosStack) -> None:
    stack.cluster.stop()
    time.sleep(20.0)
    stack.cluster.start()


#: Each fault, the Redis and the web tier it breaks (``tests.chaos.stack.REDIS_KINDS``,
#: ``WEB_KINDS``).
FAULTS: dict[str, tuple[Callable[[ChaosStack], None], str, str]] = {
    "worker_sigkill": (_worker_killed, "plain", "in_process"),
    "web_worker_sigkill": (_web_worker_killed, "plain", "balanced"),
    "web_instance_sigkill": (_web_instance_killed, "plain", "balanced"),
    "redis_sigkill_without_aof": (_redis_killed, "plain", "in_process"),
    "redis_sigkill_with_aof": (_redis_killed, "aof", "in_process"),
    "redis_sentinel_failover": (_primary_failed_over, "sentinel", "in_process"),
    "postgresql_stopped_20s": (_database_stopped, "plain", "in_process"),
}
#: Faults that leave Redis and the database up: routing's timers (a caller's maximum wait) must
#: fire on time through them, since another worker sweeps.
TIMERS_KEPT = ("worker_sigkill", "web_worker_sigkill", "web_instance_sigkill")
BASELINE = "none"
"""The same traffic with no fault (``bench/chaos.py``'s baseline; not a test)."""
RUNS = {BASELINE: (_no_fault, "plain", "in_process"), **FAULTS}


def _send_alarm(stack: ChaosStack, serial: str, alarm_id: str, stop: threading.Event) -> None:
    """A device pressing its button during the fault: resent until answered 202."""
    body = alarm_body(alarm_id, serial)
    while not stop.is_set():
        try:
            headers = signed_headers(serial, stack.hotline.device_secret, body)
            if stack.post("/api/devices/alarm", body, headers) == 202:
                return
        except Exception:  # noqa: S110 - the device tries again
            pass
        stop.wait(2.0)


def _watch_alarm(
    stack: ChaosStack, alarm_id: str, stop: threading.Event, rang_at: list[float]
) -> None:
    """Note the moment the alarm's ladder is first seen ringing (polled every 0.1 s)."""
    while not stop.is_set():
        try:
            if _alarm_rang(stack, alarm_id):
                rang_at.append(time.monotonic())
                return
        except Exception:  # noqa: S110 - Redis or the database down: look again
            pass
        stop.wait(0.1)


def _alarm_rang(stack: ChaosStack, alarm_id: str) -> bool:
    with stack.runtime.sessions() as db:
        stored = db.scalars(select(DeviceAlarm.id).where(DeviceAlarm.external_id == alarm_id))
        escalation_ids = {f"alarm:{row}" for row in stored}
    return any(
        escalation.escalation_id in escalation_ids
        for escalation in open_escalations(stack.runtime.redis, time.time())
    )


def _open_calls(stack: ChaosStack, call_ids: list[str]) -> list[tuple[str, str, list[str]]]:
    """(call id, status, its events' kinds) of each call not closed."""
    with stack.runtime.sessions() as db:
        rows = {row.id: row for row in db.scalars(select(Call).where(Call.id.in_(call_ids)))}
        found = []
        for call_id in call_ids:
            row = rows.get(call_id)
            if row is not None and row.ended_at is not None:
                continue
            kinds = db.scalars(
                select(CallEvent.kind).where(CallEvent.call_id == call_id).order_by(CallEvent.seq)
            ).all()
            found.append((call_id[:8], row.status if row else "missing", list(kinds)))
    return found


@dataclass
class ChaosReport:
    fault: str
    results: list[CallerResult]
    alarm_rang: bool
    alarm_after_s: float
    """Seconds from the fault's end until the alarm rang the urgent team (0 when it rang
    during the fault; 10 when it had not rung 10 s after it)."""
    closed: bool
    closed_after_s: float
    """Seconds from the fault's end until every call was recorded and closed (or gave up)."""
    open_calls: list[tuple[str, str, list[str]]]
    doubled_events: list[Any]
    taken_twice: list[str]
    violations: list[Any]
    handled: list[int]
    worker_log: str = field(repr=False)

    overflow_late_s: float = 0.0
    """How long after her maximum wait ran out routing overflowed the latest caller (from the
    call log's ``enqueued`` and ``overflowed``, stamped by routing itself)."""

    @property
    def humans(self) -> int:
        return sum(result.outcome == "human" for result in self.results)

    def line(self) -> str:
        return (
            f"chaos {self.fault}: {self.humans} of {len(self.results)} callers with a human, the "
            f"rest overflowed; alarm rang {self.alarm_after_s:.1f} s after the fault's end; every "
            f"call closed {self.closed_after_s:.1f} s after it; overflow at most "
            f"{self.overflow_late_s:.1f} s late; handled {self.handled}"
        )


def run_fault(fault: str, tmp_path: Path, prism_url: str, data_key: bytes) -> ChaosReport:
    inject_fault, redis_kind, web_kind = RUNS[fault]
    with chaos_stack(tmp_path, prism_url, data_key, redis_kind, web_kind) as stack:
        runtime = stack.runtime
        lease = key("lease", "timekeeper")
        assert wait_for(lambda: runtime.redis.exists(lease), 60), stack.worker_log()
        with runtime.sessions() as db:
            device = db.get(Device, stack.hotline.device_id)
            assert device is not None
            serial = device.serial
        agents = [
            stack.console(account(runtime.sessions, stack.hotline.agents[login]))
            for login in ("ana", "farah", "urgent1", "urgent2")
        ]
        stop_agents = threading.Event()
        handled: dict[str, list[str]] = {agent.account.login: [] for agent in agents}
        agent_threads = [
            threading.Thread(
                target=run_agent, args=(agent, stop_agents, handled[agent.account.login])
            )
            for agent in agents
        ]
        for thread in agent_threads:
            thread.start()

        fault_over = threading.Event()
        results = [CallerResult(sid="", call_id="") for _ in range(CALLERS)]
        callers: list[threading.Thread] = []
        started = time.monotonic()
        fault_thread: threading.Thread | None = None
        alarm_stop = threading.Event()
        rang_at: list[float] = []
        alarm_thread: threading.Thread | None = None
        fault_end = 0.0
        alarm_id = f"CHAOS-{fault}-{time.time_ns()}"

        def inject() -> None:
            nonlocal fault_end
            inject_fault(stack)
            fault_end = time.monotonic()
            fault_over.set()

        for index, result in enumerate(results):
            if fault_thread is None and time.monotonic() - started >= FAULT_AT_S:
                fault_thread = threading.Thread(target=inject)
                fault_thread.start()
                time.sleep(0.2)
                alarm_thread = threading.Thread(
                    target=_send_alarm, args=(stack, serial, alarm_id, alarm_stop)
                )
                alarm_thread.start()
                threading.Thread(
                    target=_watch_alarm, args=(stack, alarm_id, alarm_stop, rang_at), daemon=True
                ).start()
            caller = threading.Thread(
                target=run_caller,
                args=(
                    stack.driver,
                    runtime,
                    stack.hotline.line_number,
                    f"+3465{index:07d}",
                    fault_over,
                    result,
                ),
            )
            caller.start()
            callers.append(caller)
            time.sleep(CALLER_EVERY_S)
        assert fault_thread is not None and alarm_thread is not None
        fault_thread.join(60)
        assert fault_over.is_set()

        wait_for(lambda: bool(rang_at), max(0.0, fault_end + 10.0 - time.monotonic()))
        rang = bool(rang_at) and rang_at[0] <= fault_end + 10.0
        alarm_after = max(0.0, rang_at[0] - fault_end) if rang else 10.0
        alarm_stop.set()
        alarm_thread.join(10)
        for caller in callers:
            caller.join(150)
        stop_agents.set()
        for thread in agent_threads:
            thread.join(10)

        call_ids = [result.call_id for result in results]

        def all_closed() -> bool:
            with runtime.sessions() as db:
                rows = db.scalars(select(Call).where(Call.id.in_(call_ids))).all()
            return len(rows) == CALLERS and all(row.ended_at is not None for row in rows)

        closed = wait_for(all_closed, max(0.0, 60.0 - (time.monotonic() - fault_end)), step=1.0)
        closed_after = time.monotonic() - fault_end
        with runtime.sessions() as db:
            doubled = db.execute(
                select(CallEvent.call_id, CallEvent.kind, func.count())
                .where(
                    CallEvent.call_id.in_(call_ids),
                    CallEvent.kind.in_(["agent_connected", "journalled", "hangup"]),
                )
                .group_by(CallEvent.call_id, CallEvent.kind)
                .having(func.count() > 1)
            ).all()
        taken = [call for calls in handled.values() for call in calls]
        late = _overflow_lateness(stack, call_ids)
        return ChaosReport(
            fault=fault,
            results=results,
            alarm_rang=rang,
            alarm_after_s=alarm_after,
            closed=closed,
            closed_after_s=closed_after,
            open_calls=[] if closed else _open_calls(stack, call_ids),
            doubled_events=list(doubled),
            taken_twice=sorted({call for call in taken if taken.count(call) > 1}),
            violations=list(find_violations(runtime.redis, time.time(), work_conserving=False)),
            handled=sorted(len(calls) for calls in handled.values()),
            worker_log=stack.worker_log(),
            overflow_late_s=late,
        )


def _overflow_lateness(stack: ChaosStack, call_ids: list[str]) -> float:
    with stack.runtime.sessions() as db:
        rows = db.execute(
            select(CallEvent.call_id, CallEvent.kind, CallEvent.at)
            .where(CallEvent.call_id.in_(call_ids), CallEvent.kind.in_(["enqueued", "overflowed"]))
            .order_by(CallEvent.call_id, CallEvent.seq)
        ).all()
    enqueued: dict[str, float] = {}
    late = 0.0
    for call_id, kind, at in rows:
        if kind == "enqueued":
            enqueued[call_id] = at.timestamp()
        elif call_id in enqueued:
            late = max(late, at.timestamp() - enqueued[call_id] - MAX_WAIT_S)
    return late
