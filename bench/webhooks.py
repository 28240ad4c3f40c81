"""How fast the Twilio IVR webhooks answer under gunicorn, beside a bare Flask endpoint.

    python -m bench.webhooks [--calls 40] [--concurrency 8] [--workers 2] [--threads 8]

Starts gunicorn itself (gthread workers) on a free port with a temporary data dir, SQLite (or a
fresh database created on the PostgreSQL server of ``AMPARO_BENCH_DATABASE_URL`` and dropped
after) and an embedded Redis (or ``AMPARO_BENCH_REDIS_URL``, flushed by nothing), creates a
hotline, and drives ``--calls`` simulated calls, ``--concurrency`` at a time, through the real
webhooks: each call is signed like Twilio's and goes incoming -> language -> five screen answers
-> queued -> one hold announcement (8 requests). Then the same server settings serve a bare
Flask app that answers a constant TwiML document, driven with the same requests. It prints
requests/s and p50/p99 latency of both; the ratio is the figure (never pass/fail on time).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import requests  # noqa: E402
from flask import Flask, Response  # noqa: E402

from tests.harness.twilio_driver import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    HttpTransport,
    Reply,
    TwilioDriver,
)

CONSTANT_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/twilio/voice/step" '
    'input="dtmf" numDigits="1" timeout="8"><Say language="es-ES">Hola.</Say></Gather></Response>'
)
CALL_KEYS = ("1", "1", "2", "2", "2", "2")  # Spanish, safe to talk, then four "no"


def amparo_app() -> Flask:
    """The real application (gunicorn factory), configured from the AMPARO_* environment."""
    from app import create_app

    return create_app()


def bare_app() -> Flask:
    """The baseline: Flask answering constant TwiML to any Twilio webhook (gunicorn factory)."""
    app = Flask("bare")

    @app.post("/twilio/voice/<path:_rest>")
    def constant(_rest: str) -> Response:
        return Response(CONSTANT_TWIML, mimetype="text/xml")

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Result:
    name: str
    latencies: list[float]
    elapsed: float
    errors: int

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


class TimedTransport(HttpTransport):
    def __init__(self, latencies: list[float]) -> None:
        super().__init__()
        self.latencies = latencies

    def post(self, url: str, data: Any, headers: Any) -> Reply:
        start = time.perf_counter()
        reply = super().post(url, data, headers)
        self.latencies.append(time.perf_counter() - start)
        return reply


@contextmanager
def gunicorn(app: str, env: dict[str, str], workers: int, threads: int) -> Iterator[str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--timeout",
        "60",
        app,
    ]
    server_env = {**env, "AMPARO_PUBLIC_BASE_URL": base, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, cwd=REPO, env=server_env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.post(f"{base}/twilio/voice/probe", timeout=2)  # any answer will do
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn ({app}) did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def drive(
    name: str, calls: int, concurrency: int, one_call: Callable[[TwilioDriver], bool], base: str
) -> Result:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    remaining = list(range(calls))

    def worker() -> None:
        nonlocal errors
        mine: list[float] = []
        driver = TwilioDriver(TimedTransport(mine), base)
        while True:
            with lock:
                if not remaining:
                    break
                remaining.pop()
            try:
                ok = one_call(driver)
            except Exception:
                ok = False
            with lock:
                errors += 0 if ok else 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(name, latencies, time.perf_counter() - start, errors)


def ivr_call(line_number: str) -> Callable[[TwilioDriver], bool]:
    def run(driver: TwilioDriver) -> bool:
        caller = "+3469" + "".join(secrets.choice("0123456789") for _ in range(7))
        call = driver.call(line_number, caller)
        for key in CALL_KEYS:
            call.press(key)
        call.hold()
        return call.where == "queued"

    return run


def bare_call(driver: TwilioDriver) -> bool:
    """The same number of signed form posts, to the constant endpoint."""
    params = {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + secrets.token_hex(16), "Digits": "1"}
    url = f"{driver.base_url}/twilio/voice/step"
    return all(driver.post(url, params).status == 200 for _ in range(len(CALL_KEYS) + 2))


def prepare(env: dict[str, str]) -> str:
    """Migrate the database and create a hotline with one agent signed in (so calls wait on
    hold rather than overflow); return the line's number."""
    from settings import load_settings
    from store import crypto, database, migrate
    from tests.harness.hotline import make_hotline, staffed_runtime

    settings = load_settings(env)
    crypto.configure(crypto.cipher_from_keys(settings.data_key, settings.previous_data_keys))
    engine = database.make_engine(settings.database_url)
    try:
        migrate.upgrade(engine)
        hotline = make_hotline(database.session_factory(engine))
    finally:
        engine.dispose()
    with staffed_runtime(settings, hotline, "ana"):
        pass  # the agent's state lives in Redis, where the web workers read it
    return hotline.line_number


def run(calls: int, concurrency: int, workers: int, threads: int) -> list[Result]:
    from store.embedded_redis import EmbeddedRedis
    from tests.harness.services import fresh_database

    with (
        tempfile.TemporaryDirectory(prefix="amparo-bench-") as tmp,
        fresh_database(os.environ.get("AMPARO_BENCH_DATABASE_URL"), Path(tmp)) as database_url,
    ):
        data_dir = Path(tmp) / "data"
        redis_url = os.environ.get("AMPARO_BENCH_REDIS_URL")
        embedded = None
        if not redis_url:
            embedded = EmbeddedRedis(Path(tmp) / "redis").start()
            redis_url = embedded.url
        env = {
            **os.environ,
            "AMPARO_DATA_DIR": str(data_dir),
            "AMPARO_DATABASE_URL": database_url,
            "AMPARO_REDIS_URL": redis_url,
            "AMPARO_SECRET_KEY": secrets.token_urlsafe(48),
            "AMPARO_DATA_KEY": secrets.token_urlsafe(32),
            "AMPARO_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "AMPARO_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "AMPARO_TWILIO_API_BASE_URL": "http://127.0.0.1:9",
            "AMPARO_FALLBACK_NUMBER": "+34900000009",
            "AMPARO_LOG_LEVEL": "WARNING",
        }
        try:
            line_number = prepare(env)
            with gunicorn("bench.webhooks:amparo_app()", env, workers, threads) as base:
                for _ in range(2 * workers):  # warm-up: each worker builds its runtime once
                    ivr_call(line_number)(TwilioDriver(HttpTransport(), base))
                ivr = drive("amparo IVR webhooks", calls, concurrency, ivr_call(line_number), base)
            with gunicorn("bench.webhooks:bare_app()", env, workers, threads) as base:
                for _ in range(2 * workers):
                    bare_call(TwilioDriver(HttpTransport(), base))
                bare = drive("bare Flask, constant TwiML", calls, concurrency, bare_call, base)
        finally:
            if embedded is not None:
                embedded.stop()
    return [ivr, bare]


def report(results: list[Result], calls: int, concurrency: int, workers: int, threads: int) -> str:
    lines = [
        f"{calls} calls x 8 webhooks, {concurrency} concurrent; gunicorn {workers} workers x "
        f"{threads} threads (gthread); {os.cpu_count()} CPUs",
        f"{'endpoint':30} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}",
    ]
    for result in results:
        lines.append(
            f"{result.name:30} {len(result.latencies):8d} {result.rate:8.1f} "
            f"{result.percentile(0.50):8.1f} {result.percentile(0.99):8.1f} {result.errors:6d}"
        )
    ivr, bare = results
    if ivr.rate and bare.latencies:
        slower = statistics.median(ivr.latencies) / statistics.median(bare.latencies)
        lines.append(
            f"ratio: amparo/bare throughput {ivr.rate / bare.rate:.2f}, p50 latency x{slower:.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    results = run(args.calls, args.concurrency, args.workers, args.threads)
    print(report(results, args.calls, args.concurrency, args.workers, args.threads))


if __name__ == "__main__":
    main()
