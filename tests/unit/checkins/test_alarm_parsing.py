"""Reading locations out of texts, alarm types from keywords, and device alarm bodies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkins.alarms import parse_report, signature_for
from checkins.errors import AlarmMalformed
from checkins.locations import Location, find_location
from checkins.sms_alarms import alarm_type_in
from store.vocabulary import AlarmType


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SOS 40.4168,-3.7038", Location(40.4168, -3.7038)),
        ("estoy en 40.4168, -3.7038 ayuda", Location(40.4168, -3.7038)),
        ("geo:-12.0464,-77.0428", Location(-12.0464, -77.0428)),
        ("https://maps.google.com/?q=40.41%2C-3.70", Location(40.41, -3.70)),
        (
            "https://www.google.com/maps/@40.4167754,-3.7037902,15z",
            Location(40.4167754, -3.7037902),
        ),
        ("https://maps.apple.com/?ll=41.3874,2.1686&q=Pin", Location(41.3874, 2.1686)),
        (
            "https://www.openstreetmap.org/?mlat=43.2630&mlon=-2.9350#map=17/43.2630/-2.9350",
            Location(43.2630, -2.9350),
        ),
        ("https://www.openstreetmap.org/#map=17/43.26300/-2.93500", Location(43.263, -2.935)),
    ],
)
def test_locations_are_found_in_plain_coordinates_and_maps_links(
    text: str, expected: Location
) -> None:
    assert find_location(text) == expected


@pytest.mark.parametrize("text", ["", "ayuda", "call me at 1, 2", "91.5,10.0", "10.5,181.0"])
def test_texts_without_plausible_coordinates_have_no_location(text: str) -> None:
    assert find_location(text) is None


@settings(max_examples=150)
@given(
    st.floats(min_value=-90, max_value=90, allow_nan=False).map(lambda x: round(x, 5)),
    st.floats(min_value=-180, max_value=180, allow_nan=False).map(lambda x: round(x, 5)),
)
def test_any_coordinates_written_by_a_phone_are_read_back(
    latitude: float, longitude: float
) -> None:
    found = find_location(f"Ubicación: {latitude:.5f},{longitude:.5f}")
    assert found == Location(float(f"{latitude:.5f}"), float(f"{longitude:.5f}"))


@pytest.mark.parametrize(
    ("text", "alarm_type"),
    [
        ("PREALARMA 40.1,-3.2", AlarmType.PREALARM),
        ("necesito ambulancia", AlarmType.MEDICAL),
        ("emergencia médica", AlarmType.MEDICAL),
        ("apoyo psicosocial", AlarmType.PSYCHOSOCIAL),
        ("SOS", AlarmType.ASSAULT),
        ("", AlarmType.ASSAULT),
    ],
)
def test_a_text_is_an_assault_unless_a_keyword_says_otherwise(
    text: str, alarm_type: AlarmType
) -> None:
    assert alarm_type_in(text) is alarm_type


def test_a_report_with_every_field_is_read_exactly() -> None:
    body = {
        "device_id": "DEV-1",
        "alarm_id": "a-1",
        "type": "medical",
        "location": {"lat": 1.5, "lon": -2.5, "accuracy": 8, "time": "2026-12-01T10:00:00Z"},
        "battery": 50,
    }
    report = parse_report(json.dumps(body).encode(), "DEV-1")
    assert report.alarm_type is AlarmType.MEDICAL
    assert report.location == Location(1.5, -2.5)
    assert report.accuracy_m == 8.0 and report.battery == 50 and report.warnings == ()
    assert report.located_at is not None and report.located_at.isoformat().startswith("2026-12-01")


def test_a_report_naming_another_device_is_refused() -> None:
    with pytest.raises(AlarmMalformed):
        parse_report(json.dumps({"device_id": "DEV-2", "alarm_id": "a"}).encode(), "DEV-1")


def test_the_signature_covers_the_timestamp_and_the_body() -> None:
    base = signature_for("secret", "1800000000", b"{}")
    assert base != signature_for("secret", "1800000001", b"{}")
    assert base != signature_for("secret", "1800000000", b"{ }")
    assert base != signature_for("other", "1800000000", b"{}")
    assert len(base) == 64 and int(base, 16) >= 0
