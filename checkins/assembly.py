"""The check-in context one process needs, built from its connections (called by app.py)."""

from __future__ import annotations

from datetime import timedelta

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from checkins.context import CheckinContext
from checkins.ports import Alerts, CallOpener, OutboundDialer
from store.clock import Clock, SystemClock


def build_context(
    *,
    sessions: sessionmaker[Session],
    live: redis.Redis,
    jobs: redis.Redis,
    dialer: OutboundDialer,
    calls: CallOpener,
    alerts: Alerts,
    outbound_cps: float,
    ring_timeout_s: int,
    caller_id: str | None,
    engine: Engine | None = None,
    clock: Clock | None = None,
) -> CheckinContext:
    return CheckinContext(
        sessions=sessions,
        jobs=jobs,
        live=live,
        dialer=dialer,
        calls=calls,
        alerts=alerts,
        clock=clock or SystemClock(),
        ring_timeout=timedelta(seconds=ring_timeout_s),
        caller_id=caller_id,
        outbound_cps=outbound_cps,
        engine=engine,
    )
