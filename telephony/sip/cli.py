"""The ``amparo sip`` command: one SIP endpoint process.

Start-up checks the engine (Amparo's pjsua2 build, large enough for ``AMPARO_SIP_MAX_CALLS``),
renders missing prompts, then listens. SIGTERM or SIGINT: new INVITEs get 503 at once (a proxy
sends them elsewhere), calls up get ``AMPARO_SIP_DRAIN_SECONDS`` to end, the rest are ended, and
the process exits 0. A second signal skips the wait.
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType

import click

log = logging.getLogger("amparo.sip")


@click.command("sip")
@click.option("--listen", default=None, help="host:port for SIP (default AMPARO_SIP_LISTEN).")
def sip(listen: str | None) -> None:
    """Answer SIP calls with the IVR and bridge them to agents (pjsua2 endpoint)."""
    from app import build_runtime
    from settings import ConfigurationError, load_settings
    from telephony.sip.engine import EngineUnavailable, require_engine
    from wiring import Sweeper

    try:
        settings = load_settings()
    except ConfigurationError as exc:
        click.echo(f"amparo: configuration error: {exc}", err=True)
        sys.exit(2)
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

    from checkins.attempts import report_unanswered
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
        switchboard=runtime.switchboard(),
        sessions=runtime.sessions,
        live=runtime.redis,
        call_log=runtime.call_log,
        archive=lambda: runtime.recordings().archive,
        unanswered=lambda call_id, reason, at: report_unanswered(
            runtime.checkins(), call_id, reason, datetime.fromtimestamp(at, UTC)
        ),
    )
    sweeper = Sweeper(runtime.router()).start()
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
                log.error("SIP engine thread ended; exiting")
                break
        service.stop(drain_s=settings.sip_drain_s, hurry=lambda: signals["count"] > 1)
    finally:
        sweeper.stop()
        runtime.close()
    click.echo("amparo sip stopped", err=True)
