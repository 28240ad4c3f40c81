"""Who may hear a recording: supervisors and admins, with a reason, once per grant, audited."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from recordings_policy.access import AccessGrant
from recordings_policy.parts import RecordingParts
from settings import Settings
from store.base import utcnow
from tests.integration.recordings_policy.recording_helpers import (
    CSRF,
    CallFactory,
    audit_trail,
    signed_in,
    write_wav,
)

REASON = "Review of call quality after a complaint, ticket 4471"

AppWithRecordings = tuple[Flask, RecordingParts]


def _recording(
    app_parts: AppWithRecordings, make_call: CallFactory, settings: Settings
) -> tuple[str, bytes]:
    _, parts = app_parts
    source = settings.data_dir / "spool" / "r.wav"
    clear = write_wav(source, seconds=3)
    return parts.archive.store_local_file(make_call(), source, utcnow()), clear


@pytest.mark.parametrize(
    ("role", "grant_status"),
    [("agent", 403), ("supervisor", 200), ("admin", 200)],
)
def test_access_matrix_by_role_with_every_access_audited(
    recordings_app: AppWithRecordings,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
    role: str,
    grant_status: int,
) -> None:
    app, _ = recordings_app
    recording_id, clear = _recording(recordings_app, make_call, settings)
    client = app.test_client()
    actor = signed_in(client, role)

    granted = client.post(
        f"/recordings/{recording_id}/access", data={"reason": REASON, "csrf_token": CSRF}
    )

    assert granted.status_code == grant_status
    assert "no-store" in granted.headers["Cache-Control"]
    trail = [e for e in audit_trail(db_sessions, recording_id) if e.actor_type == "agent"]
    if grant_status == 403:
        assert (granted.json or {})["error_id"] == "recording_access_denied"
        assert [(e.action, e.actor_id) for e in trail] == [("recording_access_denied", actor)]
        return
    body = granted.json or {}
    assert body["expires_in"] == 300 and body["single_use"] is True
    assert recording_id not in body["stream_url"]

    played = client.get(body["stream_url"])

    assert played.status_code == 200
    assert played.mimetype == "audio/wav"
    assert played.data == clear
    assert played.headers["Content-Length"] == str(len(clear))
    assert "no-store" in played.headers["Cache-Control"]
    trail = [e for e in audit_trail(db_sessions, recording_id) if e.actor_type == "agent"]
    assert [(e.action, e.actor_id, e.reason, e.subject_type) for e in trail] == [
        ("recording_access_granted", actor, REASON, "recording"),
        ("recording_streamed", actor, REASON, "recording"),
    ]
    assert trail[1].detail == {"role": role, "grant_id": trail[0].id}
    assert all(abs(e.at - utcnow()) < timedelta(minutes=1) for e in trail)


def test_a_stream_url_plays_once(
    recordings_app: AppWithRecordings, make_call: CallFactory, settings: Settings
) -> None:
    app, _ = recordings_app
    recording_id, _ = _recording(recordings_app, make_call, settings)
    client = app.test_client()
    signed_in(client, "supervisor")
    url = client.post(
        f"/recordings/{recording_id}/access", data={"reason": REASON, "csrf_token": CSRF}
    ).json["stream_url"]  # type: ignore[index]
    assert client.get(url).status_code == 200
    again = client.get(url)
    assert again.status_code == 404 and again.data != b""


def test_a_stream_url_is_useless_to_anyone_but_the_person_it_was_granted_to(
    recordings_app: AppWithRecordings,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
) -> None:
    app, _ = recordings_app
    recording_id, _ = _recording(recordings_app, make_call, settings)
    granted_to, other = app.test_client(), app.test_client()
    signed_in(granted_to, "supervisor")
    thief = signed_in(other, "admin")
    url = granted_to.post(
        f"/recordings/{recording_id}/access", data={"reason": REASON, "csrf_token": CSRF}
    ).json["stream_url"]  # type: ignore[index]

    stolen = other.get(url)

    assert stolen.status_code == 403
    assert granted_to.get(url).status_code == 404  # the token was spent by the attempt
    denied = [e for e in audit_trail(db_sessions, recording_id) if e.action.endswith("denied")]
    assert [(e.actor_id, e.detail["attempted"]) for e in denied] == [
        (thief, "redeem_token_of_another")
    ]


@pytest.mark.parametrize(
    ("form", "status", "error_id"),
    [
        ({"csrf_token": CSRF}, 400, "recording_reason_required"),
        ({"reason": "   because ", "csrf_token": CSRF}, 400, "recording_reason_required"),
        ({"reason": REASON}, 400, "bad_request"),
        ({"reason": REASON, "csrf_token": "forged"}, 400, "bad_request"),
    ],
)
def test_a_request_without_a_reason_or_csrf_token_is_refused_and_grants_nothing(
    recordings_app: AppWithRecordings,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
    form: dict[str, str],
    status: int,
    error_id: str,
) -> None:
    app, _ = recordings_app
    recording_id, _ = _recording(recordings_app, make_call, settings)
    client = app.test_client()
    signed_in(client, "supervisor")
    response = client.post(f"/recordings/{recording_id}/access", data=form)
    assert response.status_code == status
    assert (response.json or {})["error_id"] == error_id
    assert not [e for e in audit_trail(db_sessions, recording_id) if e.actor_type == "agent"]


def test_signed_out_visitors_are_sent_to_sign_in(
    recordings_app: AppWithRecordings, make_call: CallFactory, settings: Settings
) -> None:
    app, _ = recordings_app
    recording_id, _ = _recording(recordings_app, make_call, settings)
    client = app.test_client()
    response = client.post(f"/recordings/{recording_id}/access", data={"reason": REASON})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/recordings/stream/" + "a" * 43).status_code == 302


@pytest.mark.parametrize(
    "path",
    [
        "/recordings/{id}",
        "/recordings/{id}.wav",
        "/recordings/{id}/stream",
        "/recordings/stream/{id}",
        "/recordings/stream/" + "A" * 43,
        "/recordings/stream/../{id}",
    ],
)
def test_no_recording_is_reachable_by_a_url_built_from_its_id(
    recordings_app: AppWithRecordings, make_call: CallFactory, settings: Settings, path: str
) -> None:
    app, _ = recordings_app
    recording_id, _ = _recording(recordings_app, make_call, settings)
    client = app.test_client()
    signed_in(client, "admin")
    response = client.get(path.format(id=recording_id))
    assert response.status_code in (404, 405)
    assert response.mimetype != "audio/wav"


def test_unknown_and_purged_recordings_answer_with_their_error_ids(
    recordings_app: AppWithRecordings, make_call: CallFactory, settings: Settings
) -> None:
    app, parts = recordings_app
    client = app.test_client()
    signed_in(client, "supervisor")
    form = {"reason": REASON, "csrf_token": CSRF}
    unknown = client.post(f"/recordings/{'0' * 32}/access", data=form)
    assert (unknown.status_code, (unknown.json or {})["error_id"]) == (404, "recording_not_found")
    assert client.post("/recordings/not-an-id/access", data=form).status_code == 404

    source = settings.data_dir / "spool" / "old.wav"
    write_wav(source, seconds=1)
    old = parts.archive.store_local_file(make_call(), source, utcnow() - timedelta(days=400))
    parts.archive.purge_due(utcnow())
    purged = client.post(f"/recordings/{old}/access", data=form)
    assert (purged.status_code, (purged.json or {})["error_id"]) == (410, "recording_purged")


def test_supervisors_hold_and_release_over_http_and_agents_cannot(
    recordings_app: AppWithRecordings,
    make_call: CallFactory,
    settings: Settings,
    db_sessions: sessionmaker[Session],
) -> None:
    app, _ = recordings_app
    recording_id, _ = _recording(recordings_app, make_call, settings)
    agent, supervisor = app.test_client(), app.test_client()
    signed_in(agent, "agent")
    signed_in(supervisor, "supervisor")
    form = {"reason": "Requested by the prosecutor, case 88/2026", "csrf_token": CSRF}

    assert agent.post(f"/recordings/{recording_id}/hold", data=form).status_code == 403
    held = supervisor.post(f"/recordings/{recording_id}/hold", data=form)
    assert held.status_code == 200 and (held.json or {})["legal_hold"] is True
    no_reason = supervisor.post(f"/recordings/{recording_id}/release", data={"csrf_token": CSRF})
    assert no_reason.status_code == 400
    released = supervisor.post(f"/recordings/{recording_id}/release", data=form)
    assert released.status_code == 200 and (released.json or {})["legal_hold"] is False
    actions = [e.action for e in audit_trail(db_sessions, recording_id) if e.actor_type == "agent"]
    assert actions == [
        "recording_access_denied",
        "recording_hold_placed",
        "recording_hold_released",
    ]


def test_access_tokens_live_five_minutes_and_redis_never_holds_the_token_itself(
    parts: RecordingParts, redis_client: redis.Redis
) -> None:
    grant = AccessGrant(grant_id=7, recording_id="a" * 32, actor_id="sup-1")
    token = parts.tokens.issue(grant)
    keys = list(redis_client.scan_iter("amparo:recording_access:*"))
    assert len(keys) == 1 and token not in keys[0]
    assert 290 <= redis_client.ttl(keys[0]) <= 300
    assert token not in str(redis_client.get(keys[0]))

    redis_client.pexpire(keys[0], 1)
    time.sleep(0.05)
    assert parts.tokens.redeem(token) is None
