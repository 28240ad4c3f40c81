"""The channel-neutral middle: what routing, the console and every telephony edge share
about a call, importing no edge."""
