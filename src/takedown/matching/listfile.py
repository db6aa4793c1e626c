"""Hash lists: the JSON Lines printed by `takedown hash --json`, read back and checked strictly.

A list comes from outside, so every line is validated; a bad line stops the read with a
ListFileError naming the file and line, never a traceback and never a silently dropped item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from takedown.errors import InputError, ListFileError
from takedown.hashing.fingerprint import Signal
from takedown.hashing.video import VideoFrameHash, parse_vpdq

__all__ = ["MAX_LINE_BYTES", "MAX_LIST_LINES", "ListedMedia", "read_list"]

MAX_LIST_LINES = 1_000_000
"""A list file may have at most this many lines (blank lines and error records included)."""

MAX_LINE_BYTES = 8 * 1024 * 1024
"""One line may be at most this long; an hour of video hashes is about 300 KB."""

_FIELDS = frozenset({"path", "kind", "md5", "sha256", "signals", "vpdq"})
_SIGNAL_FIELDS = frozenset({"type", "value", "quality", "variant"})
_MD5 = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PDQ = _SHA256
_VARIANT = re.compile(r"[a-z0-9_:.-]{1,64}")


@dataclass(frozen=True, slots=True)
class ListedMedia:
    """One media item of a list: what the reporter's `takedown hash` printed for it."""

    path: str | None
    kind: Literal["image", "video"]
    md5: str
    sha256: str
    signals: tuple[Signal, ...] = ()
    vpdq: tuple[VideoFrameHash, ...] = ()


class _LineError(Exception):
    """What is wrong with one line; read_list adds the file and the line number."""


def read_list(path: Path, *, max_lines: int = MAX_LIST_LINES) -> list[ListedMedia]:
    """Every item of a hash list, in file order. Blank lines and error records are skipped.

    Streams the file line by line; raises ListFileError on the first invalid line, on a file
    with more than `max_lines` lines, or when the file cannot be read.
    """
    path = Path(path)
    items: list[ListedMedia] = []
    number = 0
    try:
        with path.open("rb") as file:
            for number, raw in enumerate(_lines(file), start=1):
                if number > max_lines:
                    raise ListFileError(
                        f"the list has more than {max_lines:,} lines; split it into smaller lists",
                        path=path,
                    )
                item = _parse_line(raw)
                if item is not None:
                    items.append(item)
    except _LineError as exc:
        raise ListFileError(str(exc), path=path, line=number) from None
    except OSError as exc:
        raise ListFileError(
            f"cannot read the list ({exc.strerror or type(exc).__name__})", path=path
        ) from None
    return items


def _lines(file: IO[bytes]) -> Iterator[bytes]:
    """Lines, each cut at MAX_LINE_BYTES + 1 bytes so one huge line cannot exhaust memory."""
    while raw := file.readline(MAX_LINE_BYTES + 1):
        yield raw


def _parse_line(raw: bytes) -> ListedMedia | None:
    if len(raw) > MAX_LINE_BYTES:
        raise _LineError(f"the line is longer than {MAX_LINE_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise _LineError("not UTF-8 text") from None
    if not text:
        return None
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        raise _LineError("not valid JSON (expected one object per line)") from None
    if not isinstance(record, dict):
        raise _LineError(f"expected a JSON object, got {_json_type(record)}")
    if "error" in record:
        return None  # a file `takedown hash` could not hash: nothing to match on
    return _parse_record(record)


def _parse_record(record: dict[str, Any]) -> ListedMedia:
    unknown = sorted(set(record) - _FIELDS)
    if unknown:
        raise _LineError(f"unknown field {unknown[0]!r}")
    for field in ("kind", "md5", "sha256", "signals"):
        if field not in record:
            raise _LineError(f"missing field {field!r}")
    path = record.get("path")
    if path is not None and not isinstance(path, str):
        raise _LineError(f"path must be a string, got {_json_type(path)}")
    kind = record["kind"]
    if kind not in ("image", "video"):
        raise _LineError(f"kind must be 'image' or 'video', got {_show(kind)}")
    md5 = _hex(record["md5"], _MD5, "md5", 32)
    sha256 = _hex(record["sha256"], _SHA256, "sha256", 64)
    signals = _signals(record["signals"])
    if kind == "image":
        if "vpdq" in record:
            raise _LineError("vpdq is only for videos, but kind is 'image'")
        return ListedMedia(path, "image", md5, sha256, signals)
    if "vpdq" not in record:
        raise _LineError("missing field 'vpdq' (every video has one)")
    return ListedMedia(path, "video", md5, sha256, signals, _frames(record["vpdq"]))


def _hex(value: object, pattern: re.Pattern[str], name: str, length: int) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _LineError(f"{name} must be {length} lowercase hex characters, got {_show(value)}")
    return value


def _signals(value: object) -> tuple[Signal, ...]:
    if not isinstance(value, list):
        raise _LineError(f"signals must be a list, got {_json_type(value)}")
    return tuple(_signal(item, f"signals[{i}]") for i, item in enumerate(value))


def _signal(item: object, where: str) -> Signal:
    if not isinstance(item, dict):
        raise _LineError(f"{where} must be an object, got {_json_type(item)}")
    fields = set(item)
    if fields != _SIGNAL_FIELDS:
        wrong = sorted(fields - _SIGNAL_FIELDS) or sorted(_SIGNAL_FIELDS - fields)
        what = "unknown" if fields - _SIGNAL_FIELDS else "missing"
        raise _LineError(f"{where}: {what} field {wrong[0]!r}")
    if item["type"] != "pdq":
        raise _LineError(f"{where}.type must be 'pdq', got {_show(item['type'])}")
    value = _hex(item["value"], _PDQ, f"{where}.value", 64)
    quality = item["quality"]
    # bool is an int in Python, but `true` is not a quality.
    if type(quality) is not int or not 0 <= quality <= 100:
        raise _LineError(f"{where}.quality must be an integer 0-100, got {_show(quality)}")
    variant = item["variant"]
    if not isinstance(variant, str) or not _VARIANT.fullmatch(variant):
        raise _LineError(
            f"{where}.variant must be 1-64 characters of a-z 0-9 _ : . -, got {_show(variant)}"
        )
    return Signal("pdq", value, quality, variant)


def _frames(value: object) -> tuple[VideoFrameHash, ...]:
    if not isinstance(value, list):
        raise _LineError(f"vpdq must be a list, got {_json_type(value)}")
    frames = []
    for i, line in enumerate(value):
        if not isinstance(line, str):
            raise _LineError(f"vpdq[{i}] must be a string, got {_json_type(line)}")
        try:
            frames.append(parse_vpdq(line))
        except InputError as exc:
            raise _LineError(f"vpdq[{i}]: {exc.message}") from None
    return tuple(frames)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def _show(value: object) -> str:
    """A short rendering of a bad value: lists are untrusted and may hold huge strings."""
    text = json.dumps(value) if not isinstance(value, dict | list) else _json_type(value)
    return text if len(text) <= 80 else text[:77] + "..."
