"""Prompt keys chosen by code rather than by a flow file, marked for extraction.

``recordings_policy`` names one of the recording notices in its decision; the engine speaks
whichever key the decision carries.
"""

from __future__ import annotations

from locales.markers import N_

RECORDING_NOTICE = N_("recording.notice")
RECORDING_NOTICE_CONSENT = N_("recording.notice_consent")
RECORDING_NOTICES = frozenset({RECORDING_NOTICE, RECORDING_NOTICE_CONSENT})
