"""Twilio as a source of recordings: fetch the finished recording, download its audio, delete it.

Implements ``recordings_policy.sources.TwilioRecordingSource`` with the real ``twilio`` REST
client. Metadata and deletion go through the client (so the API base URL can point at a mock of
Twilio's OpenAPI spec in tests); the media file is downloaded with ``requests`` because the
client's HTTP layer decodes bodies as text, which would corrupt audio.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.api.v2010.account.recording import RecordingContext

from recordings_policy.errors import RecordingError, SourceNotReady
from settings import Settings

MEDIA_CHUNK = 64 * 1024


class TwilioMediaError(RecordingError):
    """Twilio's media download did not return WAV audio."""

    error_id = "twilio_recording_media_invalid"


class TwilioRecordings:
    def __init__(
        self, client: Client, *, media_base_url: str | None = None, timeout: float = 60.0
    ) -> None:
        """``media_base_url`` defaults to the client's API base URL (``https://api.twilio.com``)."""
        self.client = client
        self.media_base_url = (media_base_url or client.api.base_url).rstrip("/")
        self.timeout = timeout

    @property
    def account_sid(self) -> str:
        return str(self.client.account_sid)

    def _recording(self, recording_sid: str) -> RecordingContext:
        return self.client.api.v2010.accounts(self.account_sid).recordings(recording_sid)

    def download(self, recording_sid: str, directory: Path) -> Path:
        recording = self._recording(recording_sid).fetch()
        if str(recording.status) != "completed":
            raise SourceNotReady(f"recording is {recording.status}")
        url = (
            f"{self.media_base_url}/2010-04-01/Accounts/{self.account_sid}"
            f"/Recordings/{recording_sid}.wav"
        )
        fd, name = tempfile.mkstemp(prefix="twilio-", suffix=".wav", dir=directory)
        path = Path(name)
        try:
            with (
                os.fdopen(fd, "wb") as out,
                requests.get(
                    url,
                    auth=(self.client.username, self.client.password),
                    stream=True,
                    timeout=self.timeout,
                ) as response,
            ):
                response.raise_for_status()
                head = b""
                for chunk in response.iter_content(MEDIA_CHUNK):
                    if len(head) < 12:
                        head += chunk[: 12 - len(head)]
                    out.write(chunk)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                raise TwilioMediaError()
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise
        return path

    def delete(self, recording_sid: str) -> None:
        try:
            self._recording(recording_sid).delete()
        except TwilioRestException as exc:
            if exc.status != 404:
                raise


def rest_client(settings: Settings) -> Client | None:
    """The REST client of the configured account (an API key when set, else the auth token),
    pointed at ``AMPARO_TWILIO_API_BASE_URL`` when given; None when Twilio is off."""
    if not settings.twilio_account_sid:
        return None
    username: str | None
    password: str | None
    if settings.twilio_api_key and settings.twilio_api_secret:
        username, password = settings.twilio_api_key, settings.twilio_api_secret
    else:
        username, password = settings.twilio_account_sid, settings.twilio_auth_token
    client = Client(username, password, account_sid=settings.twilio_account_sid)
    if settings.twilio_api_base_url:
        client.api.base_url = settings.twilio_api_base_url
    return client


def twilio_recordings(settings: Settings) -> TwilioRecordings | None:
    """The adapter for the configured account, or None when Twilio is off."""
    client = rest_client(settings)
    return None if client is None else TwilioRecordings(client)
