"""A mass event: many signed alarms at once, the urgent team answering through the console API.

    python -m bench.alarm_latency [--alarms 100] [--members 5] [--database-url URL]

Builds the real application (``create_app`` on a runtime of its own: a temporary data dir,
SQLite or a fresh database on ``AMPARO_BENCH_DATABASE_URL``'s server is not created: pass a
database you can spare; embedded Redis unless ``AMPARO_BENCH_REDIS_URL``), a line whose urgent
team has ``--members`` members signed in, and ``--alarms`` beneficiaries with a device each.
Every device posts one signed alarm to ``/api/devices/alarm`` at the same moment (a 503 is
retried, as a device does). Each member polls ``GET /console/api/escalations`` like the console,
acknowledges the oldest ring (``POST /console/api/escalations/acknowledge``) and opens its case
(``GET /console/api/escalations/<id>``). It prints p50/p99/max of:

* alarm to listed (first seen on a member's list),
* alarm to acknowledged,
* alarm to location shown (the case read back with the location),

beside a baseline from the same run: the same number of concurrent ``GET /healthz`` requests.
Figures, never pass/fail on time.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "correct horse battery staple"  # noqa: S105 (the bench's own throwaway accounts)


@dataclass
class Timings:
    sent: dict[str, float] = field(default_factory=dict)
    listed: dict[str, float] = field(default_factory=dict)
    acknowledged: dict[str, float] = field(default_factory=dict)
    located: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first(self, table: dict[str, float], escalation_id: str, at: float) -> None:
        with self.lock:
            table.setdefault(escalation_id, at)


def _settings(data_dir: Path, database_url: str | None) -> Any:
    from settings import load_settings

    env = {
        "AMPARO_DATA_DIR": str(data_dir),
        "AMPARO_LOG_LEVEL": "WARNING",
        "AMPARO_SIMULATOR": "on",
    }
    if redis_url := os.environ.get("AMPARO_BENCH_REDIS_URL"):
        env["AMPARO_REDIS_URL"] = redis_url
    if database_url:
        env.update(
            {
                "AMPARO_DATABASE_URL": database_url,
                "AMPARO_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                "AMPARO_DATA_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            }
        )
    return load_settings(env)


def _hotline(sessions: Any, members: int, alarms: int) -> tuple[list[str], list[tuple[str, str]]]:
    """The line, its team (all members on tier 1) and ``alarms`` beneficiaries with a device;
    returns the members' ids and the devices' (serial, secret)."""
    import secrets

    from store.credentials import hash_secret
    from store.models import Agent, Beneficiary, Device, Line, Queue, Team, TeamMember
    from store.phone_numbers import lookup_hash

    tag = secrets.token_hex(3)
    password_hash = hash_secret(PASSWORD)
    with sessions() as db, db.begin():
        line = Line(
            name=f"Bench line {tag}",
            number="+3490000" + str(secrets.randbelow(10**4)).zfill(4),
            default_locale="es",
            overflow_number="+34900009998",
            urgent_number="+34900009997",
        )
        db.add(line)
        db.flush()
        db.add(Queue(line_id=line.id, name="general"))
        team = Team(name=f"Bench team {tag}", line_id=line.id, tier_delays_s=[60, 60])
        db.add(team)
        db.flush()
        member_ids = []
        for index in range(members):
            agent = Agent(
                login=f"bench-{tag}-{index}",
                display_name=f"Bench member {index}",
                password_hash=password_hash,
                languages=["es"],
                skills=[],
            )
            db.add(agent)
            db.flush()
            db.add(TeamMember(team_id=team.id, agent_id=agent.id, tier=1))
            member_ids.append(agent.id)
        devices = []
        for index in range(alarms):
            number = f"+3471{index:07d}"
            beneficiary = Beneficiary(
                reference=f"B-{tag}-{index}",
                full_name=f"Bench Beneficiary {index}",
                preferred_locale="es",
                timezone="Europe/Madrid",
                risk_level="alto",
                line_id=line.id,
            )
            secret = secrets.token_urlsafe(24)
            serial = f"BENCH-{tag}-{index}"
            beneficiary.devices.append(
                Device(serial=serial, number=number, number_hash=lookup_hash(number), secret=secret)
            )
            db.add(beneficiary)
            devices.append((serial, secret))
    return member_ids, devices


def _signed_in(app: Any, sessions: Any, member_id: str) -> tuple[Any, str]:
    from store.models import Agent

    with sessions() as db:
        agent = db.get(Agent, member_id)
        login = agent.login
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as session:
        token = str(session["csrf"])
    client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
    client.get("/console")
    with client.session_transaction() as session:
        return client, str(session["csrf"])


def _alarm(app: Any, serial: str, secret: str, start: threading.Barrier, timings: Timings) -> None:
    import hashlib
    import hmac
    import json

    client = app.test_client()
    body = json.dumps(
        {
            "device_id": serial,
            "alarm_id": f"mass-{serial}",
            "type": "assault",
            "location": {"lat": 40.4168, "lon": -3.7038, "accuracy": 15},
        }
    ).encode()
    start.wait()
    sent = time.monotonic()
    for _ in range(50):
        stamp = str(int(time.time()))
        signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        headers = {
            "X-Amparo-Device": serial,
            "X-Amparo-Timestamp": stamp,
            "X-Amparo-Signature": signature.hexdigest(),
            "Content-Type": "application/json",
        }
        if client.post("/api/devices/alarm", data=body, headers=headers).status_code == 202:
            break
        time.sleep(0.05)
    timings.first(timings.sent, serial, sent)


def _member(
    client: Any, token: str, alarms: int, timings: Timings, deadline: float, taken: set[str]
) -> None:
    while time.monotonic() < deadline:
        with timings.lock:
            if len(timings.located) >= alarms:
                return
        rings = (client.get("/console/api/escalations").json or {}).get("escalations", [])
        now = time.monotonic()
        for ring in rings:
            timings.first(timings.listed, ring["id"], now)
        for ring in rings:
            with timings.lock:
                if ring["id"] in taken:
                    continue
                taken.add(ring["id"])
            answer = client.post(
                "/console/api/escalations/acknowledge",
                json={"escalation_id": ring["id"]},
                headers={"X-CSRF-Token": token},
            )
            if answer.status_code == 200 and answer.json["status"] == "acknowledged":
                timings.first(timings.acknowledged, ring["id"], time.monotonic())
                case = client.get(f"/console/api/escalations/{ring['id']}").json
                if case and case.get("location"):
                    timings.first(timings.located, ring["id"], time.monotonic())
            break
        else:
            time.sleep(0.05)


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return float("nan"), float("nan"), float("nan")
    if len(values) == 1:
        return values[0], values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[98], max(values)


def _baseline(app: Any, count: int) -> list[float]:
    start = threading.Barrier(count)
    took: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        client = app.test_client()
        start.wait()
        began = time.monotonic()
        client.get("/healthz")
        with lock:
            took.append(time.monotonic() - began)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return took


def run(alarms: int, members: int, database_url: str | None) -> list[str]:
    from app import create_app
    from runtime import build_runtime
    from store import crypto, database, migrate

    with tempfile.TemporaryDirectory(prefix="amparo-bench-") as tmp:
        settings = _settings(Path(tmp), database_url)
        crypto.configure(crypto.cipher_from_keys(settings.data_key))
        engine = database.make_engine(settings.database_url)
        migrate.upgrade(engine)
        engine.dispose()
        runtime = build_runtime(settings)
        try:
            member_ids, devices = _hotline(runtime.sessions, members, alarms)
            app = create_app(runtime=runtime)
            consoles = [_signed_in(app, runtime.sessions, member) for member in member_ids]
            for member in member_ids:
                runtime.router.set_agent_state(member, "available", time.time())
            baseline = _baseline(app, alarms)
            timings = Timings()
            start = threading.Barrier(len(devices))
            senders = [
                threading.Thread(target=_alarm, args=(app, serial, secret, start, timings))
                for serial, secret in devices
            ]
            deadline = time.monotonic() + 300
            taken: set[str] = set()
            answering = [
                threading.Thread(
                    target=_member, args=(client, token, alarms, timings, deadline, taken)
                )
                for client, token in consoles
            ]
            for thread in [*answering, *senders]:
                thread.start()
            for thread in [*senders, *answering]:
                thread.join()
            sent = _sent_by_escalation(runtime.sessions, timings)
        finally:
            runtime.close()
    lines = [f"{alarms} alarms at once, {members} team members answering in the console API"]
    for name, table in (
        ("alarm to listed", timings.listed),
        ("alarm to acknowledged", timings.acknowledged),
        ("alarm to location shown", timings.located),
    ):
        values = [table[key] - sent[key] for key in table if key in sent]
        p50, p99, top = _percentiles(values)
        lines.append(
            f"{name:<26} n={len(values):<4} p50 {p50 * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms"
            f"  max {top * 1000:8.1f} ms"
        )
    p50, p99, top = _percentiles(baseline)
    lines.append(
        f"{'baseline GET /healthz':<26} n={len(baseline):<4} p50 {p50 * 1000:8.1f} ms  "
        f"p99 {p99 * 1000:8.1f} ms  max {top * 1000:8.1f} ms"
    )
    return lines


def _sent_by_escalation(sessions: Any, timings: Timings) -> dict[str, float]:
    """When each alarm was posted, keyed like the rings (``alarm:<stored id>``)."""
    from sqlalchemy import select

    from store.alarms import DeviceAlarm
    from store.models import Device

    with sessions() as db:
        rows = db.execute(
            select(DeviceAlarm.escalation_id, Device.serial).join(
                Device, DeviceAlarm.device_id == Device.id
            )
        ).all()
    return {
        str(escalation): timings.sent[serial]
        for escalation, serial in rows
        if escalation and serial in timings.sent
    }


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alarms", type=int, default=100)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--database-url", default=os.environ.get("AMPARO_BENCH_DATABASE_URL"))
    args = parser.parse_args(argv)
    lines = run(args.alarms, args.members, args.database_url)
    for line in lines:
        print(line)
    return lines


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path[0] = str(ROOT)
    main()
