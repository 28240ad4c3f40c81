"""The console's call control on a SIP bridge, on the conference links alone: on hold the
caller hears only the hold loop (not the agent, not a barging supervisor) while a whispering
supervisor still reaches the agent; resume links everyone back; the agent's hang-up on hold
leaves the caller on hold; the console's end hangs up every leg and is logged once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.importorskip("pjsua2")

from telephony.sip.bridge import Bridge, MonitorMode, SupervisorLeg
from telephony.sip.call_control import CallControl
from telephony.sip.interpreters import InterpreterLeg
from telephony.sip.media import CallAudio

Links = set[tuple[str, str]]


@dataclass(eq=False)
class Port:
    """A conference port: ``startTransmit`` adds a link from this port to ``sink``."""

    name: str
    links: Links

    def startTransmit(self, sink: Port) -> None:
        self.links.add((self.name, sink.name))

    def stopTransmit(self, sink: Port) -> None:
        self.links.discard((self.name, sink.name))


@dataclass
class FakeLeg:
    media: Any
    hung_up: bool = False

    def end(self, status: int = 0) -> None:
        self.hung_up = True


@dataclass
class Caller:
    """The caller's session as a bridge sees it (``bridge.BridgedCaller``)."""

    leg: FakeLeg
    audio: CallAudio
    call_id: str = "call-1"
    ended: bool = False
    bridge: Bridge | None = None
    left_alone_by: list[str] = field(default_factory=list)

    def bridged(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.audio.stop_hold()

    def unbridged(self) -> None:
        self.bridge = None
        self.audio.hold()

    def person_unanswered(self, person_id: str, reason: str = "agent_unanswered") -> None:
        raise AssertionError("an answered agent is not unanswered")

    def alone_on_hold(self, person_id: str) -> None:
        self.left_alone_by.append(person_id)


@dataclass
class Host:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def log_event(self, call_id: str, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))


def heard_by(links: Links, name: str) -> set[str]:
    return {source for source, sink in links if sink == name}


@pytest.fixture
def call() -> tuple[Bridge, Caller, Host, Links]:
    links: Links = set()
    caller_port, agent_port = Port("caller", links), Port("agent", links)
    audio = CallAudio(Port("hold_loop", links))
    audio.attach(caller_port)
    caller = Caller(FakeLeg(caller_port), audio)
    audio.hold()  # waiting for a person
    host = Host()
    agent = FakeLeg(agent_port)
    bridge = Bridge(host, caller, agent, "agent-1")  # type: ignore[arg-type]
    bridge.leg_media(agent, agent_port)  # type: ignore[arg-type]
    return bridge, caller, host, links


def add_supervisor(bridge: Bridge, links: Links, name: str, mode: MonitorMode) -> FakeLeg:
    leg = FakeLeg(Port(name, links))
    supervisor = SupervisorLeg(bridge, leg, name, mode)  # type: ignore[arg-type]
    bridge.add_supervisor(supervisor)
    bridge.connect_supervisor(supervisor)
    return leg


def test_on_hold_the_caller_hears_only_the_hold_loop_and_resume_links_everyone_back(
    call: tuple[Bridge, Caller, Host, Links],
) -> None:
    bridge, _, host, links = call
    add_supervisor(bridge, links, "barging", MonitorMode.BARGE)
    add_supervisor(bridge, links, "coach", MonitorMode.WHISPER)
    assert heard_by(links, "caller") == {"agent", "barging"}

    bridge.hold(True)
    assert heard_by(links, "caller") == {"hold_loop"}
    assert heard_by(links, "agent") == {"barging", "coach"}  # coaching goes on
    assert heard_by(links, "coach") == {"caller", "agent"}

    bridge.hold(False)
    assert heard_by(links, "caller") == {"agent", "barging"}
    assert heard_by(links, "agent") == {"caller", "barging", "coach"}
    kinds = [kind for kind, _ in host.events]
    assert kinds == ["bridged", "supervisor_joined", "supervisor_joined", "held", "resumed"]


def test_a_second_hold_and_a_supervisor_barging_in_on_hold_do_not_reach_the_caller(
    call: tuple[Bridge, Caller, Host, Links],
) -> None:
    bridge, _, host, links = call
    bridge.hold(True)
    bridge.hold(True)
    add_supervisor(bridge, links, "barging", MonitorMode.BARGE)
    assert heard_by(links, "caller") == {"hold_loop"}
    assert [kind for kind, _ in host.events].count("held") == 1
    bridge.hold(False)
    assert heard_by(links, "caller") == {"agent", "barging"}


def test_the_agent_hanging_up_on_hold_leaves_the_caller_on_the_hold_loop(
    call: tuple[Bridge, Caller, Host, Links],
) -> None:
    bridge, caller, host, links = call
    bridge.hold(True)
    links.discard(("agent", "caller"))  # her port is gone with her leg
    bridge.leg_ended(bridge.person, 200)
    assert not caller.leg.hung_up
    assert caller.bridge is None and caller.left_alone_by == ["agent-1"]
    assert heard_by(links, "caller") == {"hold_loop"}
    assert ("person_left_hold", {"by": "agent-1"}) in host.events


def test_the_consoles_end_hangs_up_every_leg_and_is_logged_once(
    call: tuple[Bridge, Caller, Host, Links],
) -> None:
    bridge, caller, host, links = call
    supervisor = add_supervisor(bridge, links, "boss", MonitorMode.LISTEN)
    bridge.end_from_console()
    assert caller.leg.hung_up and bridge.person.hung_up and supervisor.hung_up
    bridge.leg_ended(bridge.person, 200)  # the BYEs' echoes
    bridge.caller_left()
    kinds = [kind for kind, _ in host.events]
    assert kinds.count("ended") == 1
    assert "person_hung_up" not in kinds and "caller_hung_up" not in kinds


@dataclass
class ControlHost:
    calls: dict[str, Any]
    dialled: list[tuple[str, str]] = field(default_factory=list)

    def dial_out(self, session: Any, number: str | None, reason: str) -> None:
        self.dialled.append((str(number), reason))


@dataclass
class WaitingSession:
    bridge: Bridge | None
    ended: bool = False
    steps: list[Any] = field(default_factory=list)
    gather: Any = None


def test_routings_overflow_reaches_a_transferred_caller_on_hold_but_not_one_with_her_agent(
    call: tuple[Bridge, Caller, Host, Links],
) -> None:
    bridge, *_ = call
    host = ControlHost({"call-1": WaitingSession(bridge)})
    control = CallControl(host, None, lambda call_id: None, None)  # type: ignore[arg-type]

    control._redirect("call-1", "+34900000002")
    assert host.dialled == []  # talking with her agent
    bridge.hold(True)  # the console's transfer holds her, then queues her again
    control._redirect("call-1", "+34900000002")
    assert host.dialled == [("+34900000002", "overflow")]


def add_interpreter(bridge: Bridge, links: Links, failed: list[int]) -> InterpreterLeg:
    leg = FakeLeg(Port("interpreter", links))
    interpreter = InterpreterLeg(bridge, leg, "ur", None, failed.append)  # type: ignore[arg-type]
    bridge.interpreter = interpreter
    interpreter.leg_media(leg, leg.media)  # type: ignore[arg-type]
    return interpreter


def test_an_interpreter_hears_and_is_heard_by_both_but_not_by_the_caller_on_hold(
    call: tuple[Bridge, Caller, Host, Links],
) -> None:
    bridge, _, host, links = call
    add_interpreter(bridge, links, [])
    assert heard_by(links, "caller") == {"agent", "interpreter"}
    assert heard_by(links, "interpreter") == {"caller", "agent"}
    assert heard_by(links, "agent") == {"caller", "interpreter"}

    bridge.hold(True)
    assert heard_by(links, "caller") == {"hold_loop"}
    assert heard_by(links, "interpreter") == {"agent"}  # agent and interpreter go on talking
    bridge.hold(False)
    assert heard_by(links, "caller") == {"agent", "interpreter"}
    assert heard_by(links, "interpreter") == {"caller", "agent"}
    assert ("interpreter_joined", {"language": "ur"}) in host.events


def test_an_interpreter_who_never_answers_is_reported_and_one_who_leaves_is_only_logged(
    call: tuple[Bridge, Caller, Host, Links],
) -> None:
    bridge, caller, host, links = call
    failed: list[int] = []
    unanswered = InterpreterLeg(bridge, FakeLeg(None), "ur", "1234#", failed.append)  # type: ignore[arg-type]
    bridge.interpreter = unanswered
    unanswered.leg_ended(unanswered.leg, 486)
    assert failed == [486] and bridge.interpreter is None
    assert ("interpreter_failed", {"language": "ur", "status": 486}) in host.events

    joined = add_interpreter(bridge, links, failed)
    joined.leg_ended(joined.leg, 200)
    assert failed == [486, None] and bridge.interpreter is None  # None: she had answered
    assert not caller.leg.hung_up and not bridge.person.hung_up  # caller and agent go on
    assert ("interpreter_left", {"language": "ur"}) in host.events


def test_the_interpreter_leaves_with_the_call(
    call: tuple[Bridge, Caller, Host, Links],
) -> None:
    bridge, *_, links = call
    interpreter = add_interpreter(bridge, links, [])
    bridge.caller_left()
    assert interpreter.leg.hung_up
