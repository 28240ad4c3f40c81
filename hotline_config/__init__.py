"""The hotline's configuration as a file: lines and their queues, urgent-response teams and
agent accounts, declared in TOML (``amparo config apply``) and read back (``amparo config
export``).

``document`` reads and checks a file with no database at hand; ``apply`` matches it against the
store and changes only what differs, in one transaction; ``export`` writes the store back in the
same format.
"""
