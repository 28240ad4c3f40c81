"""Console strings every screen needs, declared once so extraction finds them.

The console (agent_console) adds its own strings through templates and code; these are the
shared basics: signing in, presence, offers, queues, risk levels and call flags.
"""

from __future__ import annotations

from locales.markers import N_

SIGN_IN = N_("console.sign_in")
SIGN_OUT = N_("console.sign_out")
USERNAME = N_("console.username")
PASSWORD = N_("console.password")
ONE_TIME_CODE = N_("console.one_time_code")
LANGUAGE = N_("console.language")

PRESENCE = {
    "available": N_("console.presence.available"),
    "break": N_("console.presence.break"),
    "offline": N_("console.presence.offline"),
    "on_call": N_("console.presence.on_call"),
    "wrap_up": N_("console.presence.wrap_up"),
}

OFFER_INCOMING = N_("console.offer.incoming")
OFFER_ACCEPT = N_("console.offer.accept")
OFFER_REJECT = N_("console.offer.reject")
CALL_HANG_UP = N_("console.call.hang_up")
CALL_HOLD = N_("console.call.hold")
CALL_RESUME = N_("console.call.resume")
CALL_MUTE = N_("console.call.mute")
CALL_TRANSFER = N_("console.call.transfer")
CALL_ESCALATE = N_("console.call.escalate")
CALL_DISPOSITION = N_("console.call.disposition")
CALL_NOTES = N_("console.call.notes")
SAVE = N_("console.save")
CANCEL = N_("console.cancel")

QUEUE = N_("console.queue")
QUEUE_WAITING = N_("console.queue.waiting")
QUEUE_EMPTY = N_("console.queue.empty")
QUEUE_LONGEST_WAIT = N_("console.queue.longest_wait")

RISK = {
    "no_apreciado": N_("console.risk.no_apreciado"),
    "bajo": N_("console.risk.bajo"),
    "medio": N_("console.risk.medio"),
    "alto": N_("console.risk.alto"),
    "extremo": N_("console.risk.extremo"),
}
RISK_LABEL = N_("console.risk")
RISK_RAISE = N_("console.risk.raise")
RISK_LOWER = N_("console.risk.lower")

FLAGS = {
    "silent": N_("console.flag.silent"),
    "interpreter": N_("console.flag.interpreter"),
    "interpreter_needed": N_("console.flag.interpreter_needed"),
    "duress": N_("console.flag.duress"),
    "device_alarm": N_("console.flag.device_alarm"),
    "cannot_talk": N_("console.flag.cannot_talk"),
    "asked_for_human": N_("console.flag.asked_for_human"),
    "known_beneficiary": N_("console.flag.known_beneficiary"),
    "unverified": N_("console.flag.unverified"),
    "checkin": N_("console.flag.checkin"),
    "recording_declined": N_("console.flag.recording_declined"),
    "repeated_invalid": N_("console.flag.repeated_invalid"),
    "callback": N_("console.flag.callback"),
}

SCREEN = {
    "safe_to_talk": N_("console.screen.safe_to_talk"),
    "danger_now": N_("console.screen.danger_now"),
    "injured": N_("console.screen.injured"),
    "weapon_or_threat": N_("console.screen.weapon_or_threat"),
    "children_at_risk": N_("console.screen.children_at_risk"),
}
ANSWERS = {
    "yes": N_("console.answer.yes"),
    "no": N_("console.answer.no"),
    "no_answer": N_("console.answer.no_answer"),
}
