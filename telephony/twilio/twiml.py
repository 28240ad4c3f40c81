"""The one TwiML renderer: what the switchboard decided, as the document Twilio executes.

Every document this edge returns is built here, so the safety rules are kept in one place:

* a ``Gather`` returns to ``/step`` even when the caller presses nothing
  (``actionOnEmptyResult``), and a ``Redirect`` to the same answer follows it in case Twilio
  ever falls through: silence is an event, never the end of the call;
* ``Enqueue`` (and ``Escalate`` that connects the caller) waits in a per-line Twilio queue
  with our hold document; the routing queue decides who answers;
* ``Dial`` rings the line's number with an action URL that tries the next number when nobody
  answers;
* any document that could end without a human or an explicit hang-up ends with a
  ``Redirect`` to the fallback URL, which dials the overflow number.

Recording: TwiML has no verb that starts recording the call in the middle of a document, and
the IVR part of a call carries PIN and duress digits that the recording policy pauses for. So
``Record`` renders nothing: the call is marked, and the conversation with a human is recorded
where it happens, by ``record`` on the bridge's ``<Conference>`` and on an overflow ``<Dial>``.
"""

from __future__ import annotations

import logging
import math
from typing import assert_never

from twilio.twiml.voice_response import Dial as DialVerb
from twilio.twiml.voice_response import Gather as GatherVerb
from twilio.twiml.voice_response import VoiceResponse

from calls.turn import CallTurn
from ivr_flows.actions import (
    Dial,
    Enqueue,
    Escalate,
    Gather,
    Hangup,
    Join,
    Play,
    Record,
    Say,
    SetLocale,
)
from ivr_flows.state import CallFlag
from locales.markers import N_
from locales.prompts import prompt_text
from locales.voices import voice_for
from telephony.twilio.links import HoldMode, Links
from telephony.twilio.media import PROMPT_MEDIA

log = logging.getLogger(__name__)

QUEUE_POSITION = N_("queue.position")
QUEUE_NEXT = N_("queue.next")
QUEUE_WAITING = N_("queue.waiting")
URGENT_HOLD = "triage.connecting_urgent"

DIAL_TIMEOUT_S = 25
HOLD_MUSIC_LOOPS = 3  # ~24 s of music between announcements
QUIET_HOLD_S = 20
RETRY_PAUSE_S = 2
QUIET_FLAGS = frozenset(
    {CallFlag.SILENT, CallFlag.DEVICE_ALARM, CallFlag.CANNOT_TALK, CallFlag.DURESS}
)
RECORD_DIAL = "record-from-answer-dual"
RECORD_CONFERENCE = "record-from-start"


def queue_name(line_id: str | None) -> str:
    """One Twilio queue per line (Twilio caps a queue's size; lines do not share one)."""
    return f"amparo-{line_id}" if line_id else "amparo"


def render(
    turn: CallTurn,
    links: Links,
    *,
    fallback_number: str | None = None,
    record: bool = False,
) -> str:
    """The document for ``turn``.

    Args:
        links: URLs of this call at this turn.
        fallback_number: dialled for a ``Dial`` whose line is unknown (the in-process book of
            overflow numbers, else ``AMPARO_FALLBACK_NUMBER``).
        record: the call is being recorded: a ``Dial`` records the conversation.
    """
    response = VoiceResponse()
    finished = False
    for action in turn.actions:
        if finished:
            log.warning("call %s: %s after the end of a turn ignored", turn.call_id, action.kind)
            continue
        match action:
            case Say():
                _say(response, action)
            case Play():
                _play(response, links, action)
            case Gather():
                _gather(response, links, action)
                finished = True
            case Enqueue():
                _enqueue(response, links, action.locale, _hold_mode(action.flags, urgent=False))
                finished = True
            case Escalate(connect_caller=True):
                _enqueue(response, links, action.locale, _hold_mode(action.flags, urgent=True))
                finished = True
            case Escalate():
                # The duress path: the call carries on as if nothing happened; the urgent
                # team's ladder was started by the switchboard.
                pass
            case Dial():
                number = turn.dial_number(action) or fallback_number
                dial_number(response, links, number, target=action.target, attempt=0, record=record)
                finished = True
            case Join():
                _join(response, links, turn.join_call)
                finished = True
            case Hangup():
                response.hangup()
                finished = True
            case Record() | SetLocale():
                pass  # see the module docstring; a Say carries its own locale
            case _:
                assert_never(action)
    if not finished:
        response.redirect(links.fallback(), method="POST")
    return str(response)


def _join(response: VoiceResponse, links: Links, call_id: str | None) -> None:
    """An urgent-team member joins the woman's conference (the edge has moved her into it);
    when the member leaves, the conference ends, as when an agent leaves."""
    if not call_id:
        log.error("call %s: nothing to join; ending the alert call", links.call_id)
        response.hangup()
        return
    dial = response.dial(action=links.bridge_ended(), method="POST")
    dial.conference(
        call_id, start_conference_on_enter=True, end_conference_on_exit=True, beep=False
    )


def _hold_mode(flags: frozenset[CallFlag], *, urgent: bool) -> HoldMode:
    if flags & QUIET_FLAGS:
        return HoldMode.QUIET
    return HoldMode.URGENT if urgent else HoldMode.STANDARD


def _say(parent: VoiceResponse | GatherVerb, action: Say) -> None:
    voice = voice_for(action.locale)
    parent.say(
        prompt_text(action.message_id, action.locale, action.params),
        language=voice.twilio_language,
        voice=voice.twilio_voice,
    )


def _play(parent: VoiceResponse | GatherVerb, links: Links, action: Play) -> None:
    media = PROMPT_MEDIA.get(action.prompt)
    if media is None:
        log.warning("recorded prompt %r has no media on Twilio; skipped", action.prompt)
        return
    parent.play(links.hold_media())


def _gather(response: VoiceResponse, links: Links, action: Gather) -> None:
    gather = response.gather(
        input="dtmf",
        num_digits=action.num_digits,
        timeout=max(1, math.ceil(action.timeout_s)),
        # No finish key unless the flow names one: "#" at a menu must not read as silence.
        finish_on_key=action.finish_on_key or "",
        action=links.step(),
        method="POST",
        action_on_empty_result=True,
    )
    for prompt in action.prompts:
        if isinstance(prompt, Say):
            _say(gather, prompt)
        else:
            _play(gather, links, prompt)
    response.redirect(links.step(silence=True), method="POST")


def _enqueue(response: VoiceResponse, links: Links, locale: str, mode: HoldMode) -> None:
    response.enqueue(
        queue_name(links.line_id),
        wait_url=links.queue_wait(locale, mode),
        wait_url_method="POST",
        action=links.queue_result(),
        method="POST",
    )
    response.redirect(links.fallback(), method="POST")


def dial_number(
    response: VoiceResponse,
    links: Links,
    number: str | None,
    *,
    target: str,
    attempt: int,
    record: bool,
) -> None:
    """``<Dial>`` one number; when nobody answers, ``/dial-result`` tries the next one."""
    if not number:
        # No number known at all (no line, no book, no AMPARO_FALLBACK_NUMBER): keep the call
        # open and ask again shortly rather than hang up.
        log.error("call %s: no number to dial; retrying the fallback", links.call_id)
        response.pause(length=RETRY_PAUSE_S)
        response.redirect(links.fallback(), method="POST")
        return
    options: dict[str, object] = {}
    if record:
        options = {
            "record": RECORD_DIAL,
            "recording_status_callback": links.recording(),
            "recording_status_callback_event": "completed",
        }
    dial: DialVerb = response.dial(
        action=links.dial_result(target, attempt),
        method="POST",
        timeout=DIAL_TIMEOUT_S,
        **options,
    )
    dial.number(number)
    response.redirect(links.fallback(), method="POST")


def dial_document(
    links: Links, number: str | None, *, target: str, attempt: int = 0, record: bool = False
) -> str:
    """A whole document that dials ``number`` (overflow redirects, fallbacks, retries)."""
    response = VoiceResponse()
    if attempt and number:
        response.pause(length=RETRY_PAUSE_S)
    dial_number(response, links, number, target=target, attempt=attempt, record=record)
    return str(response)


def hold_document(locale: str, mode: HoldMode, position: int | None, links: Links) -> str:
    """What ``/queue-wait`` plays, again and again, while the caller waits for a human."""
    response = VoiceResponse()
    if mode is HoldMode.QUIET:
        response.pause(length=QUIET_HOLD_S)
        return str(response)
    voice = voice_for(locale)
    params: dict[str, str] = {}
    if mode is HoldMode.URGENT:
        message = URGENT_HOLD
    elif position == 1:
        message = QUEUE_NEXT
    elif position is not None and position > 1:
        message, params = QUEUE_POSITION, {"position": str(position)}
    else:
        message = QUEUE_WAITING
    response.say(
        prompt_text(message, locale, params),
        language=voice.twilio_language,
        voice=voice.twilio_voice,
    )
    response.play(links.hold_media(), loop=HOLD_MUSIC_LOOPS)
    return str(response)


def leave_queue_document() -> str:
    """Leave the Twilio queue: Twilio then requests the queue's action URL (``/queue-result``),
    which dials the overflow."""
    response = VoiceResponse()
    response.leave()
    return str(response)


def empty_document() -> str:
    """The answer to callbacks that only report (status, recording)."""
    return str(VoiceResponse())


def hangup_document() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def join_conference_document(conference: str) -> str:
    """A third party (a transfer's service) joins the caller's conference; leaving it does not
    end it."""
    response = VoiceResponse()
    dial = response.dial()
    dial.conference(
        conference, start_conference_on_enter=True, end_conference_on_exit=False, beep=False
    )
    return str(response)


def say_document(message_id: str, locale: str) -> str:
    """One prompt, said in ``locale`` (an announcement to a conference)."""
    response = VoiceResponse()
    _say(response, Say(message_id, locale=locale))
    return str(response)


def keys_document(digits: str | None) -> str:
    """An announcement to the caller's participant: the keys the agent sent, as tones
    (nothing when they are no longer known)."""
    response = VoiceResponse()
    if digits:
        response.play(digits=digits)
    return str(response)


def conference_document(links: Links, conference: str, *, record: bool) -> str:
    """The caller's side of the bridge: wait (with music) in the conference named after the
    call until the agent joins; when it ends, ``/bridge-ended`` closes the call."""
    response = VoiceResponse()
    dial = response.dial(action=links.bridge_ended(), method="POST")
    options: dict[str, object] = {}
    if record:
        options = {
            "record": RECORD_CONFERENCE,
            "recording_status_callback": links.recording(),
            "recording_status_callback_event": "completed",
        }
    dial.conference(
        conference,
        start_conference_on_enter=False,
        end_conference_on_exit=True,
        beep=False,
        wait_url=links.hold_media(),
        wait_method="GET",
        **options,
    )
    response.redirect(links.fallback(), method="POST")
    return str(response)
