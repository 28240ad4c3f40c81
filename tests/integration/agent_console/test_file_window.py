"""An agent opens a woman's file during her call and for a while after it, not for every call
she ever answered: an insider (or whoever holds her session) cannot browse old callers'
files. Supervisors, who review cases, still can. Every refusal is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.records import AuditEntry, Call
from store.vocabulary import Channel, Direction
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import SignedIn


def _her_call(
    sessions: sessionmaker[Session], hotline: Hotline, agent_id: str, ended_ago: timedelta | None
) -> str:
    now = datetime.now(UTC)
    with sessions() as db, db.begin():
        call = Call(
            line_id=hotline.line_id,
            direction=Direction.INBOUND.value,
            channel=Channel.SIMULATOR.value,
            status="on_call" if ended_ago is None else "completed",
            agent_id=agent_id,
            beneficiary_id=hotline.beneficiary_id,
            answered_at=now - timedelta(hours=5),
            ended_at=None if ended_ago is None else now - ended_ago,
        )
        db.add(call)
        db.flush()
        return call.id


@pytest.mark.parametrize(
    ("ended_ago", "status"),
    [
        (None, 200),
        (timedelta(minutes=30), 200),
        (timedelta(minutes=119), 200),
        (timedelta(hours=2, minutes=5), 403),
        (timedelta(days=90), 403),
    ],
)
def test_her_file_opens_during_the_call_and_two_hours_after_it(
    agent: SignedIn,
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    ended_ago: timedelta | None,
    status: int,
) -> None:
    call_id = _her_call(db_sessions, hotline, agent.account.agent_id, ended_ago)
    answer = agent.post(f"/console/api/calls/{call_id}/file")
    assert answer.status_code == status
    if status == 403:
        assert answer.json["error_id"] == "console.file_closed"
        assert "Test Beneficiary" not in answer.get_data(as_text=True)
        with db_sessions() as db:
            refused = db.scalar(
                select(AuditEntry).where(
                    AuditEntry.action == "beneficiary_file_refused",
                    AuditEntry.actor_id == agent.account.agent_id,
                )
            )
            assert refused is not None and refused.detail["call_id"] == call_id


def test_a_supervisor_opens_an_old_calls_file(
    agent: SignedIn, supervisor: SignedIn, hotline: Hotline, db_sessions: sessionmaker[Session]
) -> None:
    call_id = _her_call(db_sessions, hotline, agent.account.agent_id, timedelta(days=90))
    answer = supervisor.post(f"/console/api/calls/{call_id}/file")
    assert answer.status_code == 200
    assert answer.json["full_name"] == "Test Beneficiary"
