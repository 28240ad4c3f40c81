"""Everything check-in, alarm and notification services and jobs need, built once per process
by the composition root (``runtime.py``) and installed into the worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from checkins.ports import Alerts, CallOpener, OutboundDialer
from checkins.rate_limit import OutboundRateLimit
from store.clock import Clock, SystemClock


@dataclass
class CheckinContext:
    sessions: sessionmaker[Session]
    #: rq's connection (responses not decoded).
    jobs: redis.Redis
    #: Live state (decoded): the outbound rate limit, broadcast progress.
    live: redis.Redis
    dialer: OutboundDialer
    calls: CallOpener
    alerts: Alerts
    clock: Clock = field(default_factory=SystemClock)
    ring_timeout: timedelta = timedelta(seconds=45)
    caller_id: str | None = None
    outbound_cps: float = 1.0
    #: A claim older than this with no call opened is taken over by a retry (its worker died).
    claim_lease: timedelta = timedelta(minutes=2)
    #: A job waits at most this long for its turn under the rate limit, then comes back later.
    dial_max_wait_s: float = 5.0
    engine: Engine | None = None
    rate_limit: OutboundRateLimit = field(init=False)

    def __post_init__(self) -> None:
        self.rate_limit = OutboundRateLimit(self.live, self.outbound_cps)
