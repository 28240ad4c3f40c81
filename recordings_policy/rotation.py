"""Re-wrap every recording key under the current master key, leaving the audio untouched.

Run after a new ``AMPARO_DATA_KEY`` is set with the old one in ``AMPARO_DATA_KEY_PREVIOUS``
(``amparo keys rewrap-recordings``). Each recording key is unwrapped with the master key its row
names and wrapped again under the current one: a few dozen bytes per recording, however long the
audio. When a run reports nothing left on old keys, the previous key can be retired.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from recordings_policy.errors import RecordingCorrupt, UnknownMasterKey
from recordings_policy.permissions import SYSTEM_ACTOR
from recordings_policy.vault import MasterKeys, unwrap_key, wrap_key
from store import audit
from store.records import Recording

BATCH = 200


@dataclass
class RewrapReport:
    rewrapped: int = 0
    already_current: int = 0
    unreadable: list[str] = field(default_factory=list)


def rewrap_all(sessions: sessionmaker[Session], keys: MasterKeys) -> RewrapReport:
    """Re-wrap keys wrapped by ``keys.previous`` under ``keys.current``, in batches.

    A recording whose master key is not configured, or whose wrapped key fails authentication,
    is listed in ``unreadable`` and left as it is: nothing is lost by running this early.
    """
    report = RewrapReport()
    current = keys.current_id
    with sessions() as db:
        ids = list(
            db.scalars(
                select(Recording.id)
                .where(Recording.wrapped_key.is_not(None))
                .order_by(Recording.created_at)
            )
        )
    for start in range(0, len(ids), BATCH):
        with sessions() as db, db.begin():
            rows = db.scalars(
                select(Recording)
                .where(Recording.id.in_(ids[start : start + BATCH]))
                .with_for_update()
            )
            for recording in rows:
                if recording.wrapped_key is None:
                    continue
                if recording.master_key_id == current:
                    report.already_current += 1
                    continue
                try:
                    master = keys.by_id(recording.master_key_id or "")
                    recording_key = unwrap_key(recording.wrapped_key, master, recording.id)
                except (UnknownMasterKey, RecordingCorrupt):
                    report.unreadable.append(recording.id)
                    continue
                recording.wrapped_key = wrap_key(recording_key, keys.current, recording.id)
                recording.master_key_id = current
                report.rewrapped += 1
    with sessions() as db, db.begin():
        audit.record(
            db,
            actor_type="system",
            actor_id=SYSTEM_ACTOR,
            action="recording_keys_rewrapped",
            detail={
                "master_key_id": current,
                "rewrapped": report.rewrapped,
                "already_current": report.already_current,
                "unreadable": len(report.unreadable),
            },
        )
    return report
