"""An agent stops the far end ringing: a call she placed from her console
(``calls.placed_calls``) or a callback she took (``calls.callbacks``), while it still rings.

The database decides between her cancel and the far end's answer: both take the task's row
lock (``Callbacks.answered`` too), so whichever comes first wins and the other finds the try
over. Her cancel is then durable (the try's outcome ``cancelled``, the call ended, the call
log) before the edge is told to stop ringing and routing lets her go.

The try ends as an unanswered one does (``end_try``): a placed call has one try, so it is
closed; a callback task keeps its remaining tries and is due again after ``RETRY_AFTER``, as
if nobody had answered (she stopped this try, not the promise to call the woman back). Routing
frees her as at the end of any call she had: through wrap-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from calls.callback_rules import AGENT_PLACED
from calls.callbacks import Callbacks, end_try
from calls.errors import NotRinging
from store.callbacks import Callback, CallbackStatus
from store.records import CallEvent

log = logging.getLogger(__name__)

CANCELLED = "cancelled"
"""The try's outcome."""
PLACED_CALL_CANCELLED = "placed_call_cancelled"
CALLBACK_CANCELLED = "callback_cancelled"
"""What the call log says (the agent and the task's id; never the number)."""


@dataclass(frozen=True)
class Cancelled:
    call_id: str
    logged: str
    """``placed_call_cancelled`` or ``callback_cancelled``."""
    already: bool
    """A cancel asked again: nothing more was done."""


def cancel_ringing(callbacks: Callbacks, call_id: str, agent_id: str) -> Cancelled:
    """Stop the ringing of her call ``call_id``.

    Raises:
        NotRinging: the far end answered first (``console.call_answered``: the call goes on),
            the try is over otherwise (``console.not_ringing``), or it is another agent's.
    """
    now = callbacks.clock()
    with callbacks.sessions() as db, db.begin():
        callback = db.scalar(
            select(Callback).where(Callback.attempt_call_id == call_id).with_for_update()
        )
        if callback is None:
            kind = db.scalar(
                select(CallEvent.kind)
                .where(
                    CallEvent.call_id == call_id,
                    CallEvent.kind.in_((PLACED_CALL_CANCELLED, CALLBACK_CANCELLED)),
                )
                .limit(1)
            )
            if kind is None:
                raise NotRinging("console.not_ringing", "the call is not ringing")
            return Cancelled(call_id, kind, already=True)
        if callback.agent_id != agent_id:
            raise NotRinging("console.not_your_call", "this call is not yours")
        if callback.status == CallbackStatus.REACHED:
            raise NotRinging("console.call_answered", "the call was answered; it goes on")
        if callback.status != CallbackStatus.DIALING:
            raise NotRinging("console.not_ringing", "the call is not ringing")
        logged = PLACED_CALL_CANCELLED if callback.reason == AGENT_PLACED else CALLBACK_CANCELLED
        ended = end_try(callback, CANCELLED, now, count_try=True)
    callbacks.records.update(call_id, status="ended", ended_at=now)
    callbacks.call_log.append(
        call_id, logged, {"agent_id": agent_id, "callback_id": ended["callback_id"]}, at=now
    )
    callbacks.log_try(call_id, ended, now)
    try:
        callbacks.dialer.cancel(call_id)
    except Exception:  # the carrier's own ring timeout ends it; she is free either way
        log.exception("call %s: the edge could not stop the ringing", call_id)
    callbacks.router().hangup(call_id, now)
    return Cancelled(call_id, logged, already=False)
