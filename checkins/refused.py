"""Messages refused at the device doors (bad signature, replay, malformed, unknown SMS sender),
kept so that a broken device or an attack is visible, without letting anyone fill the disk.

Anyone can post to ``/api/devices/alarm``, so what is kept is bounded: a body of at most
``MAX_KEPT_BODY`` bytes, at most ``PER_SOURCE`` messages per ``WINDOW_S`` from one address and
as many naming one serial (the serial is only claimed), and at most ``PER_WINDOW`` in all.
What goes beyond is rolled up: counted per reason in Redis under
``amparo:devices:refused_rolled_up:<window start>`` (kept a week) and logged once per window
and reason. The device's answer is the same either way. Without Redis nothing is kept (the
refusal itself does not need it).
"""

from __future__ import annotations

import logging

import redis
from sqlalchemy.exc import SQLAlchemyError

from checkins.context import CheckinContext
from store.alarms import RejectedDeviceMessage
from store.live_state import key

log = logging.getLogger(__name__)

MAX_KEPT_BODY = 2048
WINDOW_S = 600
PER_SOURCE = 10
PER_WINDOW = 200
ROLLED_UP_KEPT_S = 7 * 24 * 3600


def rolled_up_key(window_start: int) -> str:
    return key("devices", "refused_rolled_up", window_start)


def _within_limits(
    live: redis.Redis, window: int, address: str | None, device_ref: str | None
) -> bool:
    counters = [key("devices", "refused", window, "all")]
    limits = [PER_WINDOW]
    counters.append(key("devices", "refused", window, "addr", address or "-"))
    limits.append(PER_SOURCE)
    if device_ref:
        counters.append(key("devices", "refused", window, "serial", device_ref))
        limits.append(PER_SOURCE)
    pipe = live.pipeline(transaction=False)
    for name in counters:
        pipe.incr(name)
        pipe.expire(name, WINDOW_S * 2)
    counts = pipe.execute()[::2]
    return all(int(count) <= limit for count, limit in zip(counts, limits, strict=True))


def _roll_up(live: redis.Redis, window: int, channel: str, reason: str) -> None:
    name = rolled_up_key(window)
    pipe = live.pipeline(transaction=False)
    pipe.hincrby(name, f"{channel}:{reason}", 1)
    pipe.expire(name, ROLLED_UP_KEPT_S)
    if int(pipe.execute()[0]) == 1:
        log.warning(
            "refused %s messages (%s) beyond the limits are rolled up under %s",
            channel,
            reason,
            name,
        )


def keep_refused(
    ctx: CheckinContext,
    channel: str,
    reason: str,
    device_ref: str | None,
    remote_addr: str | None,
    body: bytes,
) -> bool:
    """Keep a refused message for audit, within the limits; True when a row was written.
    Best effort: a database or Redis outage only loses this record."""
    reason = reason[:48]
    device_ref = (device_ref or "")[:64] or None
    now = ctx.clock.now()
    window = int(now.timestamp()) // WINDOW_S * WINDOW_S
    try:
        if not _within_limits(ctx.live, window, remote_addr, device_ref):
            _roll_up(ctx.live, window, channel, reason)
            return False
    except redis.RedisError:
        log.warning("refused %s message (%s) not kept: Redis unavailable", channel, reason)
        return False
    try:
        with ctx.sessions() as db, db.begin():
            db.add(
                RejectedDeviceMessage(
                    received_at=now,
                    channel=channel,
                    reason=reason,
                    device_ref=device_ref,
                    remote_addr=remote_addr,
                    raw_body=body[:MAX_KEPT_BODY].decode("utf-8", "replace"),
                )
            )
    except SQLAlchemyError:
        log.exception("refused %s message (%s) could not be kept", channel, reason)
        return False
    return True
