"""Calls the database missed, written from the journal (``store.call_journal``) once it is back.

Three kinds of entry, each applied idempotently:

* ``started``: a call whose start could not be stored; it went to the line's overflow number.
  Its row is opened as the switchboard would have (line, caller, flow), then marked
  ``overflowed`` with a ``journalled`` event;
* ``overflow``: an event of a stored call failed and sent her to the overflow: a row still in
  the IVR or queued becomes ``overflowed`` and routing lets her go (she is no longer waiting);
* ``hangup``: she hung up while the database was down: the call ends as the switchboard ends
  it (``calls.dispatch.RoutingDispatch.caller_left``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from calls.directory import Directory
from calls.dispatch import RoutingDispatch
from calls.records import CallRecords
from store import crypto
from store.call_journal import CallJournal, Entry
from store.call_log import CallLog
from store.records import Call
from store.vocabulary import CallRecordStatus, Channel, Direction

log = logging.getLogger(__name__)

NUMBER_PURPOSE = "call_journal.number"


def started_entry(
    call_id: str,
    channel: Channel,
    external_id: str,
    to_number: str | None,
    from_number: str | None,
    at: float,
    direction: Direction,
) -> dict[str, Any]:
    """A call that could not be opened; the caller's number is encrypted."""
    return {
        "kind": "started",
        "call_id": call_id,
        "channel": channel.value,
        "external_id": external_id,
        "to": to_number,
        "from": crypto.active().encrypt(from_number, NUMBER_PURPOSE) if from_number else None,
        "at": at,
        "direction": direction.value,
    }


def event_entry(kind: str, call_id: str, at: float) -> dict[str, Any]:
    """``overflow`` or ``hangup`` of a call whose event could not be handled."""
    return {"kind": kind, "call_id": call_id, "at": at}


@dataclass
class JournalReplay:
    journal: CallJournal
    sessions: sessionmaker[Session]
    directory: Directory
    records: CallRecords
    dispatch: RoutingDispatch
    call_log: CallLog

    def run(self) -> int:
        """Replay what is journalled; how many entries were applied."""
        applied = self.journal.replay(self.apply)
        if applied:
            log.warning("call journal: %d entries written to the database", applied)
        return applied

    def apply(self, entry: Entry) -> None:
        kind, call_id, at = str(entry["kind"]), str(entry["call_id"]), float(entry["at"])
        if kind == "started":
            self._started(entry, call_id, at)
        elif kind == "overflow":
            self._overflowed(call_id, at, "event_failed")
        elif kind == "hangup":
            self.dispatch.caller_left(call_id, at)
        else:
            log.error("call journal: unknown entry kind %r skipped", kind)

    def _started(self, entry: Entry, call_id: str, at: float) -> None:
        line = self.directory.line_for(entry.get("to"))
        if line is None:
            log.error("call %s: journalled, but no line has its dialled number", call_id)
            return
        sealed = entry.get("from")
        number = crypto.active().decrypt(str(sealed), NUMBER_PURPOSE) if sealed else None
        caller = self.directory.caller_for(number, line.jurisdiction)
        flow = "device_alarm" if caller.device_id else line.flow
        channel = Channel(str(entry["channel"]))
        direction = Direction(str(entry.get("direction") or Direction.INBOUND.value))
        self.records.open(
            call_id, line, caller, channel, str(entry["external_id"]), direction, flow, at
        )
        self._overflowed(call_id, at, "database_down")

    def _overflowed(self, call_id: str, at: float, reason: str) -> None:
        with self.sessions() as db, db.begin():
            call = db.get(Call, call_id)
            if call is None:
                return
            if call.status in {CallRecordStatus.IVR, CallRecordStatus.QUEUED}:
                call.status = CallRecordStatus.OVERFLOWED
        self.call_log.append(
            call_id,
            "journalled",
            {"reason": reason, "at": datetime.fromtimestamp(at, UTC).isoformat()},
            at=at,
            idempotency_key=f"{call_id}:journal:{reason}",
        )
        self.dispatch.router.hangup(call_id, at)
