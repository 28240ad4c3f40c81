"""A phone in the browser and in tests, speaking the same call events as Twilio and SIP."""
