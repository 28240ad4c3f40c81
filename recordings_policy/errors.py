"""Domain errors of recordings. Each carries a stable ``error_id``; the HTTP edge maps them to
status codes, the domain never does."""

from __future__ import annotations


class RecordingError(Exception):
    error_id = "recording_error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or self.error_id)

    @property
    def message(self) -> str:
        return str(self)


class PolicyError(RecordingError):
    """The recording policy data is malformed or breaks an invariant."""

    error_id = "recording_policy_invalid"


class RecordingNotFound(RecordingError):
    """No such recording."""

    error_id = "recording_not_found"


class RecordingPurged(RecordingError):
    """The recording's audio was deleted under the retention policy."""

    error_id = "recording_purged"


class RecordingNotStored(RecordingError):
    """The recording's audio has not been stored yet."""

    error_id = "recording_not_stored"


class AccessDenied(RecordingError):
    """Only supervisors and admins may listen to recordings or place legal holds."""

    error_id = "recording_access_denied"


class ReasonRequired(RecordingError):
    """A reason of at least a few words is required."""

    error_id = "recording_reason_required"


class RecordingCorrupt(RecordingError):
    """The stored recording failed authentication: it was altered, truncated or the key is wrong."""

    error_id = "recording_corrupt"


class UnknownMasterKey(RecordingError):
    """The recording's key was wrapped by a master key that is not configured."""

    error_id = "recording_master_key_unknown"


class SourceNotReady(RecordingError):
    """The telephony provider has not finished the recording yet; try again later."""

    error_id = "recording_source_not_ready"
