"""Recovery from each fault of the chaos suite, as a table, with the same traffic and no fault
as the baseline of the same run.

Each run builds the chaos suite's deployment (its own PostgreSQL cluster and Redis, an
``amparo worker`` process, the web tier, Twilio's REST API as the Prism mock), sends 20 callers
and a device alarm through it with four agents answering, and injects one fault
(``tests/chaos/run.py``).

    python -m bench.chaos                                  # every fault
    python -m bench.chaos --faults worker_sigkill,redis_sentinel_failover

It prints figures; it never passes or fails on time.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chaos.run import BASELINE, FAULTS, ChaosReport, run_fault  # noqa: E402
from tests.harness.prism import prism_mock, unavailable_reason  # noqa: E402

COLUMNS = (
    "run",
    "with a human",
    "overflowed",
    "failed",
    "alarm rang (s)",
    "all closed (s)",
    "open after 1 min",
    "duplicates",
    "overflow late (s)",
)


def row(report: ChaosReport) -> tuple[str, ...]:
    failed = sum(1 for result in report.results if result.error)
    overflowed = sum(1 for result in report.results if result.outcome == "overflow")
    return (
        report.fault,
        f"{report.humans} of {len(report.results)}",
        str(overflowed),
        str(failed),
        f"{report.alarm_after_s:.1f}" if report.alarm_rang else "not within 10",
        f"{report.closed_after_s:.1f}" if report.closed else "not within 60",
        str(len(report.open_calls)),
        str(len(report.doubled_events) + len(report.taken_twice)),
        f"{report.overflow_late_s:.1f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help="comma-separated, of: " + ", ".join(FAULTS)
    )
    args = parser.parse_args()
    chosen = [name.strip() for name in args.faults.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in FAULTS]
    if unknown:
        parser.error(f"unknown faults: {', '.join(unknown)}")
    reason = unavailable_reason()
    if reason is not None:
        sys.exit(f"bench.chaos needs Prism: {reason}")
    logging.basicConfig(level=logging.WARNING)

    rows = []
    with tempfile.TemporaryDirectory() as tmp, prism_mock(Path(tmp)) as prism:
        for fault in [BASELINE, *chosen]:
            directory = Path(tmp) / fault
            directory.mkdir()
            report = run_fault(fault, directory, prism.url, os.urandom(32))
            print(report.line(), flush=True)
            rows.append(row(report))
    widths = [max(len(column), *(len(r[i]) for r in rows)) for i, column in enumerate(COLUMNS)]
    print()
    print("Seconds are from the fault's end (the baseline's: from the alarm's first send).")
    print("| " + " | ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for cells in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
