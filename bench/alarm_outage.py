"""How soon an alarm stored during a Redis outage starts its ladder once Redis is back.

Each round stops Redis (a redis-server of the benchmark's own, without persistence, so it
also comes back empty), sends a signed alarm to the API (stored, answered 202, its ladder not
started), waits ``--outage`` seconds, starts Redis again and measures the time until the
ladder rings, with real ``amparo worker`` processes (``--workers``) doing the sweeping.

    python -m bench.alarm_outage --rounds 5 --workers 2

It prints figures; it never passes or fails on time.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--outage", type=float, default=5.0, help="seconds Redis stays down")
    args = parser.parse_args()

    from app import create_app
    from routing.views import open_escalations
    from runtime import build_runtime
    from settings import load_settings
    from store import crypto, database, migrate
    from store.alarms import DeviceAlarm
    from store.live_state import key
    from store.models import Device
    from tests.harness.hotline import make_hotline
    from tests.harness.services import RedisProcess
    from tests.integration.checkins.helpers import alarm_body, signed_headers

    with tempfile.TemporaryDirectory() as tmp:
        data_key = os.urandom(32)
        crypto.configure(crypto.cipher_from_keys(data_key))
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
        engine = database.make_engine(database_url)
        migrate.upgrade(engine)
        hotline = make_hotline(database.session_factory(engine))
        server = RedisProcess(Path(tmp)).start()
        env = {
            **os.environ,
            "AMPARO_DATA_DIR": f"{tmp}/data",
            "AMPARO_DATABASE_URL": database_url,
            "AMPARO_REDIS_URL": server.url,
            "AMPARO_DATA_KEY": base64.urlsafe_b64encode(data_key).decode(),
            "AMPARO_SECRET_KEY": "s" * 40,
            "AMPARO_SIMULATOR": "on",
            "AMPARO_LOG_LEVEL": "ERROR",
            "PYTHONPATH": str(ROOT),
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "cli", "worker"],
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(args.workers)
        ]
        runtime = build_runtime(load_settings(env))
        logging.getLogger("checkins.alarms").setLevel(logging.CRITICAL)  # the expected failure
        client = create_app(runtime=runtime).test_client()
        with runtime.sessions() as db:
            device = db.get(Device, hotline.device_id)
            assert device is not None
            serial = device.serial
        took: list[float] = []
        try:
            _wait(lambda: bool(runtime.redis.exists(key("lease", "timekeeper"))), 120)
            for round_no in range(args.rounds):
                server.stop()
                body = alarm_body(f"BENCH-{round_no}-{time.time_ns()}", serial)
                headers = signed_headers(serial, hotline.device_secret, body)
                answer = client.post("/api/devices/alarm", data=body, headers=headers)
                assert answer.status_code == 202, answer.status_code
                with runtime.sessions() as db:
                    stored = db.query(DeviceAlarm).order_by(DeviceAlarm.received_at.desc()).first()
                    assert stored is not None
                    escalation_id = f"alarm:{stored.id}"
                time.sleep(args.outage)
                server.start()
                back = time.monotonic()
                _wait(
                    lambda escalation_id=escalation_id: any(
                        e.escalation_id == escalation_id
                        for e in open_escalations(runtime.redis, time.time())
                    ),
                    120,
                )
                took.append(time.monotonic() - back)
                print(f"round {round_no + 1}: ladder {took[-1]:.2f} s after Redis came back")
        finally:
            for worker in workers:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
            runtime.close()
            server.stop()
            engine.dispose()
        print(
            f"alarm stored during a {args.outage:.0f} s Redis outage, {args.workers} workers, "
            f"{len(took)} rounds: ladder after Redis is back p50 {statistics.median(took):.2f} s, "
            f"max {max(took):.2f} s"
        )


def _wait(condition: object, seconds: float) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # Redis still coming back
            if condition():
                return
        time.sleep(0.05)
    raise SystemExit("timed out")


if __name__ == "__main__":
    main()
