"""Errors of check-ins, alarms and notifications, each with a stable ``error_id`` (the HTTP
layer maps them to a status; the domain never speaks HTTP)."""

from __future__ import annotations


class CheckinError(Exception):
    error_id = "checkin_error"

    def __init__(self, message: str, *, error_id: str | None = None) -> None:
        super().__init__(message)
        if error_id is not None:
            self.error_id = error_id

    @property
    def message(self) -> str:
        return str(self)


class AttemptBusy(CheckinError):
    """Another run holds the attempt's claim; rq retries this job after the lease."""

    error_id = "checkin_attempt_busy"


class DialerNotConfigured(CheckinError):
    error_id = "outbound_dialer_not_configured"


class DeviceAuthFailed(CheckinError):
    """Unknown device, missing or stale timestamp, bad signature: nothing is acted on."""

    error_id = "device_auth_failed"


class AlarmMalformed(CheckinError):
    error_id = "alarm_malformed"


class StoreUnavailable(CheckinError):
    """The database did not take the write: the sender must retry (nothing was stored)."""

    error_id = "store_unavailable"


class NotificationAuthFailed(CheckinError):
    error_id = "notification_auth_failed"


class NotificationMalformed(CheckinError):
    error_id = "notification_malformed"


class UnknownBroadcast(CheckinError):
    error_id = "unknown_broadcast"


class ScopeMissing(CheckinError):
    """The key is valid but its system was not given the scope this door needs."""

    error_id = "api_scope_missing"


class ProvisioningMalformed(CheckinError):
    error_id = "provisioning_malformed"


class ProvisioningConflict(CheckinError):
    """The request contradicts what is stored (a lower risk, a serial or number in use, a
    reference another system or a person registered)."""

    error_id = "provisioning_conflict"


class UnknownRecord(CheckinError):
    error_id = "unknown_record"
