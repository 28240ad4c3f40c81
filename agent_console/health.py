"""Liveness and readiness for load balancers and process supervisors."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, jsonify

Check = Callable[[], bool]


def health_blueprint(checks: dict[str, Check], deployment: dict[str, Check]) -> Blueprint:
    """``/healthz``: the process answers. ``/readyz``: 200 when every dependency of this
    process answers (``checks``), 503 naming what is down; it also says how the rest of the
    deployment stands (``deployment``: a worker's timekeeper running), which does not make
    this process unready (a load balancer must not drop every web instance because no worker
    runs: callers would reach only the fallback number)."""
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="alive")

    @bp.get("/readyz")
    def readyz() -> tuple[Response, int]:
        results = {name: ("ok" if check() else "down") for name, check in checks.items()}
        down = sorted(name for name, state in results.items() if state == "down")
        elsewhere = {name: ("ok" if check() else "down") for name, check in deployment.items()}
        body = jsonify(
            status="ready" if not down else "not_ready",
            checks=results,
            down=down,
            deployment=elsewhere,
        )
        return body, (200 if not down else 503)

    return bp
