"""The audit trail as a hash chain: once sealed, an entry altered, removed or slipped in
afterwards shows.

Entries are written in the same transaction as the act they record (``store.audit``), by any
number of processes at once; ordering them there would make every audited act wait on one
lock. So the chain is built after the fact: :func:`seal` gives each entry not yet sealed, in
id order, the next place in the chain (``seq``, unique, so two sealers at once cannot both
extend it), the hash of the entry before it (``prev_hash``) and its own hash over its content
and that link (``entry_hash``). The worker seals every minute (``amparo audit seal`` does it by
hand). :func:`verify` walks the chain and names the first entry that does not hold.

What it shows: an entry whose content was changed in SQL, a sealed entry deleted (a gap), an
entry whose link was rewritten. What it cannot show alone: an entry changed before it was
sealed, or the whole tail after an entry rewritten with recomputed hashes; each seal logs the
chain's head (place and hash) so the log, kept elsewhere, anchors it.

The hash covers the clear text of the encrypted ``reason``, so rotating the data key does not
break the chain.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Text, select, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store import crypto
from store.records import AuditEntry

log = logging.getLogger(__name__)

GENESIS = "0" * 64
"""The link of the first entry."""
BATCH = 1000

_CONTENT = (
    AuditEntry.id,
    AuditEntry.at,
    AuditEntry.actor_type,
    AuditEntry.actor_id,
    AuditEntry.action,
    AuditEntry.subject_type,
    AuditEntry.subject_id,
    type_coerce(AuditEntry.reason, Text).label("reason_sealed"),
    AuditEntry.detail,
    AuditEntry.seq,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
)


@dataclass(frozen=True)
class BrokenEntry:
    entry_id: int
    seq: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    sealed: int
    unsealed: int
    first_broken: BrokenEntry | None

    @property
    def intact(self) -> bool:
        return self.first_broken is None


def _reason(sealed: str | None) -> str | None:
    if sealed is None:
        return None
    try:
        return crypto.active().decrypt(sealed, "audit.reason")
    except (crypto.DecryptionError, ValueError):  # hashed as stored when it cannot be read
        return f"undecryptable:{sealed}"


def _at(value: datetime) -> str:
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def entry_hash(row: Row[Any], seq: int, prev_hash: str) -> str:
    """The hash of one entry's content at place ``seq`` after ``prev_hash``."""
    content = {
        "id": row.id,
        "seq": seq,
        "prev": prev_hash,
        "at": _at(row.at),
        "actor_type": row.actor_type,
        "actor_id": row.actor_id,
        "action": row.action,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "reason": _reason(row.reason_sealed),
        "detail": row.detail,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _seal_batch(db: Session) -> int:
    head = db.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    seq, prev = (int(head.seq), str(head.entry_hash)) if head else (0, GENESIS)
    rows = db.execute(
        select(*_CONTENT).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id).limit(BATCH)
    ).all()
    for row in rows:
        seq += 1
        digest = entry_hash(row, seq, prev)
        done = db.execute(
            update(AuditEntry)
            .where(AuditEntry.id == row.id, AuditEntry.seq.is_(None))
            .values(seq=seq, prev_hash=prev, entry_hash=digest)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise IntegrityError("audit seal", {}, Exception("sealed by another process"))
        prev = digest
    if rows:
        log.info("audit chain head: seq=%d hash=%s", seq, prev)
    return len(rows)


def seal(sessions: sessionmaker[Session]) -> int:
    """Seal every entry not yet in the chain; how many were sealed now. Another sealer at
    the same time makes this one stop (it will have sealed them)."""
    total = 0
    while True:
        try:
            with sessions() as db, db.begin():
                sealed = _seal_batch(db)
        except IntegrityError:
            log.info("audit seal: another process is sealing")
            return total
        total += sealed
        if sealed < BATCH:
            return total


def verify(sessions: sessionmaker[Session]) -> ChainReport:
    """Walk the sealed chain from its first entry; stop at the first that does not hold."""
    expected_seq, prev, sealed = 1, GENESIS, 0
    with sessions() as db:
        unsealed = len(db.scalars(select(AuditEntry.id).where(AuditEntry.seq.is_(None))).all())
        rows = db.execute(
            select(*_CONTENT)
            .where(AuditEntry.seq.is_not(None))
            .order_by(AuditEntry.seq)
            .execution_options(yield_per=BATCH)
        )
        for row in rows:
            problem = None
            if row.seq != expected_seq:
                problem = f"entry {expected_seq} of the chain is missing before it"
            elif row.prev_hash != prev:
                problem = "its link does not match the entry before it"
            elif entry_hash(row, row.seq, prev) != row.entry_hash:
                problem = "its content does not match its hash (altered)"
            if problem:
                broken = BrokenEntry(entry_id=int(row.id), seq=int(row.seq), problem=problem)
                return ChainReport(sealed, unsealed, broken)
            prev, expected_seq, sealed = str(row.entry_hash), expected_seq + 1, sealed + 1
    return ChainReport(sealed, unsealed, None)
