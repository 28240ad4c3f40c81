"""What the console needs from the rest of the process, handed in by ``runtime.py``.

Routing, the telephony control and the simulator are built on first use (``Runtime``'s
accessors), so the web app starts while the database or Redis is still down and readiness says
so; the console only reaches them when a request needs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.callbacks import Callbacks
from calls.control import TelephonyControl
from routing import Router
from store.call_log import CallLog


class SimulatedTranscripts(Protocol):
    """What the console shows of a simulated call: the caller's side, as she lives it."""

    def transcript(self, call_id: str) -> dict[str, Any]:
        """``{"status": ..., "lines": [{"kind", "text"}, ...]}``."""
        ...


class ConsoleError(Exception):
    """A console request that cannot be done; ``error_id`` is stable, ``status`` is the HTTP
    status the API answers with."""

    def __init__(self, error_id: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        self.status = status


@dataclass
class ConsolePorts:
    sessions: sessionmaker[Session]
    live: redis.Redis
    streams: redis.Redis
    """A client of its own for event streams (each holds a connection while open)."""
    call_log: CallLog
    router: Callable[[], Router]
    control: Callable[[], TelephonyControl]
    simulator: Callable[[], SimulatedTranscripts] | None = None
    callbacks: Callable[[], Callbacks] | None = None
    twilio_enabled: bool = False
    browser_phone: bool = False
    """SIP mode: the console registers a JsSIP phone with Kamailio (``AMPARO_WEBRTC_WS_URL``)."""
    default_locale: str = "es"
    clock: Callable[[], float] = time.time
    file_access_after_call: timedelta = timedelta(hours=2)
    """How long after her call an agent may still open a caller's file."""
    sign_in_per_minute: int = 10
    """Sign-in attempts a minute from one address (``AMPARO_SIGN_IN_PER_MINUTE``)."""
    restore_presence: Callable[[str, str], bool] | None = None
    """A console's heartbeat ``(agent id, state shown)``: puts her back in routing when Redis
    lost her (``calls.routing_rebuild``)."""
