"""Ports to where recordings come from. Adapters live at the telephony edge and app.py wires
them; the domain only sees these protocols."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class TwilioRecordingSource(Protocol):
    """A recording held by Twilio until Amparo has it sealed."""

    def download(self, recording_sid: str, directory: Path) -> Path:
        """Write the finished recording's audio to a new 0600 file in ``directory``.

        Raises:
            SourceNotReady: the recording is not ``completed`` yet (the job retries later).
        """

    def delete(self, recording_sid: str) -> None:
        """Delete the recording (audio and metadata) at Twilio; already deleted is success."""
