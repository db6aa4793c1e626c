"""The one error hierarchy of takedown.

    TakedownError
    ├── InputError              something from outside is not acceptable
    │   ├── FileTooLargeError   a file over the documented byte limit
    │   ├── ImageTooLargeError  an image over the documented pixel limit (decompression bombs)
    │   ├── DecodeError         empty, truncated, corrupt or not an image/video
    │   ├── UnsupportedMediaError  a format or codec we cannot hash
    │   ├── ListFileError       a hash list file that is unreadable or has an invalid line
    │   └── InvalidRequestError  a request to the registry breaks a documented rule or limit
    │       └── ProofOfWorkError  a proof of work that is wrong, expired or already spent
    ├── NotFoundError           no such case, media item, platform or quarantined signal
    ├── AuthError               missing, wrong or revoked key; wrong case number or PIN
    ├── ForbiddenError          authenticated, but not allowed (e.g. a list the key lacks)
    ├── LockedError             a case locked after too many wrong PINs (retry_after seconds)
    ├── RateLimitedError        too many requests (retry_after seconds)
    ├── ConflictError           the request conflicts with the current state
    ├── ConfigError             bad settings (database URL, data directory)
    └── RemoteError             the registry (for the platform agent) is unreachable, failing
                                or answering outside its documented format

Messages say what happened and what to do. This module imports nothing, so every layer
(including the pure `hashing` library) may depend on it.
"""

from __future__ import annotations

from pathlib import Path


class TakedownError(Exception):
    """Base of every error takedown raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, path: Path | str | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(TakedownError):
    """Input from outside (a file, a hash, a request) is not acceptable."""

    code = "invalid_input"


class FileTooLargeError(InputError):
    code = "file_too_large"


class ImageTooLargeError(InputError):
    code = "image_too_large"


class DecodeError(InputError):
    code = "decode_failed"


class UnsupportedMediaError(InputError):
    code = "unsupported_media"


class ListFileError(InputError):
    """A hash list (JSON Lines from `takedown hash --json`) cannot be used; `line` is 1-based."""

    code = "invalid_list"

    def __init__(
        self, message: str, *, path: Path | str | None = None, line: int | None = None
    ) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message, path=path)


class InvalidRequestError(InputError):
    code = "invalid_request"


class ProofOfWorkError(InvalidRequestError):
    """A well-formed proof of work that does not count: wrong, expired, reused or not ours."""

    code = "proof_of_work_failed"


class NotFoundError(TakedownError):
    code = "not_found"


class AuthError(TakedownError):
    code = "unauthorized"


class ForbiddenError(TakedownError):
    code = "forbidden"


class _RetryLaterError(TakedownError):
    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class LockedError(_RetryLaterError):
    code = "locked"


class RateLimitedError(_RetryLaterError):
    code = "rate_limited"


class ConflictError(TakedownError):
    code = "conflict"


class ConfigError(TakedownError):
    code = "config"


class RemoteError(TakedownError):
    """The agent could not use the registry's answer (after retrying what can be retried)."""

    code = "remote"
