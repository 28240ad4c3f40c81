"""The IVR engine: ``step(flow, state, event) -> (state, actions)``, a pure function.

No I/O and no clock: time arrives in the event, the flow and the state are immutable values,
so the same event log always rebuilds the same state (``ivr_flows.session.replay``).

The engine runs a call through automatic states (say, locale, recording, triage...) until the
call waits at a ``gather`` or reaches an end (enqueue, escalate, dial, hangup). Safety rules
it keeps whatever the flow says:

* any internal failure (a broken flow, a lost session, an impossible event) ends in
  ``Dial("fallback")``: the static route to the overflow/urgent number, never silence;
* risk and priority are only ever raised;
* a caller who hangs up after a positive screen answer, before reaching a human, still
  reaches the urgent team (``Escalate`` without connecting the caller).
"""

from __future__ import annotations

from dataclasses import replace

from ivr_flows.actions import (
    Action,
    Dial,
    Enqueue,
    Escalate,
    Gather,
    Hangup,
    Join,
    Play,
    Record,
    Say,
    SetLocale,
)
from ivr_flows.definition import CALLBACK_OFFER_EVENT, Flow, StateDef, StateType
from ivr_flows.events import CallerContext, CallEvent, EventKind, PinResult
from ivr_flows.state import CallFlag, CallState, Outcome
from ivr_flows.triage import (
    Answer,
    Question,
    Severity,
    assess,
    is_positive,
    parse_answers,
    priority_for,
    risk_for_alarm,
)
from locales.selection import choose_locale, locale_hint_for_number
from store.vocabulary import RiskLevel

MAX_AUTOMATIC_STATES = 64
FALLBACK_TARGET = "fallback"
URGENT_TEAM = "urgent"
_TRIGGER_KINDS = frozenset(
    {EventKind.STARTED, EventKind.ALARM, EventKind.ANSWERED, EventKind.MACHINE}
)
_PIN_EVENTS = {
    PinResult.OK: "pin_ok",
    PinResult.WRONG: "pin_wrong",
    PinResult.DURESS: "pin_duress",
}

Step = tuple[CallState, tuple[Action, ...]]


class _FlowBroken(Exception):
    """The flow or the stored state cannot carry this event on: take the fallback path."""


def step(flow: Flow, state: CallState | None, event: CallEvent) -> Step:
    """Apply ``event`` to a call; ``state`` is None for the first event of a call."""
    try:
        return _step(flow, state, event)
    except Exception:  # every failure must still route the caller (safety rule 1)
        return _fallback(flow, state, event)


def _seen(state: CallState, event: CallEvent) -> CallState:
    return replace(
        state,
        events_seen=state.events_seen + 1,
        last_event_at=event.at,
        started_at=state.started_at if state.started_at is not None else event.at,
    )


def initial_state(flow: Flow, event: CallEvent) -> CallState:
    """The state of a call before its first event, built from the caller context only."""
    context = event.caller or CallerContext()
    hint = context.number_locale_hint or locale_hint_for_number(event.from_number)
    locale = choose_locale(context.preferred_locale, hint, context.line_locale)
    risk = context.stored_risk or RiskLevel.NO_APRECIADO
    flags = {CallFlag.KNOWN_BENEFICIARY} if context.beneficiary_id else set()
    recording = event.recording
    return CallState(
        call_id=event.call_id,
        flow=flow.name,
        locale=locale,
        risk=risk,
        stored_risk=context.stored_risk,
        priority=priority_for(risk),
        flags=frozenset(flags),
        recording_policy=recording.policy if recording and recording.record else None,
        recording_notice=recording.notice_message_id if recording else None,
        recording_consent_required=bool(recording and recording.consent_required),
        recording_pauses=recording.pause_during if recording and recording.record else (),
    )


def _fallback(flow: Flow, state: CallState | None, event: CallEvent) -> Step:
    if state is None or state.call_id != event.call_id:
        try:
            state = initial_state(flow, event)
        except Exception:
            state = CallState(call_id=event.call_id or "unknown", flow=flow.name, locale="es")
    state = _seen(state, event)
    if state.ended or event.kind is EventKind.HANGUP:
        return replace(state, ended=True, current=None), ()
    ended = replace(state, ended=True, current=None, outcomes=(*state.outcomes, Outcome.FALLBACK))
    return ended, (Dial(target=FALLBACK_TARGET, reason="ivr_fallback"),)


def _step(flow: Flow, state: CallState | None, event: CallEvent) -> Step:
    if state is None:
        state = initial_state(flow, event)
    elif state.flow != flow.name or state.call_id != event.call_id:
        raise _FlowBroken("state belongs to another call or flow")
    if state.ended:
        return _seen(state, event), ()
    if event.kind is EventKind.HANGUP:
        return _caller_hung_up(state, event)
    if state.current is None:
        return _start(flow, state, event)
    current = flow.states.get(state.current)
    if current is None or current.type is not StateType.GATHER:
        raise _FlowBroken("stored state does not wait at a gather of this flow")
    return _answer(flow, current, _seen(state, event), event)


def _start(flow: Flow, state: CallState, event: CallEvent) -> Step:
    target = flow.trigger.target(event.kind.value)
    if target is None:
        if event.kind in _TRIGGER_KINDS:
            return _seen(state, event), ()  # e.g. "started" ringing before "answered"
        raise _FlowBroken("input before the call started: the session was lost")
    state = _seen(state, event)
    if event.kind is EventKind.ALARM:
        state = _raise_risk(state, risk_for_alarm(event.alarm_type))
    actions: list[Action] = []
    return _run(flow, state, target, event, actions, invalid_count=0)


def _classify(current: StateDef, event: CallEvent) -> str | None:
    """The gather transition an event means, or None when it does not concern the gather."""
    if event.kind is EventKind.SILENCE:
        return "timeout"
    if event.kind is EventKind.SPEECH:
        return "invalid"
    if event.kind is not EventKind.DIGITS:
        return None
    if current.is_pin:
        return _PIN_EVENTS.get(event.pin_result, "invalid") if event.pin_result else "invalid"
    if current.is_take:
        return event.take_result.value if event.take_result else "invalid"
    digits = (event.digits or "").strip()
    finish = current.properties.finish_on_key
    if finish and digits.endswith(finish) and len(digits) > 1:
        digits = digits[: -len(finish)]
    key = f"keypress:{digits}"
    return key if digits and current.target(key) else "invalid"


def _record_answer(current: StateDef, state: CallState, transition: str) -> CallState:
    props = current.properties
    if not props.question or props.question not in Question.__members__.values():
        return state
    question = Question(props.question)
    if transition == "timeout":
        answer = Answer.NO_ANSWER
    elif transition.removeprefix("keypress:") in props.answers:
        answer = Answer(props.answers[transition.removeprefix("keypress:")])
    else:
        return state
    previous = parse_answers(state.answers).get(question)
    if previous is not None and is_positive(question, previous):
        return state  # a danger signal once given is never taken back by automation
    answers = tuple(pair for pair in state.answers if pair[0] != question.value)
    return replace(state, answers=(*answers, (question.value, answer.value)))


def _answer(flow: Flow, current: StateDef, state: CallState, event: CallEvent) -> Step:
    transition = _classify(current, event)
    if transition is None:
        return state, ()
    state = _record_answer(current, state, transition)
    actions: list[Action] = []
    invalid_count = 0
    props = current.properties
    if transition == "invalid":
        invalid_count = state.invalid_count + 1
        if props.max_invalid and invalid_count >= props.max_invalid:
            transition = "too_many_invalid"
            state = replace(state, flags=state.flags | {CallFlag.REPEATED_INVALID})
        elif props.invalid_message:
            actions.append(Say(props.invalid_message, state.locale))
    target = current.target(transition)
    if target is None:
        raise _FlowBroken(f"gather {current.name} has no {transition!r} transition")
    return _run(flow, state, target, event, actions, invalid_count=invalid_count)


def _caller_hung_up(state: CallState, event: CallEvent) -> Step:
    state = _seen(state, event)
    ended = replace(
        state, ended=True, current=None, outcomes=(*state.outcomes, Outcome.CALLER_HUNG_UP)
    )
    assessment = assess(parse_answers(state.answers), current=state.risk, stored=state.stored_risk)
    if state.escalated or (
        assessment.severity is Severity.STANDARD and CallFlag.SILENT not in state.flags
    ):
        return ended, ()
    alert = Escalate(
        team=URGENT_TEAM,
        reason="hung_up_at_risk",
        risk=assessment.risk,
        priority=max(state.priority, assessment.priority),
        flags=state.flags | assessment.flags,
        locale=state.locale,
        connect_caller=False,
        screen=dict(state.answers),
    )
    return replace(ended, escalated=True), (alert,)


def _raise_risk(state: CallState, risk: RiskLevel, *, priority: int = 0) -> CallState:
    raised = state.risk.raised_to(risk)
    return replace(state, risk=raised, priority=max(state.priority, priority_for(raised), priority))


def _apply_common(state_def: StateDef, state: CallState) -> CallState:
    props = state_def.properties
    if props.flags:
        state = replace(state, flags=state.flags | props.flags)
    if props.raise_risk_to is not None:
        state = _raise_risk(state, props.raise_risk_to)
    if props.outcome is not None:
        state = replace(state, outcomes=(*state.outcomes, props.outcome))
    return state


def _says(state_def: StateDef, state: CallState) -> list[Say]:
    return [
        Say(prompt.message_id, prompt.locale or state.locale, dict(prompt.params))
        for prompt in state_def.properties.messages
    ]


def _extend(actions: list[Action], new: list[Say]) -> None:
    """Append prompts, skipping one identical to the prompt just before it."""
    for say in new:
        if not actions or actions[-1] != say:
            actions.append(say)


def _next(state_def: StateDef, event: str) -> str:
    target = state_def.target(event)
    if target is None:
        raise _FlowBroken(f"state {state_def.name} has no {event!r} transition")
    return target


def _end(state: CallState, default: Outcome) -> CallState:
    outcomes = state.outcomes if state.outcomes else (default,)
    return replace(state, ended=True, current=None, invalid_count=0, outcomes=outcomes)


def _run(
    flow: Flow,
    state: CallState,
    name: str,
    event: CallEvent,
    actions: list[Action],
    *,
    invalid_count: int,
) -> Step:
    previous = state.current
    for _ in range(MAX_AUTOMATIC_STATES):
        state_def = flow.states[name]
        state = _apply_common(state_def, state)
        props = state_def.properties
        kind = state_def.type
        if kind is StateType.SAY:
            _extend(actions, _says(state_def, state))
        elif kind is StateType.PLAY and props.prompt:
            actions.append(Play(props.prompt))
        elif kind is StateType.CHOOSE_LOCALE:
            actions.append(SetLocale(state.locale))
        elif kind is StateType.SET_LOCALE and props.locale:
            state = replace(state, locale=props.locale)
            actions.append(SetLocale(props.locale))
        elif kind is StateType.RECORDING_NOTICE:
            if state.recording_policy and state.recording_consent_required:
                name = _next(state_def, "consent")
                continue
            if state.recording_policy and not state.recording_started:
                if state.recording_notice:
                    _extend(actions, [Say(state.recording_notice, state.locale)])
                actions.append(Record(state.recording_policy, state.recording_pauses))
                state = replace(state, recording_started=True)
        elif kind is StateType.RECORD:
            if state.recording_policy and not state.recording_started:
                actions.append(Record(state.recording_policy, state.recording_pauses))
                state = replace(state, recording_started=True)
        elif kind is StateType.TRIAGE:
            result = assess(
                parse_answers(state.answers), current=state.risk, stored=state.stored_risk
            )
            state = _raise_risk(state, result.risk, priority=result.priority)
            state = replace(state, flags=state.flags | result.flags)
            severity = result.severity.value
            if (
                severity == "standard"
                and event.callback_offer
                and state_def.target(CALLBACK_OFFER_EVENT) is not None
            ):
                severity = CALLBACK_OFFER_EVENT
            name = _next(state_def, severity)
            continue
        elif kind is StateType.GATHER:
            count = invalid_count if name == previous else 0
            actions.append(
                Gather(
                    num_digits=props.num_digits,
                    timeout_s=props.timeout_s or 8.0,
                    finish_on_key=props.finish_on_key,
                    prompts=tuple(_says(state_def, state)),
                    secret=state_def.is_pin,
                )
            )
            return replace(state, current=name, invalid_count=count), tuple(actions)
        elif kind is StateType.ENQUEUE:
            _extend(actions, _says(state_def, state))
            actions.append(
                Enqueue(
                    queue=props.queue or "general",
                    priority=state.priority,
                    risk=state.risk,
                    flags=state.flags,
                    locale=state.locale,
                    screen=dict(state.answers),
                )
            )
            return _end(state, Outcome.QUEUED), tuple(actions)
        elif kind is StateType.ESCALATE:
            _extend(actions, _says(state_def, state))
            alarm = event.kind is EventKind.ALARM
            actions.append(
                Escalate(
                    team=props.team or URGENT_TEAM,
                    reason=props.reason or state_def.name,
                    risk=state.risk,
                    priority=state.priority,
                    flags=state.flags,
                    locale=state.locale,
                    connect_caller=props.connect_caller,
                    alarm_type=event.alarm_type if alarm else None,
                    location=event.location if alarm else None,
                    screen=dict(state.answers),
                )
            )
            state = replace(state, escalated=True)
            if props.connect_caller:
                return _end(state, Outcome.ESCALATED), tuple(actions)
        elif kind is StateType.DIAL:
            _extend(actions, _says(state_def, state))
            actions.append(Dial(target=props.target or FALLBACK_TARGET, reason=state_def.name))
            return _end(state, Outcome.QUEUED), tuple(actions)
        elif kind is StateType.JOIN:
            _extend(actions, _says(state_def, state))
            actions.append(Join(reason=state_def.name))
            return _end(state, Outcome.COMPLETED), tuple(actions)
        elif kind is StateType.HANGUP:
            _extend(actions, _says(state_def, state))
            actions.append(Hangup(reason=props.reason or state_def.name))
            return _end(state, Outcome.COMPLETED), tuple(actions)
        else:
            raise _FlowBroken(f"state {name} of type {kind.value} cannot run here")
        name = _next(state_def, "next")
    raise _FlowBroken("too many states without waiting for the caller")
