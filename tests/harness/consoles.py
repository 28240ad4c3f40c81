"""Many open consoles against a running ``amparo web``: one sign-in over HTTP, then that
session's event stream (``GET /console/events``) opened many times on raw sockets, all read by
one thread, as a floor of agents' browsers would hold them."""

from __future__ import annotations

import json
import re
import selectors
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.harness.hotline import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def sign_in_over_http(base_url: str, login: str) -> str:
    """Sign ``login`` (an agent: password only) in through ``/login``; return the session
    cookie's value."""
    browser = requests.Session()
    page = browser.get(f"{base_url}/login", timeout=20)
    match = CSRF_FIELD.search(page.text)
    assert match is not None, "no CSRF field on the sign-in page"
    form = {"login": login, "password": PASSWORD, "csrf_token": match.group(1)}
    answer = browser.post(f"{base_url}/login", data=form, allow_redirects=False, timeout=20)
    assert answer.status_code == 302, answer.status_code
    return str(browser.cookies["amparo_session"])


class OpenConsoles:
    """The open streams and what each has received so far."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self.received = {sock.fileno(): b"" for sock in sockets}
        self.closed: set[int] = set()

    def read_for(self, seconds: float) -> None:
        """Read whatever the server sends, for ``seconds``."""
        with selectors.DefaultSelector() as selector:
            for sock in self.sockets:
                if sock.fileno() not in self.closed:
                    selector.register(sock, selectors.EVENT_READ)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and selector.get_map():
                for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    stream = key.fileobj
                    if not isinstance(stream, socket.socket):
                        continue
                    try:
                        chunk = stream.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    if not chunk:
                        self.closed.add(stream.fileno())
                        selector.unregister(stream)
                        continue
                    self.received[stream.fileno()] += chunk

    def showing(self, text: str) -> int:
        """How many streams have received ``text``."""
        needle = text.encode()
        return sum(1 for data in self.received.values() if needle in data)

    def wait_until_all_show(self, text: str, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.showing(text) < len(self.sockets) and time.monotonic() < deadline:
            self.read_for(0.5)
        return self.showing(text)

    @property
    def still_open(self) -> int:
        return len(self.sockets) - len(self.closed)


@contextmanager
def open_consoles(base_url: str, cookie: str, count: int) -> Iterator[OpenConsoles]:
    """``count`` event streams of the signed-in session ``cookie``, closed on leaving."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET /console/events HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Cookie: amparo_session={cookie}\r\nAccept: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n\r\n"
    ).encode()
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=10)
            sock.sendall(request)
            sock.setblocking(False)
            sockets.append(sock)
        yield OpenConsoles(sockets)
    finally:
        for sock in sockets:
            sock.close()


class Answer:
    """What a console request got back, read the way Flask's test responses are."""

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.body = body

    def get_json(self, silent: bool = False) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            if silent:
                return None
            raise


class ConsoleOverHttp:
    """An agent's console over HTTP against a running ``amparo web``: signed in through
    ``/login``, the API called with the page's CSRF token, as the browser's script does."""

    def __init__(self, base_url: str, account: Any, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self.account = account
        self.timeout = timeout
        self.browser = requests.Session()
        page = self.browser.get(f"{base_url}/login", timeout=timeout)
        match = CSRF_FIELD.search(page.text)
        assert match is not None, "no CSRF field on the sign-in page"
        form = {"login": account.login, "password": PASSWORD, "csrf_token": match.group(1)}
        answer = self.browser.post(
            f"{base_url}/login", data=form, allow_redirects=False, timeout=timeout
        )
        assert answer.status_code == 302, answer.status_code
        console = self.browser.get(f"{base_url}/console", timeout=timeout)
        token = CSRF_META.search(console.text)
        assert token is not None, "no CSRF token on the console page"
        self.csrf = token.group(1)

    def post(self, path: str, json: Any = None) -> Answer:
        response = self.browser.post(
            self.base_url + path,
            json=json or {},
            headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"},
            timeout=self.timeout,
        )
        return Answer(response.status_code, response.content)

    def get(self, path: str) -> Answer:
        response = self.browser.get(
            self.base_url + path, headers={"Accept": "application/json"}, timeout=self.timeout
        )
        return Answer(response.status_code, response.content)
