"""The gunicorn worker of ``amparo web``: gthread, with console event streams on threads of
their own.

gunicorn's gthread worker serves every request from one pool of ``threads`` threads, and a
server-sent event stream holds its thread for as long as the console is open: 30 open consoles
on 2 workers x 16 threads left Twilio's webhooks waiting 20 s for a thread, and callers went to
the fallback. This worker looks at a request's first line before it takes a pool thread for
it: ``GET /console/events`` is handed to a separate pool (``STREAM_THREADS`` per process, each
stream blocked on its Redis subscription), and every other request (webhooks, pages, APIs)
keeps the ordinary pool. A console can therefore never take a webhook's thread, whatever the
number of consoles.

The first line is read with ``MSG_PEEK`` (nothing is consumed: gunicorn's parser reads the
request as usual). Where it cannot be peeked (gunicorn terminating TLS itself, HTTP/2, a
request line not yet complete) the request stays in the ordinary pool: terminate TLS at the
load balancer, as ``docs/deploy.md`` says.

It relies on gthread's ``handle``/``finish_request`` hand-over (gunicorn is pinned in uv.lock;
``tests/integration/agent_console/test_streams_apart.py`` proves the behaviour on the pinned
version).
"""

from __future__ import annotations

import socket
from concurrent import futures
from typing import Any

from gunicorn.workers import gthread

STREAM_REQUEST_LINE = b"GET /console/events"
STREAM_THREADS = 1000
"""Event streams one web process serves at once; more wait for a stream thread (never for a
webhook's). Each holds a Redis connection and a thread blocked on it."""

_HANDED_OVER = object()


class EventStreamWorker(gthread.ThreadWorker):  # type: ignore[misc]
    """gthread, with ``GET /console/events`` served by a pool of its own."""

    def init_process(self) -> None:
        self.stream_pool = futures.ThreadPoolExecutor(
            max_workers=STREAM_THREADS, thread_name_prefix="amparo-stream"
        )
        super().init_process()

    def handle(self, conn: Any) -> Any:
        """Runs on an ordinary pool thread: a stream request moves to a stream thread at once
        (the ordinary thread is free again), anything else is served here."""
        new_connection = not conn.initialized and not conn.data_ready
        if new_connection and not conn.wait_for_data(gthread.DEFAULT_WORKER_DATA_TIMEOUT):
            return gthread._DEFER  # back to the poller until the client sends something
        if not asks_for_stream(conn):
            return super().handle(conn)
        moved = self.stream_pool.submit(super().handle, conn)
        moved.add_done_callback(
            lambda done: self.method_queue.defer(self.finish_request, conn, done)
        )
        return _HANDED_OVER

    def finish_request(self, conn: Any, fs: futures.Future[Any]) -> None:
        """The ordinary pool's hand-over is not the end of the connection: the stream
        thread's own completion finishes it (closes it, or keeps it alive)."""
        if not fs.cancelled() and fs.exception() is None and fs.result() is _HANDED_OVER:
            return
        super().finish_request(conn, fs)

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.stream_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)


def asks_for_stream(conn: Any) -> bool:
    """Whether the request waiting on ``conn`` starts with ``GET /console/events``, seen
    without consuming it."""
    if conn.is_http2 or conn.cfg.is_ssl:
        return False
    if conn.parser is not None:
        buffered = conn.parser.unreader.buf.getvalue()
        if buffered:
            return bool(buffered.startswith(STREAM_REQUEST_LINE))
    try:
        head = conn.sock.recv(len(STREAM_REQUEST_LINE), socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:
        return False
    return bool(head == STREAM_REQUEST_LINE)
