"""The Twilio path: fetch the recording and delete it through the real twilio client against
Prism (Twilio's OpenAPI spec), download the media from a local stand-in for Twilio's media host,
seal, verify, and leave no clear audio behind.

Prism covers the REST calls (``GET`` and ``DELETE`` of
``/2010-04-01/Accounts/{sid}/Recordings/{sid}.json``, validated against the spec: SID patterns
and the auth scheme). The media file
(``.../Recordings/{sid}.wav``) is not in Twilio's spec, so a tiny local HTTP server plays Twilio's
media host: it demands the same basic auth and serves a WAV.
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from rq.serializers import JSONSerializer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from recordings_policy import jobs
from recordings_policy.parts import RecordingParts
from settings import Settings
from store import live_state
from store.base import utcnow
from store.job_worker import JobWorker
from store.records import Recording
from telephony.twilio.recordings import TwilioMediaError, TwilioRecordings
from tests.harness.prism import PrismMock, prism_mock, unavailable_reason
from tests.integration.recordings_policy.recording_helpers import (
    CallFactory,
    audit_trail,
    clear_audio_on_disk,
    write_wav,
)

ACCOUNT_SID = "AC" + "0a1b2c3d" * 4
AUTH_TOKEN = "test-auth-token-not-secret"


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismMock]:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"Prism is required in CI: {reason}")
        pytest.skip(reason)
    with prism_mock(tmp_path_factory.mktemp("prism")) as mock:
        yield mock


@dataclass
class MediaHost:
    """Stands in for Twilio's media URLs: serves ``wav`` at any ``.../Recordings/RE....wav``."""

    wav: bytes = b""
    status: int = 200
    requests: list[tuple[str, bool]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def media_host() -> Iterator[MediaHost]:
    host = MediaHost()
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            authorized = self.headers.get("Authorization") == expected
            host.requests.append((self.path, authorized))
            if not authorized:
                self.send_response(401)
                self.end_headers()
                return
            self.send_response(host.status)
            self.send_header("Content-Type", "audio/x-wav")
            self.send_header("Content-Length", str(len(host.wav)))
            self.end_headers()
            self.wfile.write(host.wav)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()


class RecordingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The twilio client's own HTTP client, noting each request and its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[tuple[str, str, int]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        response = super().request(method, url, *args, **kwargs)
        self.exchanges.append((method.upper(), url, response.status_code))
        return response


@pytest.fixture
def http_client() -> RecordingHttpClient:
    return RecordingHttpClient()


@pytest.fixture
def twilio(
    prism: PrismMock, media_host: MediaHost, http_client: RecordingHttpClient
) -> TwilioRecordings:
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http_client)
    client.api.base_url = prism.url
    return TwilioRecordings(client, media_base_url=media_host.url, timeout=10)


def _recording_sid() -> str:
    return "RE" + secrets.token_hex(16)


def test_twilio_recording_is_downloaded_sealed_verified_then_deleted_at_twilio(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
    twilio: TwilioRecordings,
    media_host: MediaHost,
    http_client: RecordingHttpClient,
    prism: PrismMock,
) -> None:
    media_host.wav = write_wav(settings.data_dir.parent / "twilio-side.wav", seconds=6)
    sid = _recording_sid()
    recording_id = parts.archive.accept_twilio_recording(make_call(), sid, utcnow())
    assert parts.archive.accept_twilio_recording(make_call(), sid, utcnow()) == recording_id

    assert parts.archive.store_from_twilio(recording_id, twilio, utcnow()) == "stored"

    resource = f"{prism.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}.json"
    assert http_client.exchanges == [("GET", resource, 200), ("DELETE", resource, 204)]
    assert media_host.requests == [
        (f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}.wav", True)
    ]
    assert "Request did not pass the validation rules" not in prism.log()
    assert clear_audio_on_disk(settings.data_dir) == []
    with db_sessions() as db:
        row = db.get(Recording, recording_id)
        assert row is not None and row.source == "twilio" and row.external_id == sid
        assert row.storage_ref and row.source_deleted_at is not None
        assert row.size_bytes == len(media_host.wav)
    grant = parts.access.grant(
        recording_id, actor_id="sup-1", role="supervisor", reason="Checking the stored copy"
    )
    playback = parts.access.stream_granted(grant, actor_id="sup-1", role="supervisor")
    assert b"".join(playback.chunks) == media_host.wav
    assert [e.action for e in audit_trail(db_sessions, recording_id)] == [
        "recording_stored",
        "recording_access_granted",
        "recording_streamed",
    ]

    assert parts.archive.store_from_twilio(recording_id, twilio, utcnow()) == "already_stored"
    assert len(http_client.exchanges) == 2 and len(media_host.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [(500, b"oops", Exception), (200, b"<html>not audio</html>", TwilioMediaError)],
)
def test_a_failed_download_keeps_twilio_copy_and_leaves_nothing_on_disk(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
    twilio: TwilioRecordings,
    media_host: MediaHost,
    http_client: RecordingHttpClient,
    status: int,
    body: bytes,
    error: type[Exception],
) -> None:
    media_host.status, media_host.wav = status, body
    recording_id = parts.archive.accept_twilio_recording(make_call(), _recording_sid(), utcnow())

    with pytest.raises(error):
        parts.archive.store_from_twilio(recording_id, twilio, utcnow())

    assert [method for method, _, _ in http_client.exchanges] == ["GET"]
    assert [p for p in Path(settings.data_dir).rglob("*") if p.suffix in (".wav", ".sealed")] == []
    with db_sessions() as db:
        row = db.get(Recording, recording_id)
        assert row is not None and row.storage_ref is None and row.source_deleted_at is None


def test_the_store_job_runs_on_a_real_rq_worker_against_prism(
    parts: RecordingParts,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
    db_engine: Engine,
    twilio: TwilioRecordings,
    media_host: MediaHost,
    prism: PrismMock,
    redis_client: redis.Redis,
    redis_url: str,
) -> None:
    media_host.wav = write_wav(settings.data_dir.parent / "twilio-side.wav", seconds=2)
    sid = _recording_sid()
    recording_id = parts.archive.accept_twilio_recording(make_call(), sid, utcnow())
    jobs.install(jobs.RecordingJobContext(archive=parts.archive, twilio=twilio, engine=db_engine))
    connection = live_state.connect(redis_url, decode_responses=False)
    try:
        assert jobs.enqueue_twilio_recording(connection, recording_id) is True
        assert jobs.enqueue_twilio_recording(connection, recording_id) is False
        queue = live_state.job_queue(connection, jobs.STORE_QUEUE)
        JobWorker([queue], connection=connection, serializer=JSONSerializer).work(burst=True)
        job = queue.fetch_job(f"recording-store-{recording_id}")
        assert job is not None and job.return_value() == "stored"
    finally:
        connection.close()

    with db_sessions() as db:
        row = db.get(Recording, recording_id)
        assert row is not None and row.storage_ref and row.source_deleted_at is not None
    assert f"delete /2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}.json" in prism.log()
    assert clear_audio_on_disk(settings.data_dir) == []
