"""Every process: ``amparo web`` (gunicorn), ``amparo worker`` (rq with scheduler),
``amparo sip`` (the pjsua2 endpoint) and ``amparo run`` (all of them for one machine, with the
embedded Redis owned by the parent)."""

from __future__ import annotations

import errno
import faulthandler
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
import redis
from gunicorn.app.base import BaseApplication
from redis import Redis
from rq.serializers import JSONSerializer

from calls.callbacks import work_forever
from routing.jobs import Sweeper
from runtime import Runtime, build_runtime, configure_encryption
from settings import ConfigurationError, Settings, load_settings
from store import database, live_state, metrics, migrate, timekeeper
from store.embedded_redis import EmbeddedRedis
from store.job_worker import JobWorker
from store.lease import Lease
from store.timekeeper import Chore, Timekeeper

if TYPE_CHECKING:
    from telephony.twilio.fallback_responder import FallbackBook

log = logging.getLogger("amparo.runner")
sip_log = logging.getLogger("amparo.sip")

#: How long the periodic work waits for a standby worker when the one running it dies.
TIMEKEEPER_LEASE_MS = 5000
#: How often open calls are checked against their channel (calls.reconciler).
RECONCILE_EVERY_S = 30.0
#: Pause before rq's work loop starts again after it ended on an error.
RESTART_WAIT_S = 2.0


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        click.echo(f"amparo: configuration error: {exc}", err=True)
        sys.exit(2)


def _servable(settings: Settings, command: str) -> None:
    """Refuse a bind the settings do not allow; say why the simulator is off when it is."""
    refusal = settings.bind_refusal(settings.web_host)
    if refusal:
        click.echo(f"amparo {command}: refusing to start: {refusal}", err=True)
        sys.exit(2)
    if not settings.simulator_enabled and settings.embedded_default:
        click.echo(f"amparo {command}: simulator off {settings.simulator_note}", err=True)


def _port_problem(host: str, port: int) -> str | None:
    """Why the web port cannot be bound (None when it can), naming it and how to choose
    another."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc})"
            return (
                f"port {port} on {host} {reason}; choose another with --port <n> "
                f"or AMPARO_WEB_PORT=<n>"
            )
    return None


def _require_free_port(command: str, host: str, port: int) -> None:
    """Exit at once (status 2) when the web port cannot be bound: a hotline whose web server
    silently failed to start takes no calls."""
    problem = _port_problem(host, port)
    if problem is not None:
        click.echo(f"amparo {command}: {problem}", err=True)
        sys.exit(2)


def _own_embedded_redis(settings: Settings) -> EmbeddedRedis | None:
    """Start the embedded Redis in this (parent) process so children only reuse it."""
    if settings.redis_url is not None:
        return None
    return EmbeddedRedis(settings.data_dir / "redis").start()


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from agent_console.events import end_streams_on_shutdown
        from app import create_app

        end_streams_on_shutdown()
        return create_app()


@click.command("web")
@click.option("--host", default=None, help="Bind address (default AMPARO_WEB_HOST).")
@click.option("--port", type=int, default=None, help="Port (default AMPARO_WEB_PORT).")
@click.option("--workers", type=int, default=None, help="Processes (default AMPARO_WEB_WORKERS).")
def web(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the web console, APIs and telephony webhooks with gunicorn."""
    if host:
        os.environ["AMPARO_WEB_HOST"] = host  # the app's own settings see the real bind
    settings = _settings()
    _servable(settings, "web")
    host, port = host or settings.web_host, port or settings.web_port
    _require_free_port("web", host, port)
    embedded = _own_embedded_redis(settings)
    try:
        _Gunicorn(
            {
                "bind": f"{host}:{port}",
                "workers": workers or settings.web_workers,
                # gthread, with console event streams on a pool of their own: an open console
                # never takes the thread a webhook needs (web/stream_worker.py).
                "worker_class": "web.stream_worker.EventStreamWorker",
                "threads": 16,
                "timeout": 60,
                "graceful_timeout": 20,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": settings.log_level.lower(),
                "proc_name": "amparo-web",
                # gunicorn's control socket defaults to one per user (~/.gunicorn/gunicorn.ctl),
                # which a second instance would take over: one per instance, in the data dir.
                "control_socket": str(settings.data_dir / f"gunicorn-{port}.ctl"),
            }
        ).run()
    finally:
        if embedded is not None:
            embedded.stop()


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run queued jobs, then exit.")
def worker(burst: bool) -> None:
    """Run background jobs (urgent, default, checkins, maintenance), the routing sweeper and
    the timekeeper (scheduled jobs, the alarm sweep, periodic jobs) until a signal stops it."""
    settings = _settings()
    runtime = build_runtime(settings)
    sweeper: Sweeper | None = None
    timekeeper: Timekeeper | None = None
    stop_rounds = threading.Event()
    try:
        _install_recording_jobs(settings, runtime)
        _install_checkin_jobs(runtime)
        _warm_up(runtime)
        if not burst:
            # Ladders climb (alarms: after 60 s without a human) only if someone sweeps: one
            # sweeper per worker process; periodic work on whichever worker holds the lease.
            sweeper = Sweeper(runtime.router).start()
            timekeeper = _timekeeper(runtime).start()
            callback_rounds = threading.Thread(
                target=work_forever,
                args=(lambda: runtime.callbacks, time.time, stop_rounds),
                name="amparo-callbacks",
                daemon=True,
            )
            callback_rounds.start()
        _work_jobs(runtime.jobs, burst=burst, logging_level=settings.log_level)
    finally:
        stop_rounds.set()
        if timekeeper is not None:
            timekeeper.stop()
        if sweeper is not None:
            sweeper.stop()
        runtime.close()


def _warm_up(runtime: Runtime) -> None:
    """Build the switchboard (and its router) before rq forks work horses, so each horse
    inherits it instead of building it again for every job. With Redis or the database down
    it is left to be built on first use."""
    try:
        runtime.switchboard  # noqa: B018 - built now, inherited by every work horse
    except Exception as exc:  # an outage: the jobs build it when it is back
        log.warning("worker: switchboard not built yet (%s)", type(exc).__name__)


def _work_jobs(connection: Redis, *, burst: bool, logging_level: str) -> None:
    """rq's work loop, started again when it ends for any reason but a signal: rq leaves its
    loop on most Redis errors, and a worker must outlive an outage of Redis."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            queues = [live_state.job_queue(connection, name) for name in live_state.QUEUE_NAMES]
            rq_worker = JobWorker(queues, connection=connection, serializer=JSONSerializer)
            rq_worker.stop_requested = stop
            try:
                rq_worker.work(burst=burst, with_scheduler=False, logging_level=logging_level)
            except (redis.RedisError, OSError) as exc:
                if burst:
                    raise
                log.warning("worker: rq stopped on %s; starting it again", type(exc).__name__)
            if burst or stop.is_set():
                return
            for number in handlers:
                signal.signal(number, _on_signal)
            if stop.wait(RESTART_WAIT_S):
                return
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


def _timekeeper(runtime: Runtime) -> Timekeeper:
    """The periodic work of the deployment, run by whichever worker holds the lease: what rq's
    scheduler did (release scheduled jobs), the sweep of stored alarms and notifications, and
    the periodic jobs' schedule (rebuilt every few seconds, so an empty Redis heals)."""
    from checkins import jobs as checkin_jobs
    from recordings_policy import jobs as recording_jobs

    def keep_schedule() -> None:
        checkin_jobs.schedule_periodic(runtime.checkins)
        recording_jobs.schedule_purge(runtime.jobs)

    def reconcile() -> None:
        closed = runtime.reconciler.run()
        metrics.count(runtime.redis, metrics.RECONCILED_CALLS, n=closed)

    chores = [
        Chore(
            "scheduled jobs", 1.0, lambda: live_state.release_scheduled(runtime.jobs, time.time())
        ),
        Chore("alarm sweep", 2.0, lambda: checkin_jobs.sweep(runtime.checkins)),
        # After the alarms: a rebuild (Redis lost its data) may take a few seconds.
        Chore("routing rebuild", 1.0, lambda: runtime.routing_rebuild.ensure()),
        Chore("call journal", 2.0, lambda: runtime.journal_replay.run()),
        Chore("periodic schedule", 10.0, keep_schedule),
        Chore("call reconciler", RECONCILE_EVERY_S, reconcile),
    ]
    return Timekeeper(Lease(runtime.redis, timekeeper.LEASE, TIMEKEEPER_LEASE_MS), chores)


@click.command("sip")
@click.option("--listen", default=None, help="host:port for SIP (default AMPARO_SIP_LISTEN).")
def sip(listen: str | None) -> None:
    """Answer SIP calls with the IVR and bridge them to agents (pjsua2 endpoint).

    Start-up checks the engine (Amparo's pjsua2 build, large enough for
    ``AMPARO_SIP_MAX_CALLS``), renders missing prompts, then listens. SIGTERM or SIGINT: new
    INVITEs get 503 at once (a proxy sends them elsewhere), calls up get
    ``AMPARO_SIP_DRAIN_SECONDS`` to end, the rest are ended, and the process exits 0. A second
    signal skips the wait.
    """
    from telephony.sip.engine import EngineUnavailable, require_engine

    settings = _settings()
    if listen:
        settings = settings.with_overrides(sip_listen=listen)
    if not settings.sip_listen:
        click.echo("amparo sip: set AMPARO_SIP_LISTEN (host:port) or pass --listen", err=True)
        sys.exit(2)
    try:
        info = require_engine(settings.sip_max_calls)
    except EngineUnavailable as exc:
        click.echo(f"amparo sip: {exc} [{exc.error_id}]", err=True)
        sys.exit(3)

    from telephony.sip.service import SipService

    # A crash in native code (pjsua2) must leave the Python stacks of every thread in the log.
    faulthandler.enable(all_threads=True)

    runtime = build_runtime(settings)
    stop = threading.Event()
    signals = {"count": 0}

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        signals["count"] += 1
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    service = SipService(
        settings,
        switchboard=runtime.switchboard,
        sessions=runtime.sessions,
        live=runtime.redis,
        call_log=runtime.call_log,
        archive=lambda: runtime.recordings.archive,
        unanswered=lambda call_id, reason, at: runtime.report_unanswered(
            call_id, reason, datetime.fromtimestamp(at, UTC)
        ),
        agent_dropped=runtime.agent_drops.agent_dropped,
    )
    sweeper = Sweeper(runtime.router).start()
    try:
        service.start()
        click.echo(
            f"amparo sip {service.process_id}: listening on {settings.sip_listen} "
            f"(UDP, TCP), up to {settings.sip_max_calls} calls, "
            f"engine pjsua2 {info['version']}",
            err=True,
        )
        while not stop.wait(0.5):
            if not service.engine.running:
                sip_log.error("SIP engine thread ended; exiting")
                break
        service.stop(drain_s=settings.sip_drain_s, hurry=lambda: signals["count"] > 1)
    finally:
        sweeper.stop()
        runtime.close()
    click.echo("amparo sip stopped", err=True)


def _install_checkin_jobs(runtime: Runtime) -> None:
    """Check-in calls, alarms and notifications: the context their jobs run with."""
    from checkins import jobs as checkin_jobs

    checkin_jobs.install(runtime.checkins)


def _install_recording_jobs(settings: Settings, runtime: Runtime) -> None:
    from recordings_policy import jobs as recording_jobs
    from telephony.twilio.recordings import twilio_recordings

    recording_jobs.install(
        recording_jobs.RecordingJobContext(
            archive=runtime.recordings.archive,
            twilio=twilio_recordings(settings),
            engine=runtime.engine,
        )
    )


def _prepare_database(settings: Settings) -> list[Any]:
    from store.demo import seed_demo

    configure_encryption(settings)
    engine = database.make_engine(settings.database_url)
    try:
        migrate.upgrade(engine)
        if settings.embedded_database:
            return list(seed_demo(database.session_factory(engine), settings.data_dir))
        return []
    finally:
        engine.dispose()


@click.command("run")
@click.option("--port", type=int, default=None, help="Web port (default AMPARO_WEB_PORT).")
def run(port: int | None) -> None:
    """Run everything on one machine: web + worker (+ embedded Redis and demo data by default;
    + the SIP endpoint when AMPARO_SIP_LISTEN is set)."""
    from store.demo import read_logins

    settings = _settings()
    _servable(settings, "run")
    web_port = port or settings.web_port
    _require_free_port("run", settings.web_host, web_port)
    embedded = _own_embedded_redis(settings)
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False
    exit_code = 0

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        _prepare_database(settings)
        env = dict(os.environ)
        if port is not None:
            env["AMPARO_WEB_PORT"] = str(port)
        commands = {
            "web": [sys.executable, "-m", "cli", "web"],
            "worker": [sys.executable, "-m", "cli", "worker"],
        }
        if settings.sip_listen:
            from telephony.sip.engine import describe, engine_info

            engine = engine_info()
            if engine["available"]:
                commands["sip"] = [sys.executable, "-m", "cli", "sip"]
            else:
                click.echo(f"amparo run: SIP not started: {describe(engine)}", err=True)
        for name, command in commands.items():
            children[name] = subprocess.Popen(command, env=env)
        url = f"http://{settings.web_host}:{web_port}"
        click.echo(f"Amparo is starting: console at {url}/console")
        logins = read_logins(settings.data_dir)
        if logins:
            click.echo("Demo logins (fictional data):")
            for item in logins:
                second_factor = f"  TOTP secret {item.totp_secret}" if item.totp_secret else ""
                click.echo(f"  {item.login:12} {item.role:10} {item.password}{second_factor}")
            if any(item.totp_secret for item in logins):
                click.echo("  (add a TOTP secret to an authenticator app to sign in with its code)")
        while not stopping:
            for name, child in list(children.items()):
                if name == "web" and child.poll() is not None and not stopping:
                    problem = _port_problem(settings.web_host, web_port)
                    if problem is not None:  # taken since the start: no web server, no calls
                        click.echo(f"amparo run: {problem}; stopping", err=True)
                        exit_code = 2
                        stopping = True
                        break
                if child.poll() is not None and not stopping:
                    click.echo(
                        f"amparo run: {name} exited ({child.returncode}); restarting", err=True
                    )
                    time.sleep(1)
                    children[name] = subprocess.Popen(commands[name], env=env)
            time.sleep(0.2)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
        if embedded is not None:
            embedded.stop()
        click.echo("Amparo stopped.")
    if exit_code:
        sys.exit(exit_code)


@click.command("fallback")
@click.argument("hotline_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address.")
@click.option("--port", type=int, default=5080, show_default=True, help="Port.")
def fallback(hotline_file: Path, host: str, port: int) -> None:
    """Answer Twilio's fallback URL with no database and no Redis: dial the called line's
    overflow number (then its urgent number, then AMPARO_FALLBACK_NUMBER), from HOTLINE_FILE
    (the TOML of `amparo config apply`). Run it on another host than the web tier."""
    from telephony.twilio.fallback_responder import serve

    book = _fallback_book(hotline_file, os.environ.get("AMPARO_FALLBACK_NUMBER"))
    click.echo(
        f"amparo fallback: {len(book.lines)} lines, on http://{host}:{port}/twilio/voice/fallback",
        err=True,
    )
    try:
        serve(book, host, port)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        click.echo(f"amparo fallback: cannot listen on {host}:{port} ({exc})", err=True)
        sys.exit(2)


def _fallback_book(hotline_file: Path, default: str | None) -> FallbackBook:
    """Line number -> (overflow, urgent) from the hotline file; exits 2 naming any problem."""
    from hotline_config.document import read_document
    from store.phone_numbers import InvalidPhoneNumber, to_e164
    from telephony.twilio.fallback_responder import FallbackBook

    document, problems = read_document(hotline_file.read_text(encoding="utf-8"), str(hotline_file))
    for problem in problems:
        click.echo(f"amparo fallback: {problem}", err=True)
    try:
        default_number = to_e164(default) if default else None
        lines = {
            to_e164(line.number): [
                to_e164(str(line.values[field]))
                for field in ("overflow_number", "urgent_number")
                if line.values.get(field)
            ]
            for line in document.lines
        }
    except InvalidPhoneNumber as exc:
        click.echo(f"amparo fallback: {exc}", err=True)
        sys.exit(2)
    if problems or not (default_number or any(lines.values())):
        click.echo("amparo fallback: no number to dial; refusing to start", err=True)
        sys.exit(2)
    return FallbackBook(lines, default_number)
