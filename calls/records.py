"""A call's record: its durable row and the live meta every process reads on each event.

The row is written before anything is acknowledged; the meta (line, flow, channel) lives in
Redis and is recovered from the row when Redis lost it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.directory import CallerInfo, LineInfo
from ivr_flows.events import CallerContext
from store.call_log import CallLog
from store.live_state import key
from store.models import Beneficiary, Line
from store.records import Call
from store.vocabulary import CallRecordStatus, Channel, Direction, RiskLevel

CALL_META_TTL_S = 6 * 3600


def _flow_of_an_older_call(call: Call) -> str:
    """A call stored before calls kept their flow: a device's call ran the alarm flow, and any
    other most likely the default inbound one."""
    return "device_alarm" if call.device_id else "inbound_triage"


@dataclass
class CallRecords:
    sessions: sessionmaker[Session]
    live: redis.Redis
    call_log: CallLog

    def open(
        self,
        call_id: str,
        line: LineInfo,
        caller: CallerInfo,
        channel: Channel,
        external_id: str,
        direction: Direction,
        flow_name: str,
        at: float,
    ) -> None:
        """Store the call (once, whatever the retries) and its live meta."""
        self.call_log.ensure_call(
            Call(
                id=call_id,
                line_id=line.line_id,
                direction=direction.value,
                channel=channel.value,
                external_id=f"{channel.value}:{external_id}",
                caller_number=caller.e164,
                caller_hash=caller.number_hash,
                beneficiary_id=caller.beneficiary_id,
                device_id=caller.device_id,
                flow=flow_name,
                status=CallRecordStatus.IVR,
                started_at=datetime.fromtimestamp(at, UTC),
            )
        )
        meta: dict[Any, Any] = {
            "line_id": line.line_id,
            "flow": flow_name,
            "channel": channel.value,
            "callback_eligible": "1" if caller.registered_number else "",
            "callback_number": "1" if caller.e164 else "",
        }
        self.live.hset(key("call", call_id), mapping=meta)
        self.live.expire(key("call", call_id), CALL_META_TTL_S)

    def meta(self, call_id: str) -> dict[str, str]:
        """The call's line, flow and channel: from Redis, or from its row when Redis lost them."""
        meta = self.live.hgetall(key("call", call_id))
        if meta:
            return {str(k): str(v) for k, v in meta.items()}
        with self.sessions() as db:
            call = db.get(Call, call_id)
            if call is None or call.line_id is None:
                raise LookupError("unknown call")
            flow = call.flow or _flow_of_an_older_call(call)
            recovered = {"line_id": call.line_id, "flow": flow, "channel": call.channel}
        # Put it back, so the call's next events do not each go to the database.
        self.live.hset(key("call", call_id), mapping=recovered)  # type: ignore[arg-type]
        self.live.expire(key("call", call_id), CALL_META_TTL_S)
        return recovered

    def caller_context(self, call_id: str) -> tuple[CallerContext, str | None, Direction]:
        """What the IVR knows of the person on a stored call (an outbound call's answer), with
        the call's line and direction (what the recording policy is asked about)."""
        with self.sessions() as db:
            call = db.get(Call, call_id)
            if call is None:
                raise LookupError("unknown call")
            line = db.get(Line, call.line_id) if call.line_id else None
            owner = db.get(Beneficiary, call.beneficiary_id) if call.beneficiary_id else None
            context = CallerContext(
                line_locale=line.default_locale if line else "es",
                beneficiary_id=owner.id if owner else None,
                stored_risk=RiskLevel(owner.risk_level) if owner else None,
                preferred_locale=owner.preferred_locale if owner else None,
            )
            return context, call.line_id, Direction(call.direction)

    def ended(self, call_id: str) -> bool:
        """The call's row is closed (an agent cancelled it, or it ended)."""
        with self.sessions() as db:
            call = db.get(Call, call_id)
            return call is not None and call.ended_at is not None

    def update(
        self,
        call_id: str,
        ended_at: float | None = None,
        unanswered: CallRecordStatus = CallRecordStatus.ABANDONED,
        **values: Any,
    ) -> None:
        """Change the call's row; with ``ended_at``, a call no human answered (still in the IVR
        or queued) ends as ``unanswered``: abandoned, or overflowed when routing sent her on."""
        with self.sessions() as db, db.begin():
            call = db.get(Call, call_id)
            if call is None:
                return
            for name, value in values.items():
                setattr(call, name, value)
            if ended_at is not None and call.ended_at is None:
                call.ended_at = datetime.fromtimestamp(ended_at, UTC)
                if call.status in {CallRecordStatus.IVR, CallRecordStatus.QUEUED}:
                    call.status = unanswered
