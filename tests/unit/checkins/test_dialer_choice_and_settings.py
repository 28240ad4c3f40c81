"""Which edge rings beneficiaries, and the check-in settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from checkins.lazy_ports import LazyDialer
from runtime import outbound_channel
from settings import ConfigurationError, load_settings
from store.vocabulary import Channel


@dataclass
class FakeSimulator:
    channel: Channel = Channel.SIMULATOR

    def place_call(self, call_id: str, to_number: str, caller_id: str | None) -> str:
        return f"sim-{call_id}"

    def cancel(self, call_id: str) -> None:
        return None


def test_without_twilio_or_sip_the_simulator_rings(tmp_path: Path) -> None:
    settings = load_settings({"AMPARO_DATA_DIR": str(tmp_path)})
    assert outbound_channel(settings) is Channel.SIMULATOR


def test_twilio_rings_when_configured_even_beside_sip(tmp_path: Path) -> None:
    settings = load_settings({"AMPARO_DATA_DIR": str(tmp_path)})
    assert outbound_channel(settings.with_overrides(sip_listen="127.0.0.1:5060")) is Channel.SIP
    both = settings.with_overrides(sip_listen="127.0.0.1:5060", twilio_account_sid="AC123")
    assert outbound_channel(both) is Channel.TWILIO


def test_the_dialer_is_chosen_only_when_a_call_is_placed() -> None:
    chosen: list[int] = []

    def choose() -> FakeSimulator:
        chosen.append(1)
        return FakeSimulator()

    lazy = LazyDialer(choose)
    assert chosen == []
    assert lazy.place_call("c1", "+34600000000", None) == "sim-c1"
    assert lazy.channel is Channel.SIMULATOR and chosen == [1]


def test_check_in_settings_have_safe_defaults_and_refuse_bad_values(tmp_path: Path) -> None:
    settings = load_settings({"AMPARO_DATA_DIR": str(tmp_path)})
    assert (settings.outbound_cps, settings.checkin_ring_timeout_s) == (1.0, 45)
    assert settings.checkin_caller_id is None
    tuned = load_settings(
        {
            "AMPARO_DATA_DIR": str(tmp_path),
            "AMPARO_OUTBOUND_CPS": "5",
            "AMPARO_CHECKIN_RING_TIMEOUT": "30",
            "AMPARO_CHECKIN_CALLER_ID": "+34910000000",
        }
    )
    assert (tuned.outbound_cps, tuned.checkin_ring_timeout_s) == (5.0, 30)
    assert tuned.checkin_caller_id == "+34910000000"
    for variable, value in (
        ("AMPARO_OUTBOUND_CPS", "0"),
        ("AMPARO_CHECKIN_RING_TIMEOUT", "5"),
        ("AMPARO_CHECKIN_CALLER_ID", "910 00 00 00"),
    ):
        with pytest.raises(ConfigurationError) as err:
            load_settings({"AMPARO_DATA_DIR": str(tmp_path), variable: value})
        assert err.value.variable == variable
