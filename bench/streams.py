"""Webhook latency with no console open and with many consoles' event streams open.

    python -m bench.streams [--consoles 500] [--calls 40] [--concurrency 8]

Starts ``amparo web`` itself (its own gunicorn worker class, ``AMPARO_WEB_WORKERS`` processes)
on a free port with a temporary data dir, SQLite (or a fresh database on the PostgreSQL server
of ``AMPARO_BENCH_DATABASE_URL``, dropped after) and an embedded Redis (or
``AMPARO_BENCH_REDIS_URL``). One agent signs in; the same signed Twilio IVR calls as
``bench.webhooks`` (8 webhooks each) are driven first with no console open, the baseline, then
with ``--consoles`` event streams of her session open. It prints requests/s, p50 and p99 of
both runs and the p99 ratio (the issue's goal: within 2x); never pass/fail on time.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.webhooks import Result, drive, ivr_call  # noqa: E402
from tests.harness.twilio_driver import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    HttpTransport,
    TwilioDriver,
)


def run(consoles: int, calls: int, concurrency: int) -> tuple[list[Result], int]:
    from routing.state import AgentState
    from runtime import build_runtime
    from settings import load_settings
    from store import crypto, database, migrate
    from store.embedded_redis import EmbeddedRedis
    from store.models import Agent
    from tests.e2e.simulator.live_app import running_web
    from tests.harness.consoles import open_consoles, sign_in_over_http
    from tests.harness.hotline import make_hotline
    from tests.harness.services import free_port, fresh_database

    with (
        tempfile.TemporaryDirectory(prefix="amparo-bench-") as tmp,
        fresh_database(os.environ.get("AMPARO_BENCH_DATABASE_URL"), Path(tmp)) as database_url,
    ):
        redis_url = os.environ.get("AMPARO_BENCH_REDIS_URL")
        embedded = None
        if not redis_url:
            embedded = EmbeddedRedis(Path(tmp) / "redis").start()
            redis_url = embedded.url
        data_key = secrets.token_bytes(32)
        crypto.configure(crypto.cipher_from_keys(data_key))
        engine = database.make_engine(database_url)
        migrate.upgrade(engine)
        hotline = make_hotline(database.session_factory(engine))
        with database.session_factory(engine)() as db:
            agent = db.get(Agent, hotline.agents["ana"])
            assert agent is not None
            login = agent.login
        engine.dispose()
        settings = load_settings({"AMPARO_DATA_DIR": str(Path(tmp) / "router")}).with_overrides(
            database_url=database_url, redis_url=redis_url, data_key=data_key
        )
        runtime = build_runtime(settings)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        twilio = {
            "AMPARO_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "AMPARO_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "AMPARO_TWILIO_API_BASE_URL": "http://127.0.0.1:9",
            "AMPARO_PUBLIC_BASE_URL": base,
            "AMPARO_FALLBACK_NUMBER": "+34900000009",
        }
        try:
            with running_web(
                port=port,
                database_url=database_url,
                redis_url=redis_url,
                data_key=data_key,
                data_dir=Path(tmp) / "web",
                extra_env=twilio,
            ) as live:
                # On a break: callers wait on hold for her instead of overflowing, and no offer
                # interrupts the measurement.
                runtime.router.set_agent_state(hotline.agents["ana"], AgentState.BREAK, 0.0)
                for _ in range(4):  # warm-up: each web process builds its runtime once
                    ivr_call(hotline.line_number)(TwilioDriver(HttpTransport(), live.base_url))
                baseline = drive(
                    "no console open", calls, concurrency, ivr_call(hotline.line_number), base
                )
                cookie = sign_in_over_http(live.base_url, login)
                with open_consoles(live.base_url, cookie, consoles) as streams:
                    opened = streams.wait_until_all_show("stream_open", timeout=120)
                    loaded = drive(
                        f"{opened} consoles open",
                        calls,
                        concurrency,
                        ivr_call(hotline.line_number),
                        base,
                    )
                    streams.read_for(0.5)
        finally:
            runtime.close()
            if embedded is not None:
                embedded.stop()
    return [baseline, loaded], opened


def report(results: list[Result], calls: int, concurrency: int) -> str:
    lines = [
        f"{calls} calls x 8 signed webhooks, {concurrency} concurrent, against amparo web "
        f"({os.environ.get('AMPARO_WEB_WORKERS', '2')} processes); {os.cpu_count()} CPUs",
        f"{'run':22} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}",
    ]
    for result in results:
        lines.append(
            f"{result.name:22} {len(result.latencies):8d} {result.rate:8.1f} "
            f"{result.percentile(0.50):8.1f} {result.percentile(0.99):8.1f} {result.errors:6d}"
        )
    baseline, loaded = results
    if baseline.latencies and loaded.latencies:
        ratio = loaded.percentile(0.99) / baseline.percentile(0.99)
        lines.append(f"webhook p99 with consoles open / without: x{ratio:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consoles", type=int, default=500)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    results, _opened = run(args.consoles, args.calls, args.concurrency)
    print(report(results, args.calls, args.concurrency))


if __name__ == "__main__":
    main()
