"""Console vocabulary with its catalog keys: dispositions, states, supervision modes."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

from calls.outcome import Disposition
from locales.markers import N_

DISPOSITION_TEXT: dict[str, str] = {
    Disposition.SUPPORT_GIVEN: N_("console.disposition.support_given"),
    Disposition.INFORMATION: N_("console.disposition.information"),
    Disposition.REFERRED: N_("console.disposition.referred"),
    Disposition.URGENT_RESPONSE: N_("console.disposition.urgent_response"),
    Disposition.CALLBACK_AGREED: N_("console.disposition.callback_agreed"),
    Disposition.SILENT_NO_CONTACT: N_("console.disposition.silent_no_contact"),
    Disposition.CALLER_HUNG_UP: N_("console.disposition.caller_hung_up"),
    Disposition.WRONG_NUMBER: N_("console.disposition.wrong_number"),
    Disposition.TEST_CALL: N_("console.disposition.test_call"),
}
DISPOSITIONS = tuple(Disposition)

STATE_TEXT = {
    "offline": N_("console.presence.offline"),
    "available": N_("console.presence.available"),
    "offered": N_("console.presence.offered"),
    "on_call": N_("console.presence.on_call"),
    "wrap_up": N_("console.presence.wrap_up"),
    "break": N_("console.presence.break"),
}

AFTER_CALL_TEXT = {
    "break": N_("console.presence.after_call.break"),
    "offline": N_("console.presence.after_call.offline"),
}
"""The state an agent on a call takes when it (and its wrap-up) ends, shown next to hers."""

SUPERVISION_TEXT = {
    "listen": N_("console.supervise.listen"),
    "whisper": N_("console.supervise.whisper"),
    "barge": N_("console.supervise.barge"),
}


def language_label(code: str | None, locale: str) -> str:
    """A language tag as its name in the page's language ("es" -> "español"), else the tag."""
    if not code or code == "*":
        return "—"
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(locale)
    except (ValueError, UnknownLocaleError):
        return code
    return name or code


ALERT_TEXT = {
    "agent_sent_to_break": N_("console.alert.agent_sent_to_break"),
    "escalation_supervisor_alert": N_("console.alert.escalation_supervisor_alert"),
    "escalation_tier_unstaffed": N_("console.alert.escalation_tier_unstaffed"),
    "escalation_acknowledged": N_("console.alert.escalation_acknowledged"),
    "dial_urgent_number": N_("console.alert.dial_urgent_number"),
    "overflowed": N_("console.alert.overflowed"),
}
"""The wallboard's recent alerts (routing's supervisor events), by kind."""

ALARM_TEXT = {
    "prealarm": N_("console.alarm.prealarm"),
    "assault": N_("console.alarm.assault"),
    "medical": N_("console.alarm.medical"),
    "psychosocial": N_("console.alarm.psychosocial"),
}

RESOURCE_TEXT = {
    "police": N_("console.resource.police"),
    "health": N_("console.resource.health"),
    "shelter": N_("console.resource.shelter"),
    "cavi": N_("console.resource.cavi"),
    "legal": N_("console.resource.legal"),
    "psychological": N_("console.resource.psychological"),
}

ESCALATION_REASON_TEXT = {
    "severe_screen": N_("console.reason.severe_screen"),
    "severe_call": N_("console.reason.severe_call"),
    "device_alarm": N_("console.reason.device_alarm"),
    "duress_code": N_("console.reason.duress_code"),
    "silent_call": N_("console.reason.silent_call"),
    "checkin_help_now": N_("console.reason.checkin_help_now"),
    "hung_up_at_risk": N_("console.reason.hung_up_at_risk"),
    "agent_request": N_("console.reason.agent_request"),
}
ALARM_REASONS = frozenset({"device_alarm", "duress_code", "checkin_help_now"})
