"""The chaos suite: one fault per run, injected mid-traffic (``tests.chaos.run``), and then:

* every caller reached a human or the overflow (never a dead end);
* every call is recorded, and closed, within a minute of the fault's end;
* the alarm rang the urgent team within 10 s of the fault's end;
* no duplicates (no call taken twice, no event written twice) and routing's invariants hold;
* through a fault that leaves Redis and the database up, routing overflows every caller within
  2.5 s of her maximum wait (with one worker, killing it made that 4.9 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.run import FAULTS, LINE_OVERFLOW, TIMERS_KEPT, run_fault
from tests.chaos.stack import FALLBACK_NUMBER
from tests.harness.prism import PrismMock

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_mid_traffic_loses_no_caller_no_record_and_no_alarm(
    fault: str, tmp_path: Path, prism: PrismMock, data_key: bytes
) -> None:
    report = run_fault(fault, tmp_path, prism.url, data_key)
    print("\n" + report.line())
    results = report.results
    assert [r.error for r in results if r.error] == [], report.worker_log
    assert {r.outcome for r in results} <= {"human", "overflow"}, [r.outcome for r in results]
    for result in results:
        if result.outcome == "overflow":
            assert set(result.dialled) & {LINE_OVERFLOW, FALLBACK_NUMBER}, result.dialled
    assert report.alarm_rang, (
        f"the alarm rang nobody within 10 s of the fault's end\n{report.worker_log}"
    )
    assert report.closed, f"missing or open a minute after the fault: {report.open_calls}"
    assert report.doubled_events == []
    assert report.taken_twice == [], "no call taken by two agents"
    assert report.violations == []
    if fault in TIMERS_KEPT:
        assert report.overflow_late_s <= 2.5, report.line()
