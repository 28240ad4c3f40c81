"""The recording archive: taking audio in (sealed and verified, clear copies removed), retention
with legal hold, and purging what is due.

Every act that changes a recording writes its audit entry in the same transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from recordings_policy.errors import (
    RecordingCorrupt,
    RecordingError,
    RecordingNotFound,
    RecordingPurged,
)
from recordings_policy.permissions import (
    HOLD_ROLES,
    SUBJECT,
    SYSTEM_ACTOR,
    checked_reason,
    require_role,
)
from recordings_policy.policy import Policy, shipped_policy
from recordings_policy.sources import TwilioRecordingSource
from recordings_policy.storage import FileStorage, RecordingStorage
from recordings_policy.vault import MasterKeys, new_recording_key, open_sealed, seal, wrap_key
from store import audit
from store.base import new_id
from store.models import Line
from store.records import Call, Recording
from store.vocabulary import Direction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SealedAudio:
    """Audio sealed in storage and checked, not yet attached to a row."""

    ref: str
    wrapped_key: str
    master_key_id: str
    sha256: str
    size_bytes: int


@dataclass
class PurgeReport:
    purged: list[str] = field(default_factory=list)
    held: int = 0
    skipped_locked: int = 0
    failed: int = 0


class _HashingReader:
    """Reads a file while hashing what it reads, so sealing and hashing take one pass."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self.source.read(size)
        self.hash.update(data)
        self.size += len(data)
        return data


def discard_clear_file(path: Path) -> None:
    """Remove a clear-audio file once its sealed copy is verified.

    This unlinks; it does not overwrite. Overwriting in place gives no guarantee on SSDs (wear
    levelling), copy-on-write filesystems (btrfs, ZFS) or journaled data, so it would only give
    false comfort. The recorder's spool directory belongs on an encrypted volume; this removes the
    name so nothing in Amparo can reach the clear audio again.
    """
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class RecordingArchive:
    """Takes recordings in, holds them under retention and legal hold, and purges them."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        storage: RecordingStorage,
        keys: MasterKeys,
        staging_dir: Path,
        policy: Policy | None = None,
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.keys = keys
        self.staging_dir = staging_dir
        self.policy = policy or shipped_policy()
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.staging_dir, 0o700)

    @classmethod
    def under(
        cls, data_dir: Path, sessions: sessionmaker[Session], keys: MasterKeys
    ) -> RecordingArchive:
        """The default archive: sealed files in ``<data_dir>/recordings/sealed`` and downloads
        staged in ``<data_dir>/recordings/incoming`` (both 0700)."""
        root = data_dir / "recordings"
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        return cls(sessions, FileStorage(root / "sealed"), keys, root / "incoming")

    # -- taking audio in -----------------------------------------------------------------------

    def accept_twilio_recording(self, call_id: str, recording_sid: str, now: datetime) -> str:
        """Register a finished Twilio recording of ``call_id`` and return its recording id.

        Idempotent: a re-delivered recording callback returns the same id, also when two
        deliveries race (the provider id is unique). The audio is fetched later by the
        ``process_twilio_recording`` job.
        """
        try:
            with self.sessions() as db, db.begin():
                existing = db.scalar(
                    select(Recording.id).where(Recording.external_id == recording_sid)
                )
                if existing is not None:
                    return existing
                call = db.get(Call, call_id)
                if call is None:
                    raise RecordingError(f"call {call_id} is unknown")
                recording = Recording(
                    id=new_id(),
                    call_id=call_id,
                    source="twilio",
                    external_id=recording_sid,
                    created_at=now,
                    delete_after=now + timedelta(days=self._retention_days(db, call)),
                )
                db.add(recording)
                return recording.id
        except IntegrityError:
            with self.sessions() as db:
                winner = db.scalar(
                    select(Recording.id).where(Recording.external_id == recording_sid)
                )
            if winner is None:
                raise
            return winner

    def store_from_twilio(
        self, recording_id: str, source: TwilioRecordingSource, now: datetime
    ) -> str:
        """Download, seal, verify, then delete at Twilio. Returns ``stored``, ``already_stored``
        or ``purged``.

        Safe to re-run at any step: a second run after a failed Twilio delete only retries the
        delete, and two runs racing attach one copy and discard the other.
        """
        with self.sessions() as db:
            recording = db.get(Recording, recording_id)
            if recording is None:
                raise RecordingNotFound()
            sid, ref, origin = recording.external_id, recording.storage_ref, recording.source
            purged, source_deleted = recording.deleted_at, recording.source_deleted_at
        if sid is None or origin != "twilio":
            raise RecordingError(f"recording {recording_id} does not come from Twilio")
        outcome = "purged" if purged is not None else "already_stored"
        if purged is None and ref is None:
            clear = source.download(sid, self.staging_dir)
            try:
                sealed = self.seal_and_verify(clear, recording_id)
            finally:
                discard_clear_file(clear)
            outcome = "stored" if self._attach(recording_id, sealed, "twilio") else outcome
        if source_deleted is None:
            source.delete(sid)
            with self.sessions() as db, db.begin():
                db.execute(
                    update(Recording)
                    .where(Recording.id == recording_id)
                    .values(source_deleted_at=now)
                )
        return outcome

    def store_local_file(
        self, call_id: str, path: Path, now: datetime, *, source: str = "sip"
    ) -> str:
        """Seal a clear WAV written by a local recorder, then remove the clear file.

        If anything fails before the sealed copy is recorded, the clear file is left in place
        so the recording (possible evidence) is not lost; the error is raised.
        """
        recording_id = new_id()
        sealed = self.seal_and_verify(path, recording_id)
        try:
            with self.sessions() as db, db.begin():
                call = db.get(Call, call_id)
                if call is None:
                    raise RecordingError(f"call {call_id} is unknown")
                db.add(
                    Recording(
                        id=recording_id,
                        call_id=call_id,
                        source=source,
                        created_at=now,
                        delete_after=now + timedelta(days=self._retention_days(db, call)),
                    )
                )
                db.flush()
                self._attach_in(db, recording_id, sealed, source)
        except BaseException:
            self.storage.delete(sealed.ref)
            raise
        discard_clear_file(path)
        return recording_id

    def seal_and_verify(self, path: Path, recording_id: str) -> SealedAudio:
        """Seal ``path`` under a fresh key, then read the sealed copy back and compare hashes."""
        key = new_recording_key()
        with path.open("rb") as clear:
            reader = _HashingReader(clear)
            ref = self.storage.put(seal(key, recording_id, reader))
        try:
            check, size = hashlib.sha256(), 0
            with self.storage.open(ref) as stored:
                for chunk in open_sealed(key, recording_id, stored):
                    check.update(chunk)
                    size += len(chunk)
            if check.digest() != reader.hash.digest() or size != reader.size:
                raise RecordingCorrupt("the sealed copy does not match the source audio")
        except BaseException:
            self.storage.delete(ref)
            raise
        return SealedAudio(
            ref=ref,
            wrapped_key=wrap_key(key, self.keys.current, recording_id),
            master_key_id=self.keys.current_id,
            sha256=reader.hash.hexdigest(),
            size_bytes=reader.size,
        )

    def _attach(self, recording_id: str, sealed: SealedAudio, source: str) -> bool:
        with self.sessions() as db, db.begin():
            attached = self._attach_in(db, recording_id, sealed, source)
        if not attached:
            self.storage.delete(sealed.ref)
        return attached

    @staticmethod
    def _attach_in(db: Session, recording_id: str, sealed: SealedAudio, source: str) -> bool:
        result = cast(
            CursorResult[Any],
            db.execute(
                update(Recording)
                .where(
                    Recording.id == recording_id,
                    Recording.storage_ref.is_(None),
                    Recording.deleted_at.is_(None),
                )
                .values(
                    storage_ref=sealed.ref,
                    wrapped_key=sealed.wrapped_key,
                    master_key_id=sealed.master_key_id,
                    sha256=sealed.sha256,
                    size_bytes=sealed.size_bytes,
                )
            ),
        )
        if result.rowcount != 1:
            return False
        audit.record(
            db,
            actor_type="system",
            actor_id=SYSTEM_ACTOR,
            action="recording_stored",
            subject_type=SUBJECT,
            subject_id=recording_id,
            detail={"source": source, "size_bytes": sealed.size_bytes},
        )
        return True

    def _retention_days(self, db: Session, call: Call) -> int:
        line = db.get(Line, call.line_id) if call.line_id else None
        if line is not None and line.recording_retention_days:
            return line.recording_retention_days
        try:
            direction = Direction(call.direction)
        except ValueError:
            direction = Direction.INBOUND
        jurisdiction = line.jurisdiction if line is not None else "*"
        name = line.name if line is not None else None
        return self.policy.decide(name, direction, jurisdiction).retention_days

    # -- retention -----------------------------------------------------------------------------

    def purge_due(self, now: datetime, source: TwilioRecordingSource | None = None) -> PurgeReport:
        """Delete the audio of every recording past its date and not on legal hold.

        The row stays as a tombstone (when, how big, its hash) with its wrapped key erased, so
        any stray copy of the sealed file, a backup included, can no longer be opened. A copy
        still held by Twilio is deleted there too when ``source`` is given.
        """
        report = PurgeReport()
        with self.sessions() as db:
            due = list(
                db.scalars(
                    select(Recording.id).where(
                        Recording.deleted_at.is_(None), Recording.delete_after <= now
                    )
                )
            )
        for recording_id in due:
            try:
                outcome = self._purge_one(recording_id, now, source)
            except Exception:
                # One stuck file or a provider outage must not keep every other recording
                # past its date; this one is retried on the next run.
                log.exception("purge of recording %s failed; retried next run", recording_id)
                report.failed += 1
                continue
            if outcome == "purged":
                report.purged.append(recording_id)
            elif outcome == "held":
                report.held += 1
            elif outcome == "locked":
                report.skipped_locked += 1
        return report

    def _purge_one(
        self, recording_id: str, now: datetime, source: TwilioRecordingSource | None
    ) -> str:
        with self.sessions() as db, db.begin():
            recording = db.get(Recording, recording_id, with_for_update={"skip_locked": True})
            if recording is None:
                return "locked"
            if recording.deleted_at is not None:
                return "done"
            if recording.legal_hold:
                return "held"
            ref = recording.storage_ref
            recording.storage_ref = None
            recording.wrapped_key = None
            recording.deleted_at = now
            audit.record(
                db,
                actor_type="system",
                actor_id=SYSTEM_ACTOR,
                action="recording_purged",
                subject_type=SUBJECT,
                subject_id=recording_id,
                detail={"delete_after": recording.delete_after.isoformat()},
            )
            db.flush()
            if ref is not None:
                self.storage.delete(ref)
            if (
                source is not None
                and recording.external_id is not None
                and recording.source_deleted_at is None
            ):
                source.delete(recording.external_id)
                recording.source_deleted_at = now
        return "purged"

    # -- legal hold ----------------------------------------------------------------------------

    def place_hold(
        self, recording_id: str, *, actor_id: str, role: str, reason: str | None
    ) -> None:
        """Keep the recording past its retention date until a supervisor releases it."""
        self._set_hold(recording_id, True, actor_id, role, reason)

    def release_hold(
        self, recording_id: str, *, actor_id: str, role: str, reason: str | None
    ) -> None:
        """Release a legal hold; a recording already past its date is purged on the next run."""
        self._set_hold(recording_id, False, actor_id, role, reason)

    def _set_hold(
        self, recording_id: str, held: bool, actor_id: str, role: str, reason: str | None
    ) -> None:
        action = "recording_hold_placed" if held else "recording_hold_released"
        require_role(
            self.sessions,
            actor_id=actor_id,
            role=role,
            allowed=HOLD_ROLES,
            attempted=action,
            recording_id=recording_id,
        )
        stated = checked_reason(reason)
        with self.sessions() as db, db.begin():
            recording = db.get(Recording, recording_id, with_for_update=True)
            if recording is None:
                raise RecordingNotFound()
            if recording.deleted_at is not None:
                raise RecordingPurged()
            recording.legal_hold = held
            recording.hold_reason = stated if held else None
            audit.record(
                db,
                actor_type="agent",
                actor_id=actor_id,
                action=action,
                subject_type=SUBJECT,
                subject_id=recording_id,
                reason=stated,
                detail={"role": role},
            )
