"""The console's bridge to simulated calls: what a carrier bridge does, shown as text on the
simulated phone (the caller's page shows every line; nothing is heard)."""

from __future__ import annotations

from dataclasses import dataclass

from calls.control import keypad_digits
from telephony.simulator.phone import PhoneStatus, SimulatedPhones

_MODES = ("listen", "whisper", "barge")
_HEARD_BY_CALLER = {"barge": "[a supervisor joined the call]"}
"""What the caller's phone shows of supervision: only a supervisor who joins the conversation.
Listening and coaching the agent are silent to her, as on a real line."""


@dataclass
class SimulatedBridge:
    """Registered in ``TelephonyControl.bridges`` under the simulator channel."""

    phones: SimulatedPhones

    def connect(self, call_id: str, agent_id: str) -> None:
        # The caller hears a person answer; she is never told the agent's name or id.
        self.phones.connect_agent(call_id, "an agent")

    def end(self, call_id: str) -> None:
        self.phones.end_by_agent(call_id)

    def supervise(self, call_id: str, supervisor_id: str, mode: str) -> None:
        if mode not in _MODES:
            raise ValueError(f"unknown supervision mode {mode!r}")
        if mode in _HEARD_BY_CALLER:
            self.phones.note(call_id, "supervisor", _HEARD_BY_CALLER[mode])

    def stop_supervising(self, call_id: str, supervisor_id: str) -> None:
        """Her leg leaves; a caller who heard her barge in hears nothing more from her."""

    def hold(self, call_id: str, on: bool) -> None:
        if on:
            self.phones.note(call_id, "notice", "[on hold]", PhoneStatus.ON_HOLD)
        else:
            self.phones.note(call_id, "notice", "[back with the agent]", PhoneStatus.CONNECTED)

    def add_interpreter(self, call_id: str, language: str) -> None:
        self.phones.note(call_id, "notice", f"[an interpreter ({language}) joined the call]")

    def remove_interpreter(self, call_id: str) -> None:
        self.phones.note(call_id, "notice", "[the interpreter left the call]")

    def transfer_out(self, call_id: str, number: str) -> None:
        """She is put through at once (the simulator has no outside phones); never told the
        number, as a real line would not say it."""
        self.phones.note(call_id, "notice", "[put through to another service]")

    def warm_transfer(self, call_id: str, number: str) -> None:
        """The agent speaks with the service (it answers at once here) while she waits."""
        self.phones.note(call_id, "notice", "[on hold while the agent speaks with a service]")

    def complete_transfer(self, call_id: str) -> None:
        self.phones.note(call_id, "notice", "[put through to another service]")

    def cancel_transfer(self, call_id: str) -> None:
        self.phones.note(call_id, "notice", "[the agent is back with you]")

    def mute(self, call_id: str, on: bool) -> None:
        text = "[the agent's microphone is off]" if on else "[the agent's microphone is on]"
        self.phones.note(call_id, "notice", text)

    def send_dtmf(self, call_id: str, digits: str) -> None:
        """She hears the tones: the simulated phone shows the keys."""
        self.phones.note(call_id, "notice", f"[keypad tones: {keypad_digits(digits)}]")
