"""Who may listen to recordings and hold them, and what counts as a stated reason.

Checked in the domain as well as at the HTTP edge so that no other edge (a CLI, a future API)
can forget it; every refusal is itself audited.
"""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy.orm import Session, sessionmaker

from recordings_policy.errors import AccessDenied, ReasonRequired
from store import audit
from store.vocabulary import AgentRole

LISTENER_ROLES = frozenset({AgentRole.SUPERVISOR.value, AgentRole.ADMIN.value})
HOLD_ROLES = LISTENER_ROLES
MIN_REASON_LENGTH = 8
MAX_REASON_LENGTH = 500
SUBJECT = "recording"
SYSTEM_ACTOR = "recordings"


def checked_reason(reason: str | None) -> str:
    """The reason, trimmed; a reason is a sentence a reviewer can judge, not a placeholder."""
    text = " ".join((reason or "").split())
    if len(text) < MIN_REASON_LENGTH:
        raise ReasonRequired(f"state a reason of at least {MIN_REASON_LENGTH} characters")
    if len(text) > MAX_REASON_LENGTH:
        raise ReasonRequired(f"keep the reason under {MAX_REASON_LENGTH} characters")
    return text


def require_role(
    sessions: sessionmaker[Session],
    *,
    actor_id: str,
    role: str,
    allowed: frozenset[str],
    attempted: str,
    recording_id: str,
) -> None:
    """Raise AccessDenied (after auditing the attempt) unless ``role`` is in ``allowed``."""
    if role in allowed:
        return
    deny(sessions, actor_id=actor_id, role=role, attempted=attempted, recording_id=recording_id)


def deny(
    sessions: sessionmaker[Session],
    *,
    actor_id: str,
    role: str,
    attempted: str,
    recording_id: str,
    message: str | None = None,
) -> NoReturn:
    """Audit a refused attempt in its own transaction, then raise AccessDenied."""
    with sessions() as db, db.begin():
        audit.record(
            db,
            actor_type="agent",
            actor_id=actor_id,
            action="recording_access_denied",
            subject_type=SUBJECT,
            subject_id=recording_id,
            detail={"attempted": attempted, "role": role},
        )
    raise AccessDenied(message)
