"""Fixtures for recordings: calls on lines of a jurisdiction, WAV files with a known byte
pattern, the archive on the test database, and the app with the recordings blueprint."""

from __future__ import annotations

import re
import secrets
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import build_runtime, create_app
from recordings_policy.assembly import RecordingParts, assemble
from recordings_policy.http import recordings_blueprint
from settings import Settings
from store.base import utcnow
from store.models import Line
from store.records import AuditEntry, Call

# A byte pattern no sealed file can contain by chance; every test WAV is made of it.
MARKER = b"AMPARO-CLEAR-AUDIO-MARKER-5e1f0c"
CSRF = "test-csrf-token"


def write_wav(path: Path, seconds: float = 5.0) -> bytes:
    """Write an 8 kHz mono 16-bit WAV made of MARKER; return the whole file's bytes."""
    frames = int(8000 * seconds)
    pcm = (MARKER * (2 * frames // len(MARKER) + 1))[: 2 * frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm)
    return path.read_bytes()


def clear_audio_on_disk(root: Path) -> list[Path]:
    """Files under ``root`` holding a WAV header or any run of the clear audio's bytes."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if re.search(rb"RIFF.{4}WAVE", data, re.DOTALL) or MARKER[:16] in data:
                found.append(path)
    return found


def audit_trail(sessions: sessionmaker[Session], recording_id: str) -> list[AuditEntry]:
    with sessions() as db:
        return list(
            db.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_id == recording_id)
                .order_by(AuditEntry.id)
            )
        )


@dataclass
class CallFactory:
    sessions: sessionmaker[Session]

    def __call__(
        self,
        *,
        jurisdiction: str = "ES",
        direction: str = "inbound",
        retention_days: int | None = None,
        started_at: datetime | None = None,
    ) -> str:
        suffix = secrets.randbelow(10**7)
        with self.sessions() as db, db.begin():
            line = Line(
                name=f"Línea de prueba {secrets.token_hex(4)}",
                number=f"+3480{suffix:07d}",
                default_locale="es",
                jurisdiction=jurisdiction,
                overflow_number="+34900000002",
                urgent_number="+34900000003",
                recording_retention_days=retention_days,
            )
            db.add(line)
            db.flush()
            call = Call(
                line_id=line.id,
                direction=direction,
                channel="sip",
                started_at=started_at or utcnow(),
            )
            db.add(call)
            db.flush()
            return call.id


@pytest.fixture
def make_call(db_sessions: sessionmaker[Session]) -> CallFactory:
    return CallFactory(db_sessions)


@pytest.fixture
def parts(
    settings: Settings,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    data_key: bytes,
) -> RecordingParts:
    return assemble(settings.data_dir, db_sessions, redis_client, data_key)


@pytest.fixture
def stored_recording(
    parts: RecordingParts, make_call: CallFactory, settings: Settings
) -> tuple[str, bytes]:
    """A recording taken in from a SIP recorder's WAV: (recording id, the clear WAV bytes)."""
    source = settings.data_dir / "spool" / "call.wav"
    clear = write_wav(source)
    recording_id = parts.archive.store_local_file(make_call(), source, utcnow())
    return recording_id, clear


@pytest.fixture
def recordings_app(
    settings: Settings, redis_client: redis.Redis
) -> Iterator[tuple[Flask, RecordingParts]]:
    """The real app with the recordings blueprint registered as app.py is to register it."""
    runtime = build_runtime(settings)
    app = create_app(runtime=runtime)
    parts = assemble(settings.data_dir, runtime.sessions, runtime.redis, settings.data_key)
    app.register_blueprint(recordings_blueprint(parts.archive, parts.access, parts.tokens))
    try:
        yield app, parts
    finally:
        runtime.close()


def signed_in(client: FlaskClient, role: str, agent_id: str | None = None) -> str:
    """Sign ``client`` in as a fresh account with ``role``; return its id."""
    agent_id = agent_id or secrets.token_hex(16)
    with client.session_transaction() as session:
        session["agent_id"] = agent_id
        session["role"] = role
        session["csrf"] = CSRF
    return agent_id
