"""What the edges say to everyone on a call outside any flow: a prompt id each, spoken in the
call's locale (``Call.locale``) by Twilio's ``<Say>`` or SIP's rendered prompts."""

from __future__ import annotations

from locales.markers import N_

INTERPRETER_JOINING = N_("call.interpreter_joining")
"""Caller and agent hear it as an interpreter joins their call."""
ANNOUNCEMENTS = frozenset({INTERPRETER_JOINING})
