"""The console and routing reach Twilio calls through the bridges and redirectors wired in."""

from runtime import Runtime
from telephony.twilio.bridge import TwilioBridge, TwilioRedirector


def test_a_twilio_runtime_offers_the_console_a_bridge_and_routing_a_redirector(
    runtime: Runtime,
) -> None:
    control = runtime.control
    assert isinstance(control.bridges["twilio"], TwilioBridge)
    assert isinstance(control.redirectors["twilio"], TwilioRedirector)
