"""What every blueprint shares: the sign-in guard, CSRF, session standing, JSON bodies and the
mapping of HTTP errors to ``{error_id, message}``.

The blueprints of every package (the console's, check-ins', recordings', the telephony edges')
build on this package; it imports none of them.
"""
