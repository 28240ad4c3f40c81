"""Outbound check-in calls, device alarms and external notifications."""
