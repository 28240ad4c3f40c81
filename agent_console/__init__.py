"""Web console: agents' softphone console, supervisors' views, sign-in, health."""
