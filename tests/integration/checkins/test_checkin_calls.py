"""A check-in call as she lives it, and what each answer makes happen next."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from checkins.context import CheckinContext
from checkins.windows import next_safe_moment, parse_windows, window_end, zone
from runtime import Runtime
from store.clock import ManualClock
from store.records import Escalation
from store.vocabulary import RiskLevel
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline
from tests.integration.checkins.calls import (
    DURESS,
    PIN,
    answer,
    latest,
    let_it_ring,
    start_slot,
    supervisor_alerts,
)
from tests.integration.checkins.helpers import attempts_of, drain

WORKING_HOURS = [{"days": list(range(7)), "start": "09:00", "end": "15:00"}]


def escalations_for(runtime: Runtime, call_id: str | None) -> list[str]:
    with runtime.sessions() as db:
        return list(db.scalars(select(Escalation.reason).where(Escalation.call_id == call_id)))


def test_she_is_fine_and_talks_to_an_agent_so_the_slot_is_done(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    attempt = start_slot(ctx, clock, hotline)
    heard = answer(runtime, attempt, PIN + "#", "1")
    assert heard, "she hears the neutral greeting and menu"
    assert latest(ctx, hotline).outcome == "talk_now"
    let_it_ring(ctx, clock)  # the ring timeout finds the call answered: nothing more
    advance_day = clock.now() + timedelta(hours=6)
    clock.set(advance_day)
    drain(ctx.jobs, clock)
    assert len(attempts_of(ctx.sessions, hotline.beneficiary_id)) == 1


def test_not_now_moves_the_call_to_her_next_safe_window(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    attempt = start_slot(ctx, clock, hotline, windows=WORKING_HOURS)
    answer(runtime, attempt, PIN + "#", "2")
    first, follow = attempts_of(ctx.sessions, hotline.beneficiary_id)
    assert first.outcome == "call_later"
    windows, tz = parse_windows(WORKING_HOURS), zone("Europe/Madrid")
    closes = window_end(windows, tz, clock.now())
    assert closes is not None
    assert follow.slot == f"{first.slot}+1" and follow.attempt_no == 1
    assert follow.scheduled_at == next_safe_moment(windows, tz, closes)
    assert follow.scheduled_at > closes  # not again inside the window she said "not now" in


def test_help_now_reaches_the_urgent_team_and_ends_the_slot(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    attempt = start_slot(ctx, clock, hotline)
    answer(runtime, attempt, PIN + "#", "9")
    assert latest(ctx, hotline).outcome == "help_now"
    assert escalations_for(runtime, attempt.call_id) == ["checkin_help_now"]
    clock.advance(timedelta(hours=3))
    drain(ctx.jobs, clock)
    assert len(attempts_of(ctx.sessions, hotline.beneficiary_id)) == 1


def test_the_duress_code_sounds_like_a_normal_call_alerts_the_team_and_ends_the_slot(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    attempt = start_slot(ctx, clock, hotline)
    heard = answer(runtime, attempt, DURESS + "#")
    assert not any("urgent" in line.lower() for line in heard)
    assert escalations_for(runtime, attempt.call_id) == ["duress_code"]
    # Her "not now" after the duress code changes nothing: the team already has her.
    runtime.simulator.press(str(attempt.call_id), "2")
    assert latest(ctx, hotline).outcome == "duress"
    assert len(attempts_of(ctx.sessions, hotline.beneficiary_id)) == 1


def test_someone_else_hears_the_cover_script_and_is_not_called_again_in_that_window(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    attempt = start_slot(ctx, clock, hotline, windows=WORKING_HOURS)
    answer(runtime, attempt, "1111#", "0000#")
    call = runtime.simulator.get(str(attempt.call_id))
    assert call.status is PhoneStatus.ENDED
    first, follow = attempts_of(ctx.sessions, hotline.beneficiary_id)
    assert first.outcome == "not_verified"
    closes = window_end(parse_windows(WORKING_HOURS), zone("Europe/Madrid"), clock.now())
    assert closes is not None and follow.scheduled_at > closes
    assert not [a for a in supervisor_alerts(runtime) if a["kind"] == "checkin_unverified_twice"]


def test_someone_else_answering_twice_escalates_and_alerts_a_supervisor(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    attempt = start_slot(ctx, clock, hotline, windows=WORKING_HOURS)
    answer(runtime, attempt, "1111#", "0000#")
    follow = latest(ctx, hotline)
    clock.set(follow.scheduled_at)
    drain(ctx.jobs, clock)
    second = latest(ctx, hotline)
    assert second.id == follow.id and second.call_id is not None
    answer(runtime, second, "9999#", "9999#")
    assert latest(ctx, hotline).outcome == "not_verified"
    assert len(attempts_of(ctx.sessions, hotline.beneficiary_id)) == 2  # no third call
    with runtime.sessions() as db:
        escalation = db.get(Escalation, f"unverified:{second.id}")
    assert escalation is not None and escalation.reason == "checkin_unverified_twice"
    alerts = [a for a in supervisor_alerts(runtime) if a["kind"] == "checkin_unverified_twice"]
    assert alerts and alerts[0]["beneficiary_id"] == hotline.beneficiary_id


def test_a_verified_answer_in_between_breaks_the_run_of_unverified_answers(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    attempt = start_slot(ctx, clock, hotline, windows=WORKING_HOURS)
    answer(runtime, attempt, "1111#", "0000#")
    follow = latest(ctx, hotline)
    clock.set(follow.scheduled_at)
    drain(ctx.jobs, clock)
    answer(runtime, latest(ctx, hotline), PIN + "#", "2")  # her, verified: "not now"
    later = latest(ctx, hotline)
    clock.set(later.scheduled_at)
    drain(ctx.jobs, clock)
    answer(runtime, latest(ctx, hotline), "1111#", "0000#")
    assert not [a for a in supervisor_alerts(runtime) if a["kind"] == "checkin_unverified_twice"]


def test_an_answering_machine_hears_nothing_and_the_ladder_goes_on(
    runtime: Runtime, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    attempt = start_slot(ctx, clock, hotline, risk=RiskLevel.ALTO)
    call = runtime.simulator.answer(str(attempt.call_id), machine=True)
    assert call.heard() == []  # never a voicemail
    assert call.status is PhoneStatus.ENDED
    first, second = attempts_of(ctx.sessions, hotline.beneficiary_id)
    assert first.outcome == "machine"
    assert second.attempt_no == 2
    assert first.started_at is not None
    assert second.scheduled_at == first.started_at + timedelta(minutes=10)
