"""Closing what the network lost: inbound calls our records say are open, but whose channel
says they are over.

A hang-up reaches us as a webhook or a SIP message; during an outage (Redis, the database, the
web tier) it can be lost, and then the call stays ``ivr``/``queued``/``on_call`` for ever, and
a gone caller stays in routing: counted in other callers' queue positions and offered to
agents. The reconciler asks each channel about the open calls older than a minute and sends the
switchboard the hang-up it missed, with the idempotency key the channel's own hang-up uses, so
a late real one and the reconciled one act once. A channel that cannot tell (its API down)
leaves the call for the next pass. Outbound calls are left to their check-in ladders and ring
timeouts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr_flows.events import CallEvent, EventKind
from store.clock import Clock, SystemClock
from store.records import Call
from store.vocabulary import CallRecordStatus, Channel, Direction

log = logging.getLogger(__name__)

OPEN_STATUSES = (
    CallRecordStatus.IVR,
    CallRecordStatus.QUEUED,
    CallRecordStatus.ON_CALL,
    # Sent to the overflow number (also when the journal wrote her call afterwards): closed
    # when she hangs up there.
    CallRecordStatus.OVERFLOWED,
)


class CallPresence(Protocol):
    """A channel's word on one of its calls."""

    def is_over(self, call_id: str, external_id: str) -> bool | None:
        """True when the channel says the call ended (or no longer knows it), False while it
        is up, None when it cannot tell now."""
        ...


@dataclass
class Reconciler:
    sessions: sessionmaker[Session]
    #: The switchboard's ``handle`` (a hang-up with its idempotency key).
    hang_up: Callable[[CallEvent, str], object]
    presences: Mapping[Channel, CallPresence]
    clock: Clock = field(default_factory=SystemClock)
    #: Calls younger than this are left alone (their own hang-up may be on its way).
    settle: timedelta = timedelta(seconds=60)
    batch: int = 200

    def run(self) -> int:
        """One pass; how many calls it closed."""
        now = self.clock.now()
        with self.sessions() as db:
            rows = db.execute(
                select(Call.id, Call.channel, Call.external_id)
                .where(
                    Call.ended_at.is_(None),
                    Call.status.in_([status.value for status in OPEN_STATUSES]),
                    Call.direction == Direction.INBOUND.value,
                    Call.channel.in_([channel.value for channel in self.presences]),
                    Call.started_at <= now - self.settle,
                )
                .order_by(Call.started_at)
                .limit(self.batch)
            ).all()
        closed = 0
        for call_id, channel, external_id in rows:
            if external_id is None:
                continue
            presence = self.presences[Channel(channel)]
            try:
                over = presence.is_over(call_id, external_id.split(":", 1)[-1])
            except Exception as exc:
                log.warning("call %s: %s cannot tell (%s)", call_id, channel, type(exc).__name__)
                continue
            if over:
                event = CallEvent(
                    EventKind.HANGUP, call_id, _seconds(now), channel=Channel(channel)
                )
                self.hang_up(event, f"{external_id}:hangup")
                log.info("call %s: closed, %s says it is over", call_id, channel)
                closed += 1
        return closed


def _seconds(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()
