"""A scripted caller for IVR tests: sends events to the pure engine and keeps the log."""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr_flows import load_builtin, step
from ivr_flows.actions import Action, Escalate, Gather, Say, is_terminal
from ivr_flows.definition import Flow
from ivr_flows.events import (
    CallerContext,
    CallEvent,
    EventKind,
    Location,
    PinResult,
    RecordingDecision,
)
from ivr_flows.state import CallState
from store.vocabulary import AlarmType, Channel, RiskLevel


def context(
    *,
    line_locale: str = "es",
    preferred: str | None = None,
    hint: str | None = None,
    stored: RiskLevel | None = None,
    beneficiary: str | None = None,
) -> CallerContext:
    return CallerContext(
        line_locale=line_locale,
        beneficiary_id=beneficiary,
        stored_risk=stored,
        preferred_locale=preferred,
        number_locale_hint=hint,
    )


@dataclass
class Call:
    """One call through ``flow``: every event goes through ``step`` and into ``log``."""

    flow: Flow
    call_id: str = "call-1"
    clock: float = 1_700_000_000.0
    state: CallState | None = None
    log: list[CallEvent] = field(default_factory=list)
    heard: list[Action] = field(default_factory=list)

    @classmethod
    def of(cls, name: str) -> Call:
        return cls(load_builtin(name))

    def send(self, kind: EventKind, **payload: object) -> tuple[Action, ...]:
        self.clock += 4.0
        event = CallEvent(kind=kind, call_id=self.call_id, at=self.clock, **payload)  # type: ignore[arg-type]
        self.log.append(event)
        self.state, actions = step(self.flow, self.state, event)
        self.heard.extend(actions)
        return actions

    def start(
        self,
        caller: CallerContext | None = None,
        recording: RecordingDecision | None = None,
        from_number: str | None = None,
    ) -> tuple[Action, ...]:
        return self.send(
            EventKind.STARTED,
            caller=caller or context(),
            recording=recording,
            from_number=from_number,
            channel=Channel.SIMULATOR,
        )

    def answer(self, caller: CallerContext | None = None) -> tuple[Action, ...]:
        return self.send(EventKind.ANSWERED, caller=caller or context(), channel=Channel.TWILIO)

    def alarm(
        self,
        alarm_type: AlarmType | None,
        location: Location | None = None,
        caller: CallerContext | None = None,
    ) -> tuple[Action, ...]:
        return self.send(
            EventKind.ALARM, alarm_type=alarm_type, location=location, caller=caller or context()
        )

    def press(self, digits: str) -> tuple[Action, ...]:
        return self.send(EventKind.DIGITS, digits=digits)

    def pin(self, result: PinResult | None) -> tuple[Action, ...]:
        return self.send(EventKind.DIGITS, digits="", pin_result=result)

    def silence(self) -> tuple[Action, ...]:
        return self.send(EventKind.SILENCE)

    def hang_up(self) -> tuple[Action, ...]:
        return self.send(EventKind.HANGUP)

    @property
    def current(self) -> CallState:
        assert self.state is not None
        return self.state


def terminal(actions: tuple[Action, ...]) -> Action | None:
    ends = [action for action in actions if is_terminal(action)]
    assert len(ends) <= 1, ends
    if ends:
        assert actions[-1] is ends[0], "a terminal action is always last"
    return ends[0] if ends else None


def spoken(actions: tuple[Action, ...] | list[Action]) -> list[tuple[str, str]]:
    """(message_id, locale) of every prompt, including those a gather plays."""
    out: list[tuple[str, str]] = []
    for action in actions:
        if isinstance(action, Say):
            out.append((action.message_id, action.locale))
        elif isinstance(action, Gather):
            out.extend((p.message_id, p.locale) for p in action.prompts if isinstance(p, Say))
    return out


def escalations(actions: tuple[Action, ...] | list[Action]) -> list[Escalate]:
    return [action for action in actions if isinstance(action, Escalate)]


def to_screen(call: Call, language_key: str | None = None) -> None:
    """Start an inbound call and get to the first screen question (optionally choosing a
    language on the menu)."""
    call.start()
    if language_key is not None:
        call.press(language_key)
    else:
        call.press("1")
    assert call.current.current == "q_safe_to_talk"
