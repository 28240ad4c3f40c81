"""The closed set of things the engine asks an adapter to do (DESIGN.md, "One inbound call").

Every adapter (TwiML renderer, pjsua2 media ops, simulator script) renders exactly these, in
order. The order is what the caller experiences:

* ``Say``/``Play`` are heard one after the other;
* ``Gather`` waits for keys, playing its own ``prompts`` so the caller can press a key while
  they play (barge-in); its result comes back as a ``digits`` event, its timeout as ``silence``;
* ``SetLocale`` changes the language of what follows, ``Record`` starts recording;
* ``Escalate`` with ``connect_caller=False`` starts the urgent team's ladder without moving the
  caller (the duress path), so the call goes on sounding normal;
* ``Enqueue``, ``Escalate`` (connecting the caller), ``Dial`` and ``Hangup`` end the flow: the
  call is with a human, on its way to one, or safely over. They are always last.

Targets are symbolic ("fallback", "urgent"): phone numbers live in line configuration, never in
flows or actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias, get_args

from ivr_flows.errors import ActionInvalid
from ivr_flows.events import Location
from ivr_flows.state import CallFlag
from store.vocabulary import AlarmType, RiskLevel


@dataclass(frozen=True)
class Say:
    """Speak prompt ``message_id`` (a key of the ``prompts`` catalog) in ``locale``."""

    kind: ClassVar[str] = "say"
    message_id: str
    locale: str
    params: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.kind,
            "message_id": self.message_id,
            "locale": self.locale,
        }
        if self.params:
            data["params"] = dict(self.params)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Say:
        params = data.get("params") or {}
        return cls(
            message_id=str(data["message_id"]),
            locale=str(data["locale"]),
            params={str(k): str(v) for k, v in params.items()},
        )


@dataclass(frozen=True)
class Play:
    """Play a named recorded prompt (a file the adapter knows, e.g. ``hold_music``)."""

    kind: ClassVar[str] = "play"
    prompt: str

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.kind, "prompt": self.prompt}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Play:
        return cls(prompt=str(data["prompt"]))


@dataclass(frozen=True)
class Gather:
    """Wait for keypad input while playing ``prompts``.

    ``secret`` marks a PIN: the adapter must not log or store the digits and must send them
    to the check-in service, putting only the comparison result in the ``digits`` event.
    """

    kind: ClassVar[str] = "gather"
    num_digits: int
    timeout_s: float
    finish_on_key: str | None = None
    prompts: tuple[Say | Play, ...] = ()
    secret: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.kind,
            "num_digits": self.num_digits,
            "timeout_s": self.timeout_s,
            "prompts": [prompt.to_dict() for prompt in self.prompts],
            "secret": self.secret,
        }
        if self.finish_on_key is not None:
            data["finish_on_key"] = self.finish_on_key
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Gather:
        prompts: list[Say | Play] = []
        for item in data.get("prompts") or ():
            prompt = action_from_dict(item)
            if not isinstance(prompt, Say | Play):
                raise ActionInvalid("a gather prompt must be say or play")
            prompts.append(prompt)
        finish = data.get("finish_on_key")
        return cls(
            num_digits=int(data["num_digits"]),
            timeout_s=float(data["timeout_s"]),
            finish_on_key=None if finish is None else str(finish),
            prompts=tuple(prompts),
            secret=bool(data.get("secret", False)),
        )


def _flags_to_list(flags: frozenset[CallFlag]) -> list[str]:
    return sorted(flag.value for flag in flags)


def _flags_from(data: Mapping[str, Any]) -> frozenset[CallFlag]:
    return frozenset(CallFlag(flag) for flag in data.get("flags") or ())


def _screen_from(data: Mapping[str, Any]) -> Mapping[str, str]:
    return {str(k): str(v) for k, v in (data.get("screen") or {}).items()}


@dataclass(frozen=True)
class Enqueue:
    """Put the caller in ``queue`` for a human; routing orders by ``priority`` (higher first)."""

    kind: ClassVar[str] = "enqueue"
    queue: str
    priority: int
    risk: RiskLevel
    flags: frozenset[CallFlag] = frozenset()
    locale: str = "es"
    screen: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.kind,
            "queue": self.queue,
            "priority": self.priority,
            "risk": self.risk.value,
            "flags": _flags_to_list(self.flags),
            "locale": self.locale,
            "screen": dict(self.screen),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Enqueue:
        return cls(
            queue=str(data["queue"]),
            priority=int(data["priority"]),
            risk=RiskLevel(data["risk"]),
            flags=_flags_from(data),
            locale=str(data.get("locale", "es")),
            screen=_screen_from(data),
        )


@dataclass(frozen=True)
class Escalate:
    """Hand the call to an urgent team's escalation ladder at once.

    With ``connect_caller`` the caller waits on the line for the team (a terminal action);
    without it the ladder starts while the call carries on as if nothing happened (duress).
    """

    kind: ClassVar[str] = "escalate"
    team: str
    reason: str
    risk: RiskLevel
    priority: int
    flags: frozenset[CallFlag] = frozenset()
    locale: str = "es"
    connect_caller: bool = True
    alarm_type: AlarmType | None = None
    location: Location | None = field(default=None, repr=False)
    screen: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.kind,
            "team": self.team,
            "reason": self.reason,
            "risk": self.risk.value,
            "priority": self.priority,
            "flags": _flags_to_list(self.flags),
            "locale": self.locale,
            "connect_caller": self.connect_caller,
            "screen": dict(self.screen),
        }
        if self.alarm_type is not None:
            data["alarm_type"] = self.alarm_type.value
        if self.location is not None:
            data["location"] = self.location.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Escalate:
        alarm = data.get("alarm_type")
        return cls(
            team=str(data["team"]),
            reason=str(data["reason"]),
            risk=RiskLevel(data["risk"]),
            priority=int(data["priority"]),
            flags=_flags_from(data),
            locale=str(data.get("locale", "es")),
            connect_caller=bool(data.get("connect_caller", True)),
            alarm_type=None if alarm is None else AlarmType(alarm),
            location=Location.from_dict(data["location"]) if data.get("location") else None,
            screen=_screen_from(data),
        )


@dataclass(frozen=True)
class Dial:
    """Connect the caller to a configured destination by name (``fallback``, ``overflow``)."""

    kind: ClassVar[str] = "dial"
    target: str
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.kind, "target": self.target, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dial:
        return cls(target=str(data["target"]), reason=str(data.get("reason", "")))


@dataclass(frozen=True)
class Join:
    """Put the person on this call into the live call the call is about: an urgent-team member
    who took a woman's call from an alert on her phone. Which call is the edge's to look up
    (``CallTurn.join_call``), never the flow's."""

    kind: ClassVar[str] = "join"
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.kind, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Join:
        return cls(reason=str(data.get("reason", "")))


@dataclass(frozen=True)
class Record:
    """Start recording under the named recordings policy."""

    kind: ClassVar[str] = "record"
    policy: str
    pause_during: tuple[str, ...] = ()
    """Moments the edge pauses the recording for (an outside service on the call)."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.kind, "policy": self.policy}
        if self.pause_during:
            data["pause_during"] = list(self.pause_during)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        pauses = tuple(str(moment) for moment in data.get("pause_during", ()))
        return cls(policy=str(data["policy"]), pause_during=pauses)


@dataclass(frozen=True)
class SetLocale:
    """From here on, prompts and agent skills use ``locale``."""

    kind: ClassVar[str] = "set_locale"
    locale: str

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.kind, "locale": self.locale}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SetLocale:
        return cls(locale=str(data["locale"]))


@dataclass(frozen=True)
class Hangup:
    """End the call: only ever an explicit, safe end (never after silence on inbound lines)."""

    kind: ClassVar[str] = "hangup"
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.kind, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hangup:
        return cls(reason=str(data["reason"]))


Action: TypeAlias = (
    Say | Play | Gather | Enqueue | Escalate | Dial | Join | Record | SetLocale | Hangup
)
"""The closed set. Each edge handles it in one ``match`` ending in ``case _: assert_never``, so
a new member fails type-checking in every edge that does not handle it yet."""

_ACTION_TYPES: dict[str, type[Action]] = {cls.kind: cls for cls in get_args(Action)}

ACTION_KINDS = frozenset(_ACTION_TYPES)


def action_from_dict(data: Mapping[str, Any]) -> Action:
    """Rebuild any action from its ``to_dict`` form; unknown kinds are refused."""
    try:
        cls = _ACTION_TYPES[str(data["action"])]
        return cls.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ActionInvalid(f"unreadable action: {exc}") from exc


def is_terminal(action: Action) -> bool:
    """True for actions that end the flow: the caller is with (or on the way to) a human or gone."""
    if isinstance(action, Escalate):
        return action.connect_caller
    return isinstance(action, Enqueue | Dial | Join | Hangup)


def reaches_human(action: Action) -> bool:
    """True for actions that put the caller in front of a person."""
    if isinstance(action, Escalate):
        return action.connect_caller
    return isinstance(action, Enqueue | Dial | Join)
