"""The settings the Twilio edge adds: a fallback number is required with Twilio, numbers are
E.164, and ``amparo check`` shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import ConfigurationError, load_settings
from tests.harness.twilio_driver import ACCOUNT_SID


def test_twilio_without_a_fallback_number_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as err:
        load_settings({"AMPARO_DATA_DIR": str(tmp_path), "AMPARO_TWILIO_ACCOUNT_SID": ACCOUNT_SID})
    assert err.value.variable == "AMPARO_FALLBACK_NUMBER"


@pytest.mark.parametrize("variable", ["AMPARO_FALLBACK_NUMBER", "AMPARO_TWILIO_NEUTRAL_CALLER_ID"])
def test_numbers_must_be_in_e164_form(tmp_path: Path, variable: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        load_settings({"AMPARO_DATA_DIR": str(tmp_path), variable: "900 000 009"})
    assert err.value.variable == variable


def test_the_new_settings_are_read_and_described(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "AMPARO_DATA_DIR": str(tmp_path),
            "AMPARO_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "AMPARO_TWILIO_AUTH_TOKEN": "token-of-test",
            "AMPARO_FALLBACK_NUMBER": "+34900000009",
            "AMPARO_TWILIO_NEUTRAL_CALLER_ID": "+34900000100",
        }
    )
    assert settings.twilio_configured
    assert settings.fallback_number == "+34900000009"
    assert settings.twilio_neutral_caller_id == "+34900000100"
    shown = settings.describe()
    assert shown["AMPARO_FALLBACK_NUMBER"] == "+34900000009"
    assert shown["AMPARO_TWILIO_NEUTRAL_CALLER_ID"] == "+34900000100"
    assert "token-of-test" not in " ".join(shown.values())
