"""What every blueprint shares: the sign-in guard, CSRF and session standing.

The blueprints of every package (the console's, check-ins', recordings', the telephony edges')
build on this package; it imports none of them.
"""
