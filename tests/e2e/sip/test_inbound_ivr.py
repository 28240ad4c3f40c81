"""Callers from SIPp reach the IVR of ``amparo sip`` and, through it, a person.

Keys are RFC 2833 telephone-events from SIPp's own captures (and SIP INFO in one test). SIPp
counts a BYE it did not expect as a failed call, so a passing SIPp run also shows that Amparo
never hung up on the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.records import Call, Escalation
from store.records import CallEvent as StoredEvent
from tests.e2e.sip.peers import SippResult, SipProcess, run_sipp
from tests.harness.hotline import Hotline


def last_call(db_sessions: sessionmaker[Session], hotline: Hotline) -> Call:
    with db_sessions() as db:
        call = db.scalars(
            select(Call).where(Call.line_id == hotline.line_id).order_by(Call.started_at.desc())
        ).first()
        assert call is not None, "no call was opened on the hotline"
        db.expunge(call)
        return call


def event_kinds(db_sessions: sessionmaker[Session], call_id: str) -> list[str]:
    with db_sessions() as db:
        return list(
            db.scalars(
                select(StoredEvent.kind)
                .where(StoredEvent.call_id == call_id)
                .order_by(StoredEvent.seq)
            )
        )


def settled_kinds(db_sessions: sessionmaker[Session], call_id: str) -> list[str]:
    """The call's events once the caller's hang-up has been written (it is written off the
    SIP thread, a moment after SIPp has finished)."""
    deadline = time.monotonic() + 10
    while True:
        kinds = event_kinds(db_sessions, call_id)
        if "hangup" in kinds or time.monotonic() > deadline:
            return kinds
        time.sleep(0.2)


def outcomes(db_sessions: sessionmaker[Session], call_id: str) -> list[str]:
    with db_sessions() as db:
        rows = db.scalars(
            select(StoredEvent).where(StoredEvent.call_id == call_id, StoredEvent.kind == "outcome")
        ).all()
        return [str(row.data["outcome"]) for row in rows]


def call_once(sip: SipProcess, scenario: str, hotline: Hotline, workdir: Path) -> SippResult:
    result = run_sipp(scenario, sip.address, hotline.line_number, workdir, timeout_s=120)
    assert isinstance(result, SippResult)
    assert result.returncode == 0 and result.succeeded == 1, result.output[-3000:]
    return result


def test_rfc2833_keys_of_a_caller_with_no_danger_take_her_to_the_queue(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    sip = start_sip()

    call_once(sip, "caller_to_queue", hotline, sipp_dir)

    call = last_call(db_sessions, hotline)
    kinds = settled_kinds(db_sessions, call.id)
    assert kinds[0] == "started"
    assert kinds.count("digits") == 6
    assert "queued" in outcomes(db_sessions, call.id)
    assert kinds.index("outcome") < kinds.index("hangup")  # queued, then she hung up


def test_rfc2833_keys_of_a_caller_in_danger_now_reach_the_urgent_team(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    sip = start_sip()

    call_once(sip, "caller_to_urgent", hotline, sipp_dir)

    call = last_call(db_sessions, hotline)
    with db_sessions() as db:
        escalation = db.get(Escalation, f"call:{call.id}")
        assert escalation is not None
        assert escalation.team_id == hotline.team_id and escalation.reason == "severe_screen"
    assert "escalated" in outcomes(db_sessions, call.id)


def test_keys_sent_by_sip_info_are_heard_too(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    sip = start_sip()

    call_once(sip, "caller_info_keys", hotline, sipp_dir)

    call = last_call(db_sessions, hotline)
    kinds = settled_kinds(db_sessions, call.id)
    assert kinds.count("digits") == 2
    assert "queued" in outcomes(db_sessions, call.id)


@pytest.mark.slow
def test_a_silent_caller_is_handed_to_a_person_and_never_hung_up_on(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    sip = start_sip()

    call_once(sip, "silent_caller", hotline, sipp_dir)  # 55 s with no key, then her own BYE

    call = last_call(db_sessions, hotline)
    kinds = settled_kinds(db_sessions, call.id)
    assert "silence" in kinds
    assert "silent_call" in outcomes(db_sessions, call.id)
    with db_sessions() as db:
        escalation = db.get(Escalation, f"call:{call.id}")
        assert escalation is not None and escalation.reason == "silent_call"
    assert kinds.index("hangup") > kinds.index("silence")  # she hung up, after being routed
    assert "caller hung up" in sip.log()
