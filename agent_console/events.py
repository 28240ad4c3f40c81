"""Server-sent events: ``GET /console/events`` streams what Redis pub/sub carries for the
signed-in person.

Channels: the person's own (``amparo:events:agent:<id>``: offers and withdrawals published by
routing's Lua, escalation rings published by the telephony control), the escalations channel
(a ring acknowledged by someone stops showing everywhere) and, for supervisors and admins, the
supervisors' channel (alerts, and ``board_changed`` hints for the wallboard). A
message published by any process reaches every web process holding a subscription, so any
number of web processes may serve the consoles.

Each open stream holds one pub/sub connection (from ``ConsolePorts.streams``, a client of its
own) and one thread: ``amparo web``'s worker (:mod:`web.stream_worker`) serves this route on a
pool of stream threads apart from the request threads webhooks use, so open consoles never
make a webhook wait. A comment
line every 15 s keeps proxies from closing an idle stream and lets the server notice a browser
that went away; a stream ends after ``MAX_STREAM_SECONDS`` and the browser reconnects at once
(EventSource does), which spreads consoles again after a web process restarts. When the
process is told to stop (SIGTERM, see :func:`end_streams_on_shutdown`) every stream ends at
once, so a graceful restart does not wait on idle consoles and they reconnect elsewhere.

An open stream checks its session again every ``RECHECK_SECONDS`` (15 s, see
:mod:`web.revocation`): when the account was deactivated, its role changed or its
credentials were reset, the stream sends ``session_ended`` and ends; the page reloads, and the
reload meets ``login_required``, which signs the browser out. When the database cannot be read
at that moment, a supervisor's or an admin's stream ends the same way (fail closed: the reloaded
page answers 503 until the database is back), while an agent's stream goes on and asks again at
the next interval: it carries offers and escalation rings for calls waiting on a person, no
personal data, and an agent who stops hearing them leaves callers on offers that time out. It
still ends with its lifetime, and reconnecting needs a successful check.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import redis
from flask import Blueprint, Response, g

from agent_console.ports import ConsolePorts
from routing.channels import ESCALATION_CHANNEL, SUPERVISOR_CHANNEL, agent_channel
from store.vocabulary import AgentRole
from web.guard import login_required, session_watch
from web.revocation import RECHECK_SECONDS, SessionStanding

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
MAX_STREAM_SECONDS = 600.0
RETRY_MS = 2000
SHUTTING_DOWN = threading.Event()


def end_streams_on_shutdown() -> None:
    """Chain onto the process's SIGTERM handler (gunicorn's worker installs its own before it
    loads the app): streams end at the next second instead of holding the shutdown."""
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: FrameType | None) -> None:
        SHUTTING_DOWN.set()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, handler)


def channels_for(agent_id: str, role: str) -> list[str]:
    channels = [agent_channel(agent_id), ESCALATION_CHANNEL]
    if role in (AgentRole.SUPERVISOR, AgentRole.ADMIN):
        channels.append(SUPERVISOR_CHANNEL)
    return channels


def frame(data: str, channel_kind: str) -> str:
    """One SSE message; the payload is the published JSON with the channel kind added."""
    try:
        body = json.loads(data)
    except ValueError:
        body = {"kind": "unreadable"}
    if not isinstance(body, dict):
        body = {"kind": "unreadable"}
    body.setdefault("channel", channel_kind)
    return f"data: {json.dumps(body, separators=(',', ':'))}\n\n"


def stream(
    live: redis.Redis,
    channels: list[str],
    clock: Callable[[], float] = time.monotonic,
    heartbeat: float = HEARTBEAT_SECONDS,
    lifetime: float = MAX_STREAM_SECONDS,
    still_signed_in: Callable[[], bool] | None = None,
    recheck: float = RECHECK_SECONDS,
) -> Iterator[str]:
    """Yield SSE text for everything published on ``channels`` until ``lifetime`` ends, the
    client goes away (the server closes the generator, which unsubscribes) or
    ``still_signed_in``, asked every ``recheck`` seconds, says no (a last ``session_ended``
    message tells the page)."""
    pubsub = live.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(*channels)
        started = last_write = last_check = clock()
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        yield frame(json.dumps({"kind": "stream_open"}), "stream")
        while clock() - started < lifetime and not SHUTTING_DOWN.is_set():
            if still_signed_in is not None and clock() - last_check >= recheck:
                if not still_signed_in():
                    yield frame(json.dumps({"kind": "session_ended"}), "stream")
                    return
                last_check = clock()
            try:
                message = pubsub.get_message(timeout=1.0)
            except redis.RedisError:
                log.warning("event stream lost Redis; the browser will reconnect")
                return
            if message is not None and message.get("type") == "message":
                channel = str(message["channel"])
                kind = {SUPERVISOR_CHANNEL: "supervisors", ESCALATION_CHANNEL: "escalations"}.get(
                    channel, "agent"
                )
                yield frame(str(message["data"]), kind)
                last_write = clock()
            elif clock() - last_write >= heartbeat:
                yield ": heartbeat\n\n"
                last_write = clock()
    finally:
        with contextlib.suppress(redis.RedisError):
            pubsub.close()


def stream_may_go_on(standing: SessionStanding, role: str) -> bool:
    """Revoked ends a stream; an unreadable database ends a supervisor's or an admin's stream
    but not an agent's (see the module's docstring)."""
    if standing is SessionStanding.UNAVAILABLE:
        return role == AgentRole.AGENT
    return standing is SessionStanding.VALID


def events_blueprint(ports: ConsolePorts) -> Blueprint:
    bp = Blueprint("console_events", __name__)

    @bp.get("/console/events")
    @login_required()
    def events() -> Response:
        channels = channels_for(g.agent_id, g.role)
        watch, role = session_watch(where="event_stream"), str(g.role)
        events = stream(
            ports.streams,
            channels,
            still_signed_in=lambda: stream_may_go_on(watch(), role),
            recheck=RECHECK_SECONDS,
        )
        response = Response(events, mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-cache, no-store"
        response.headers["X-Accel-Buffering"] = "no"
        return response

    return bp
