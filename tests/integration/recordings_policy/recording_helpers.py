"""Helpers for recording tests: calls on lines of a jurisdiction, WAV files made of a known byte
pattern, a scan of the data dir for clear audio, audit trails and signed-in test clients."""

from __future__ import annotations

import re
import secrets
import wave
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.credentials import hash_secret
from store.models import Agent, Line
from store.records import AuditEntry, Call
from tests.harness.hotline import PASSWORD
from tests.harness.signin import sign_in

# A byte pattern no sealed file can contain by chance; every test WAV is made of it.
MARKER = b"AMPARO-CLEAR-AUDIO-MARKER-5e1f0c"
CSRF = "test-csrf-token"
_PASSWORD_HASH = hash_secret(PASSWORD)


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


def signed_in(client: FlaskClient, role: str) -> str:
    """Sign ``client`` in, through the sign-in forms, as a fresh account with ``role``; return
    its id. The session's CSRF token is then ``CSRF``."""
    sessions = client.application.extensions["amparo"].sessions
    with sessions() as db, db.begin():
        agent = Agent(
            login=f"rec-{secrets.token_hex(6)}",
            display_name="Recording Test",
            password_hash=_PASSWORD_HASH,
            role=role,
            languages=["es"],
        )
        db.add(agent)
        db.flush()
        agent_id = agent.id
    sign_in(client, sessions, agent_id)
    with client.session_transaction() as session:
        session["csrf"] = CSRF
    return agent_id
