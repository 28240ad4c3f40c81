"""Safety rule 1 on SIP: when the switchboard's turn raises, or does not come back within the
turn watchdog's deadline, the caller is sent to her line's overflow number, as Twilio's fallback
``Dial`` does: dialled through the trunk and bridged, or, with no trunk, handed back with REFER.
She is never hung up on: SIPp counts a BYE it did not expect as a failed call."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.records import Call
from tests.e2e.sip.peers import SippResult, SipProcess, events_of, run_sipp, sipp_phone
from tests.harness.hotline import Hotline


def failing_sip(mode: str) -> list[str]:
    return ["-m", "tests.e2e.sip.failing_sip", mode]


def test_a_turn_that_raises_dials_the_lines_overflow_number_through_the_trunk(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    sipp_dir: Path,
) -> None:
    with sipp_phone("overflow_answer", sipp_dir, timeout_s=90) as overflow:
        sip = start_sip(failing_sip("raises"), AMPARO_SIP_TRUNK=overflow.trunk)

        caller = run_sipp("caller_to_queue", sip.address, hotline.line_number, sipp_dir)
        answered = overflow.result(timeout=60)

    assert isinstance(caller, SippResult)
    assert caller.returncode == 0 and caller.succeeded == 1, caller.output[-3000:]
    # The INVITE was for +34900000002; bridged; Amparo's BYE once she hung up.
    assert answered.returncode == 0, answered.output[-3000:]
    log = sip.log()
    assert "turn failed (RuntimeError); sending the caller to the overflow" in log
    assert "the switchboard is down" not in log  # the exception's text is not logged
    assert hotline.line_number not in log


def test_a_turn_that_hangs_hands_the_caller_to_the_overflow_number_with_refer(
    start_sip: Callable[..., SipProcess],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    sipp_dir: Path,
) -> None:
    sip = start_sip(failing_sip("hangs"))  # no trunk: REFER back to whoever sent the call

    started = time.monotonic()
    caller = run_sipp("caller_refer", sip.address, hotline.line_number, sipp_dir, timeout_s=60)

    assert isinstance(caller, SippResult)
    # REFER to sip:+34900000002@..., 202, then her own BYE.
    assert caller.returncode == 0 and caller.succeeded == 1, caller.output[-3000:]
    assert time.monotonic() - started < 30
    assert "no turn within 5 s; sending the caller to the overflow" in sip.log()
    # The late turn opened the call after she had left: it is closed, not left in the IVR.
    call_id = _call_of(db_sessions, hotline, timeout_s=20)
    kinds = [event.kind for event in events_of(db_sessions, call_id, until="hangup")]
    assert kinds[0] == "started" and "hangup" in kinds
    assert "a turn came back too late; not played" in sip.log()


def _call_of(db_sessions: sessionmaker[Session], hotline: Hotline, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with db_sessions() as db:
            found = db.scalars(select(Call.id).where(Call.line_id == hotline.line_id)).first()
        if found is not None:
            return str(found)
        time.sleep(0.3)
    raise AssertionError("the late turn never opened the call")
