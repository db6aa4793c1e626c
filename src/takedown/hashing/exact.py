"""Exact hashes of a file's bytes (MD5, as StopNCII's VideoMD5, and SHA-256), in constant memory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from takedown.errors import InputError

CHUNK_BYTES = 1 << 20
"""Read size: memory stays at one chunk whatever the file's size."""


@dataclass(frozen=True, slots=True)
class ExactHashes:
    md5: str
    sha256: str
    size: int


def exact_hashes(path: Path) -> ExactHashes:
    """MD5 and SHA-256 of the file's bytes, read once in `CHUNK_BYTES` pieces."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    size = 0
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    try:
        with Path(path).open("rb", buffering=0) as stream:
            while count := stream.readinto(buffer):
                md5.update(view[:count])
                sha256.update(view[:count])
                size += count
    except FileNotFoundError as exc:
        raise InputError("no such file; check the path.", path=path) from exc
    except IsADirectoryError as exc:
        raise InputError("this is a directory; give the path of a file.", path=path) from exc
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror}).", path=path) from exc
    return ExactHashes(md5.hexdigest(), sha256.hexdigest(), size)
