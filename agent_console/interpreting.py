"""Which interpreter an accepted call gets without the agent asking.

A line with ``interpreter_on_accept`` conferences one as soon as an agent accepts a caller who
needs one: she chose "another language" at the IVR (the line's interpreting service for any
language, tag ``mul``, finds out which), or routing gave her to an agent who shares no language
with her (risk before language: the interpreter for her language). Anyone else gets one only
from the agent's button.
"""

from __future__ import annotations

from calls.directory import LineInfo
from ivr_flows.state import CallFlag
from store.records import Call

ANY_LANGUAGE = "mul"
"""BCP 47 for "multiple languages": an interpreting service that finds out her language."""
INTERPRETER_NEEDED = "interpreter_needed"
"""On the call's flags when routing gave her to an agent who does not speak her language."""


def wanted_on_accept(call: Call, line: LineInfo | None) -> str | None:
    """The language of the interpreter to call in now, or None."""
    if line is None or not line.interpreter_on_accept:
        return None
    flags = set(call.flags or ())
    if CallFlag.INTERPRETER.value in flags:
        return ANY_LANGUAGE
    if INTERPRETER_NEEDED in flags and call.locale:
        return call.locale
    return None
