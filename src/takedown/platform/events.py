"""Feed events and snapshot lines from the registry, checked field by field before use.

The registry is trusted to be honest but not to be bug-free: a line that breaks the documented
format (docs/api.md) is refused with `MalformedEventError`, which the sync quarantines and
reports.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

from takedown.errors import InputError

__all__ = [
    "DEFAULT_VARIANTS",
    "HEX_LENGTHS",
    "LISTS",
    "MAX_LINE_BYTES",
    "FeedEvent",
    "MalformedEventError",
    "SignalKey",
    "parse_event",
    "parse_snapshot_line",
]

LISTS: Final = frozenset(("minor", "adult"))
HEX_LENGTHS: Final = {"pdq": 64, "md5": 32}
DEFAULT_VARIANTS: Final = {"pdq": "original", "md5": "file"}
"""The variant of an event without one (a registry older than the `variant` field)."""
OPS: Final = frozenset(("add", "remove"))
MAX_SEQ: Final = 2**63 - 1
MAX_LINE_BYTES: Final = 4096
"""A snapshot line is about 130 bytes; a longer one is malformed (and never buffered whole)."""

_HEX = re.compile(r"[0-9a-f]+")
_VARIANT = re.compile(r"[a-z0-9_:.-]{1,16}")

SignalKey = tuple[str, str, str]
"""(list, type, value): one signal in one list, as the store keys it."""


class MalformedEventError(InputError):
    """A feed event or snapshot line that breaks the format; `seq` when one could be read."""

    code = "malformed_event"

    def __init__(self, message: str, raw: str, seq: int | None = None) -> None:
        self.raw = raw
        self.seq = seq
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One checked event. Snapshot lines become `add` events at the snapshot's cursor."""

    seq: int
    op: str
    list: str
    type: str
    value: str
    quality: int
    variant: str

    @property
    def key(self) -> SignalKey:
        return (self.list, self.type, self.value)


def parse_event(obj: object, after: int) -> FeedEvent:
    """A `/v1/feed` event whose seq must be above `after` (the last seq seen);
    MalformedEventError if any field is missing or wrong. Unknown extra fields are ignored
    (a newer registry may send more)."""
    raw = _raw(obj)
    if not isinstance(obj, dict):
        raise MalformedEventError(f"an event must be a JSON object, got {_kind(obj)}", raw)
    seq = obj.get("seq")
    if not _is_int(seq) or not 1 <= seq <= MAX_SEQ:
        raise MalformedEventError(f"seq must be a positive integer, got {_show(seq)}", raw)
    if seq <= after:
        raise MalformedEventError(
            f"seq {seq} is not above the previous one ({after}): events must come in "
            "strictly increasing seq order",
            raw,
            seq,
        )
    op = obj.get("op")
    if op not in OPS:
        raise MalformedEventError(f"op must be 'add' or 'remove', got {_show(op)}", raw, seq)
    try:
        return _signal(obj, seq, str(op), raw)
    except MalformedEventError as exc:
        exc.seq = seq
        raise


def parse_snapshot_line(line: bytes, cursor: int) -> FeedEvent:
    """One `/v1/feed/snapshot` signal line, as an `add` at the snapshot's `cursor`."""
    text = line.decode("utf-8", errors="replace")
    try:
        obj = json.loads(text)
    except ValueError:
        raise MalformedEventError("the line is not JSON", text[:MAX_LINE_BYTES]) from None
    if not isinstance(obj, dict):
        raise MalformedEventError(f"a snapshot line must be a JSON object, got {_kind(obj)}", text)
    return _signal(obj, cursor, "add", text)


def _signal(obj: dict[str, Any], seq: int, op: str, raw: str) -> FeedEvent:
    list_ = obj.get("list")
    if list_ not in LISTS:
        names = ", ".join(sorted(LISTS))
        raise MalformedEventError(f"list must be one of {names}, got {_show(list_)}", raw)
    type_ = obj.get("type")
    if type_ not in HEX_LENGTHS:
        raise MalformedEventError(f"type must be 'pdq' or 'md5', got {_show(type_)}", raw)
    assert isinstance(list_, str)
    assert isinstance(type_, str)
    value = obj.get("value")
    length = HEX_LENGTHS[type_]
    if not isinstance(value, str) or len(value) != length or not _HEX.fullmatch(value):
        raise MalformedEventError(
            f"value of a {type_} must be {length} lowercase hex characters, got {_show(value)}",
            raw,
        )
    if op == "remove":
        # A withdrawal must never be held back by a field it does not need: list, type and
        # value name the signal; quality and variant are not read.
        return FeedEvent(seq, op, list_, type_, value, 0, DEFAULT_VARIANTS[type_])
    quality = obj.get("quality")
    if not _is_int(quality) or not 0 <= quality <= 100:
        raise MalformedEventError(f"quality must be an integer 0-100, got {_show(quality)}", raw)
    variant = obj.get("variant")
    if variant is None:
        variant = DEFAULT_VARIANTS[type_]
    elif not isinstance(variant, str) or not _VARIANT.fullmatch(variant):
        raise MalformedEventError(
            f"variant must be 1-16 characters of a-z 0-9 _ : . -, got {_show(variant)}", raw
        )
    return FeedEvent(seq, op, list_, type_, value, quality, variant)


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int in Python, but `true` is not a number here.
    return type(value) is int


def _raw(obj: object) -> str:
    try:
        return json.dumps(obj, separators=(",", ":"))[:MAX_LINE_BYTES]
    except (TypeError, ValueError):
        return repr(obj)[:MAX_LINE_BYTES]


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def _show(value: object) -> str:
    """A short rendering of a bad value: it came from outside and may be huge."""
    if value is None:
        return "null or nothing"
    text = json.dumps(value) if not isinstance(value, dict | list) else _kind(value)
    return text if len(text) <= 80 else text[:77] + "..."
