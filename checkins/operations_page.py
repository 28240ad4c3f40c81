"""``/operations``: the job queues for supervisors and admins (counts, what is scheduled next,
the dead letters with a requeue button, broadcast progress, open caseworker tasks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from flask import Blueprint, Response, abort, g, jsonify, redirect, render_template, url_for
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response as BaseResponse

from checkins import operations, progress
from checkins.handover import open_tasks
from store import audit
from store.live_state import QUEUE_NAMES
from web.csrf import check_csrf
from web.guard import login_required

_STAFF = ("supervisor", "admin")


def _overview(
    jobs: redis.Redis, live: redis.Redis, sessions: sessionmaker[Session]
) -> dict[str, Any]:
    with sessions() as db:
        tasks = [
            {
                "task_id": task.id,
                "kind": task.kind,
                "beneficiary_id": task.beneficiary_id,
                "created_at": task.created_at.isoformat(),
            }
            for task in open_tasks(db, limit=50)
        ]
    return {
        "queues": [vars(item) for item in operations.queue_counts(jobs)],
        "failed": [
            {**vars(item), "failed_at": item.failed_at.isoformat() if item.failed_at else None}
            for item in operations.failed_jobs(jobs)
        ],
        "scheduled": [
            {"queue": queue, "job_id": job_id, "at": when.isoformat()}
            for queue, job_id, when in operations.scheduled_jobs(jobs, limit=20)
        ],
        "broadcasts": progress.recent(live),
        "tasks": tasks,
    }


def operations_blueprint(
    jobs_of: Callable[[], redis.Redis],
    live_of: Callable[[], redis.Redis],
    sessions: sessionmaker[Session],
) -> Blueprint:
    bp = Blueprint("operations", __name__, url_prefix="/operations")

    @bp.get("")
    @login_required(*_STAFF)
    def page() -> str:
        return render_template("operations.html", **_overview(jobs_of(), live_of(), sessions))

    @bp.get("/api")
    @login_required(*_STAFF)
    def overview() -> Response:
        response = jsonify(_overview(jobs_of(), live_of(), sessions))
        response.headers["Cache-Control"] = "no-store"
        return response

    @bp.post("/failed/<queue>/<job_id>/requeue")
    @login_required(*_STAFF)
    def requeue(queue: str, job_id: str) -> BaseResponse:
        check_csrf()
        if queue not in QUEUE_NAMES:
            abort(404)
        if not operations.requeue(jobs_of(), queue, job_id):
            abort(404, description="no such failed job")
        with sessions() as db, db.begin():
            audit.record(
                db,
                actor_type="agent",
                actor_id=g.agent_id,
                action="job_requeued",
                subject_type="job",
                subject_id=job_id[:64],
                detail={"queue": queue},
            )
        return redirect(url_for("operations.page"))

    return bp
