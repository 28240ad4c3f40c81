"""This SIP process's presence: the heartbeat other processes find it by, and the thread that
carries it.

Every ``HEARTBEAT_S`` the ``amparo-sip-presence`` thread publishes the process's heartbeat
(``commands.beat``: the live-process index the check-in dialer and ``amparo check`` read) with
its trunk registration, legs, calls and conference ports; between beats it takes outbound calls
from the shared queue while there is room (``outbound_calls.py``). The heartbeat must outlive
any failure of Redis or the database: a process that stops beating is taken for dead and gets no
outbound calls.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import redis

from settings import Settings
from telephony.sip import commands
from telephony.sip.endpoint import SipEngine

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0


@dataclass
class Presence:
    """The heartbeat of one ``amparo sip`` process and the thread that publishes it."""

    live: redis.Redis
    process_id: str
    settings: Settings
    engine: SipEngine
    stats: dict[str, int]  # the service's counters; the gauges sampled here are added to it
    held: Collection[str]  # ids of the calls this process holds (read on the pjsua2 thread)
    take_outbound: Callable[[], bool]  # one outbound request if there is room; False if none
    on_beat: Callable[[], None] = lambda: None
    stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _held_ids: tuple[str, ...] = field(default=(), init=False, repr=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="amparo-sip-presence", daemon=True)
        self._thread.start()

    def forget(self) -> None:
        """Leave the live-process index (the process is stopping)."""
        with contextlib.suppress(redis.RedisError):
            commands.forget_process(self.live, self.process_id)

    def _run(self) -> None:
        last_beat = 0.0
        while not self.stopping.is_set():
            try:
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_S:
                    self.beat()
                    last_beat = now
                    self.on_beat()
                if not self.take_outbound():
                    time.sleep(0.5)
            except redis.RedisError:
                log.exception("SIP presence: Redis unavailable; retrying")
                time.sleep(1)
            except (ValueError, KeyError):
                log.error("unreadable outbound request ignored")
            except Exception:
                # The database failed while taking a request: the heartbeat must go on. The
                # request is lost; its attempt ends at the ring timeout and the ladder goes on.
                log.exception("SIP presence: an outbound request could not be taken")
                time.sleep(1)

    def _sample(self) -> None:
        """Gauges read on the pjsua2 thread for the heartbeat (ports leak -> calls fail)."""
        endpoint = self.engine.endpoint
        if endpoint is not None:
            self.stats["bridge_ports"] = int(endpoint.mediaActivePorts())
        self.stats["legs"] = len(self.engine.legs)
        self.stats["calls"] = len(self.held)
        self._held_ids = tuple(self.held)

    def beat(self) -> None:
        """Publish the heartbeat now (gauges as last sampled on the pjsua2 thread)."""
        self.engine.loop.post(self._sample)
        account = self.engine.account
        commands.beat(
            self.live,
            self.process_id,
            {
                "process_id": self.process_id,
                "listen": str(self.settings.sip_listen),
                "legs": str(self.engine.legs_in_use()),
                "calls": str(self.stats.get("calls", 0)),
                # The reconciler's word on SIP calls (telephony/sip/call_presence.py).
                "call_ids": ",".join(self._held_ids),
                "bridge_ports": str(self.stats.get("bridge_ports", 0)),
                "answered": str(self.stats["answered"]),
                "max_calls": str(self.settings.sip_max_calls),
                "registration": account.registration if account is not None else "not started",
                "at": str(time.time()),
            },
            time.time(),
        )
