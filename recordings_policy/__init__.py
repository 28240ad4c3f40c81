"""Recordings under a policy: whether and how to record, encrypted storage, retention with legal
hold, and audited listening.

Domain modules here import neither Flask nor twilio; ``http.py`` is the thin Flask edge and the
Twilio adapter lives in ``telephony/twilio/recordings.py``.
"""
