"""An uploaded file, held in memory only: a multipart request's `file` part streamed into an
anonymous memory file (Linux `memfd`), which the hashing code opens by its /proc path.

Nothing touches a disk: the memory file has no name in any filesystem and is gone when
closed. The request body is counted as it arrives and refused past the limit.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from takedown.errors import ConfigError, FileTooLargeError, InputError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["FIELD", "MemoryFile", "read_multipart_file"]

FIELD = "file"
"""The multipart field that carries the upload."""


class MemoryFile:
    """Bytes in an anonymous memory file; `path` opens it (for as long as it is open)."""

    def __init__(self) -> None:
        if not hasattr(os, "memfd_create"):
            raise ConfigError("hashing uploads in memory needs Linux (memfd_create)")
        self._fd = os.memfd_create("takedown-upload", os.MFD_CLOEXEC)
        self.size = 0

    @property
    def path(self) -> Path:
        return Path(f"/proc/self/fd/{self._fd}")

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self.size += written

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> MemoryFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


async def read_multipart_file(
    content_type: str, body: AsyncIterator[bytes], limit: int, target: MemoryFile
) -> None:
    """Stream the `file` part of a multipart/form-data body into `target`. Other parts are
    read and dropped. FileTooLargeError past `limit` body bytes; InputError for a body that
    is not multipart or has no `file` part."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InputError("send the file as multipart/form-data (field 'file'), or JSON hashes")
    state = _Parts()
    try:
        parser = MultipartParser(boundary, state.callbacks(target))
        received = 0
        async for chunk in body:
            received += len(chunk)
            if received > limit:
                raise FileTooLargeError(f"the upload is over the limit of {limit:,} bytes")
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise InputError(f"the multipart body is malformed: {exc}") from None
    if not state.found:
        raise InputError(f"the multipart body has no '{FIELD}' part")
    if target.size == 0:
        raise InputError("the uploaded file is empty")


class _Parts:
    """Parser callbacks: which part we are in, and whether it is the file."""

    def __init__(self) -> None:
        self.found = False
        self._field = b""
        self._value = b""
        self._in_file = False
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self, target: MemoryFile) -> MultipartCallbacks:
        def part_begin() -> None:
            self._headers = {}
            self._in_file = False

        def header_field(data: bytes, start: int, end: int) -> None:
            self._field += data[start:end]

        def header_value(data: bytes, start: int, end: int) -> None:
            self._value += data[start:end]

        def header_end() -> None:
            self._headers[self._field.lower()] = self._value
            self._field, self._value = b"", b""

        def headers_finished() -> None:
            _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
            if options.get(b"name") == FIELD.encode():
                if self.found:
                    raise InputError(f"send one '{FIELD}' part, not several")
                self.found = True
                self._in_file = True

        def part_data(data: bytes, start: int, end: int) -> None:
            if self._in_file:
                target.write(memoryview(data)[start:end])

        return {
            "on_part_begin": part_begin,
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_headers_finished": headers_finished,
            "on_part_data": part_data,
        }
