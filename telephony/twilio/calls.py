"""Twilio's CallSid for each call id, and the few facts the edge keeps about a live call.

Inbound call ids are derived from the CallSid (``call_id_for``), which cannot be reversed, and
outbound check-in calls get their id before Twilio gives a CallSid; both directions are kept
here. Redis holds them for the life of a call; the call row's ``external_id`` is the durable
copy, read when Redis has lost them.
"""

from __future__ import annotations

from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.live_state import key
from store.records import Call
from store.vocabulary import Channel

TTL_S = 6 * 3600


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class TwilioCalls:
    def __init__(self, live: redis.Redis, sessions: sessionmaker[Session]) -> None:
        self._live = live
        self._sessions = sessions

    @staticmethod
    def _call_key(call_id: str) -> str:
        return key("twilio", "call", call_id)

    @staticmethod
    def _sid_key(call_sid: str) -> str:
        return key("twilio", "sid", call_sid)

    def remember(self, call_id: str, call_sid: str, line_id: str | None = None) -> None:
        fields: dict[Any, Any] = {"sid": call_sid}
        if line_id:
            fields["line"] = line_id
        pipe = self._live.pipeline()
        pipe.hset(self._call_key(call_id), mapping=fields)
        pipe.expire(self._call_key(call_id), TTL_S)
        pipe.set(self._sid_key(call_sid), call_id, ex=TTL_S)
        pipe.execute()

    def update(self, call_id: str, **fields: str) -> None:
        pipe = self._live.pipeline()
        pipe.hset(self._call_key(call_id), mapping=dict(fields))  # type: ignore[arg-type]
        pipe.expire(self._call_key(call_id), TTL_S)
        pipe.execute()

    def bump(self, call_id: str, field: str) -> int:
        """Add one to a counter of the call's and return it."""
        pipe = self._live.pipeline()
        pipe.hincrby(self._call_key(call_id), field, 1)
        pipe.expire(self._call_key(call_id), TTL_S)
        return int(pipe.execute()[0])

    def get(self, call_id: str, field: str) -> str | None:
        return _text(self._live.hget(self._call_key(call_id), field))

    def sid_for(self, call_id: str) -> str:
        """The caller's CallSid; raises LookupError when neither Redis nor the call row has it."""
        sid = self.get(call_id, "sid")
        if sid:
            return sid
        with self._sessions() as db:
            external = db.scalar(select(Call.external_id).where(Call.id == call_id))
        prefix = f"{Channel.TWILIO.value}:"
        if external and external.startswith(prefix):
            return external[len(prefix) :]
        raise LookupError("no Twilio call for this call id")

    def call_for_sid(self, call_sid: str) -> str | None:
        return _text(self._live.get(self._sid_key(call_sid)))

    def mark_recording(self, call_id: str, policy: str, pauses: tuple[str, ...] = ()) -> None:
        self.update(call_id, record=policy or "default", record_pauses=",".join(pauses))

    def pauses_for(self, call_id: str, moment: str) -> bool:
        """The call is recorded and its policy pauses the recording for ``moment``."""
        return self.recording(call_id) and moment in (
            self.get(call_id, "record_pauses") or ""
        ).split(",")

    def recording(self, call_id: str) -> bool:
        """True once the IVR decided to record: the conversation with a human is recorded."""
        return bool(self.get(call_id, "record"))

    def ended(self, call_id: str) -> bool:
        """Amparo has ended the call (its row says so), whatever Twilio still does with it."""
        with self._sessions() as db:
            return db.scalar(select(Call.ended_at).where(Call.id == call_id)) is not None
