"""One fault per run, injected mid-traffic: 20 callers phoning through the Twilio webhooks two
agents answer from the console, a device alarm sent during the fault (resent every 2 s until it
is taken, as a device does), and then:

* every caller reached a human or the overflow (never a dead end);
* every call is recorded, and closed, within a minute of the fault's end;
* the alarm rang the urgent team within 10 s of the fault's end;
* no duplicates (no call taken twice, no event written twice) and routing's invariants hold.

Faults: the worker SIGKILLed (its supervisor starts another 3 s later), Redis SIGKILLed without
persistence (back at once, empty) and with its append-only file (back at once, with its data),
the Redis primary SIGKILLed under Sentinel (its replica promoted; the fault ends when the
sentinels name it), PostgreSQL stopped for 20 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from routing.invariants import find_violations
from routing.views import open_escalations
from store.alarms import DeviceAlarm
from store.live_state import key
from store.models import Device
from store.records import Call, CallEvent
from tests.chaos.stack import FALLBACK_NUMBER, ChaosStack, chaos_stack, wait_for
from tests.chaos.traffic import CallerResult, run_agent, run_caller
from tests.harness.prism import PrismMock
from tests.integration.agent_console.console_helpers import account
from tests.integration.checkins.helpers import alarm_body, signed_headers

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.timeout(300)]

CALLERS = 20
CALLER_EVERY_S = 0.4
FAULT_AT_S = 3.0
LINE_OVERFLOW = "+34900000002"  # the test hotline's overflow number


def _worker_killed(stack: ChaosStack) -> None:
    stack.kill_worker()
    time.sleep(3.0)
    stack.start_worker()


def _redis_killed(stack: ChaosStack) -> None:
    stack.kill_redis()
    time.sleep(1.0)
    stack.redis.start()


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


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_mid_traffic_loses_no_caller_no_record_and_no_alarm(
    fault: str, tmp_path: Path, prism: PrismMock, data_key: bytes
) -> None:
    inject_fault, redis_kind, web_kind = FAULTS[fault]
    with chaos_stack(tmp_path, prism.url, data_key, redis_kind, web_kind) as stack:
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

        rang = wait_for(lambda: _alarm_rang(stack, alarm_id), 10.0)
        alarm_after = time.monotonic() - fault_end
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
        if not closed:
            print(_open_calls(stack, call_ids))
        closed_after = time.monotonic() - fault_end
        outcomes = {result.outcome for result in results}
        humans = sum(result.outcome == "human" for result in results)
        print(
            f"\nchaos {fault}: {humans} of {CALLERS} callers with a human, the rest overflowed; "
            f"alarm rang {alarm_after:.1f} s after the fault's end; every call closed "
            f"{closed_after:.1f} s after it; handled {sorted(len(v) for v in handled.values())}"
        )

        assert [r.error for r in results if r.error] == [], stack.worker_log()
        assert outcomes <= {"human", "overflow"}, [r.outcome for r in results]
        for result in results:
            if result.outcome == "overflow":
                assert set(result.dialled) & {LINE_OVERFLOW, FALLBACK_NUMBER}, result.dialled
        assert rang, f"the alarm rang nobody within 10 s of the fault's end\n{stack.worker_log()}"
        assert closed, f"missing or open a minute after the fault: {_open_calls(stack, call_ids)}"
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
        assert doubled == []
        taken = [call for calls in handled.values() for call in calls]
        assert len(taken) == len(set(taken)), "no call taken by two agents"
        assert find_violations(runtime.redis, time.time(), work_conserving=False) == []
