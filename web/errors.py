"""HTTP errors as ``{error_id, message}`` JSON with their status.

Every ``abort`` and every werkzeug error (404, 405, 413, ...) of every blueprint answers the
same shape; an exception that carries its own ``error_id`` (:class:`web.bodies.MalformedBody`)
keeps it, the others take one from their name (``Not Found`` -> ``not_found``). Redirects and
other codes below 400 pass through untouched.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException


def error_body(exc: HTTPException) -> dict[str, str]:
    """The JSON body of an HTTP error."""
    error_id = getattr(exc, "error_id", None) or (exc.name or "error").lower().replace(" ", "_")
    return {"error_id": str(error_id), "message": exc.description or exc.name}


def answer(exc: HTTPException) -> HTTPException | tuple[Response, int]:
    if exc.code and exc.code >= 400:
        return jsonify(error_body(exc)), exc.code
    return exc


def install(app: Flask) -> None:
    """Answer every HTTP error of ``app`` (every blueprint's) as ``{error_id, message}``."""
    app.register_error_handler(HTTPException, answer)
