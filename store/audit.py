"""The audit trail: every read of a victim's file or a recording, every sign-in, every lowering
of risk is written here in the same transaction as the act itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from store.records import AuditEntry


def record(
    session: Session,
    *,
    actor_type: str,
    actor_id: str | None,
    action: str,
    subject_type: str | None = None,
    subject_id: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        reason=reason,
        detail=detail or {},
    )
    session.add(entry)
    return entry
