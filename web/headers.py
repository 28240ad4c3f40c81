"""Headers on every answer: what a page may load and who may frame it, no referrer, no
sniffing, HTTPS only once the site is on HTTPS, and nothing a signed-in person saw left in a
shared workstation's cache.

Personal data (a caller's card, her file, the wallboard) is decrypted for a signed-in person
only; ``Cache-Control: no-store, private`` on every answer to a signed-in request keeps it out
of the browser's and any proxy's cache, whatever the route.
"""

from __future__ import annotations

from flask import Flask, Response, session

HSTS = "max-age=31536000; includeSubDomains"
NO_STORE = "no-store, private"


def signed_in() -> bool:
    """Whether the request carries a session that is, or is on its way to being, signed in."""
    return "agent_id" in session or "pending" in session


def install(app: Flask, content_policy: str, *, https: bool) -> None:
    """Add the headers to every answer of ``app``.

    Args:
        content_policy: the Content-Security-Policy of pages (it carries ``frame-ancestors``).
        https: the public URL is https, so browsers are told to use nothing else.
    """

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", content_policy)
        if https:
            headers.setdefault("Strict-Transport-Security", HSTS)
        if signed_in():
            # An event stream's no-cache (which tells proxies not to buffer it) stays first.
            streaming = "no-cache" in headers.get("Cache-Control", "")
            headers["Cache-Control"] = f"no-cache, {NO_STORE}" if streaming else NO_STORE
            headers["Pragma"] = "no-cache"
            headers.pop("Expires", None)
            headers.pop("ETag", None)
            headers.pop("Last-Modified", None)
        return response
