"""The one error hierarchy of takedown.

    TakedownError
    ├── InputError              something from outside is not acceptable
    │   ├── FileTooLargeError   a file over the documented byte limit
    │   ├── ImageTooLargeError  an image over the documented pixel limit (decompression bombs)
    │   ├── DecodeError         empty, truncated, corrupt or not an image/video
    │   └── UnsupportedMediaError  a format or codec we cannot hash
    └── ...                     later layers add their own branches here

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
