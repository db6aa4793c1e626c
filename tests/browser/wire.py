"""What the reporting pages may send, and ways to read what a browser did send.

`check_body` accepts exactly the JSON of hashes the reporter API takes (docs/api.md): hex
hashes, qualities, variants, kinds, an age group, a language, a PIN and a proof of work, with
no other field and no long string. `NetLog` reads Chromium's own network log
(`--log-net-log`, capture mode `Everything`), which holds every URL request of every page and
worker and every byte written to every socket.
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from takedown.hashing.fingerprint import IMAGE_VARIANTS

HEX32 = re.compile(r"[0-9a-f]{32}")
HEX64 = re.compile(r"[0-9a-f]{64}")
VPDQ = re.compile(r"[0-9a-f]{64},[0-9]{1,3},[0-9]{1,9}\.[0-9]{3}")
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
CHALLENGE = re.compile(r"[A-Za-z0-9_-]{1,200}\.[A-Za-z0-9_-]{43}")
SOLUTION = re.compile(r"[0-9]{1,20}")
PIN = re.compile(r"[0-9]{10}")

_REQUEST_LINE = re.compile(rb"[A-Z]+ \S+ HTTP/1\.[01]\r\n")

RUN = 64
"""A body may not contain any run of this many consecutive bytes of a reported file."""


class RefusedError(AssertionError):
    """A request body that is more than the JSON of hashes."""


def _require(condition: bool, where: str, what: str) -> None:
    if not condition:
        raise RefusedError(f"{where}: {what}")


def _text(value: object, pattern: re.Pattern[str], where: str) -> None:
    _require(isinstance(value, str), where, f"expected a string, got {type(value).__name__}")
    assert isinstance(value, str)
    _require(pattern.fullmatch(value) is not None, where, f"{value[:80]!r} is not allowed")


def _keys(value: object, allowed: set[str], required: set[str], where: str) -> dict[str, Any]:
    _require(isinstance(value, dict), where, "expected an object")
    assert isinstance(value, dict)
    _require(set(value) <= allowed, where, f"unexpected fields {sorted(set(value) - allowed)}")
    _require(required <= set(value), where, f"missing fields {sorted(required - set(value))}")
    return value


def _media(item: object, where: str) -> None:
    media = _keys(
        item, {"kind", "md5", "sha256", "signals", "vpdq"}, {"kind", "md5", "sha256"}, where
    )
    _require(media["kind"] in ("image", "video"), f"{where}.kind", "not image or video")
    _text(media["md5"], HEX32, f"{where}.md5")
    _text(media["sha256"], HEX64, f"{where}.sha256")
    signals = media.get("signals", [])
    _require(isinstance(signals, list) and len(signals) <= 64, f"{where}.signals", "bad list")
    for j, signal in enumerate(signals):
        at = f"{where}.signals[{j}]"
        fields = _keys(signal, {"type", "value", "quality", "variant"}, {"type", "value"}, at)
        _require(fields["type"] == "pdq", f"{at}.type", "not pdq")
        _text(fields["value"], HEX64, f"{at}.value")
        quality = fields.get("quality", 100)
        _require(type(quality) is int and 0 <= quality <= 100, f"{at}.quality", "not 0-100")
        _require(fields.get("variant", "original") in IMAGE_VARIANTS, f"{at}.variant", "unknown")
    frames = media.get("vpdq", [])
    _require(isinstance(frames, list) and len(frames) <= 3600, f"{where}.vpdq", "bad list")
    for j, line in enumerate(frames):
        _text(line, VPDQ, f"{where}.vpdq[{j}]")


def check_body(body: bytes, where: str = "body") -> dict[str, Any]:
    """The parsed body if it is only the JSON of hashes a reporter sends; RefusedError otherwise."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise RefusedError(f"{where}: not JSON ({error})") from None
    request = _keys(data, {"age_group", "language", "media", "pow", "pin"}, set(), where)
    if "age_group" in request:
        _require(request["age_group"] in ("minor", "adult"), f"{where}.age_group", "unknown")
    if "language" in request:
        _text(request["language"], LANGUAGE, f"{where}.language")
        _require(len(request["language"]) <= 16, f"{where}.language", "too long")
    if "pin" in request:
        _text(request["pin"], PIN, f"{where}.pin")
    if "pow" in request:
        proof = _keys(request["pow"], {"challenge", "solution"}, {"challenge", "solution"}, where)
        _text(proof["challenge"], CHALLENGE, f"{where}.pow.challenge")
        _text(proof["solution"], SOLUTION, f"{where}.pow.solution")
    media = request.get("media", [])
    _require(isinstance(media, list) and len(media) <= 50, f"{where}.media", "bad list")
    for i, item in enumerate(media):
        _media(item, f"{where}.media[{i}]")
    return request


def shares_a_run(data: bytes, haystack: bytes, run: int = RUN) -> bool:
    """Whether `haystack` contains any `run` consecutive bytes of `data`.

    Any such run contains an aligned block of `run // 2` bytes of `data`, so the aligned
    blocks are looked up in a set of the haystack's windows first, and only their
    neighbourhoods compared in full.
    """
    half = run // 2
    if len(data) < run or len(haystack) < run:
        return False
    windows = {haystack[i : i + half] for i in range(len(haystack) - half + 1)}
    for start in range(0, len(data) - half + 1, half):
        if data[start : start + half] in windows:
            for offset in range(max(0, start - half + 1), start + 1):
                if data[offset : offset + run] in haystack:
                    return True
    return False


@dataclass(frozen=True)
class UrlRequest:
    url: str
    method: str
    initiator: str
    isolation_key: str


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP/1.1 request parsed from the bytes a socket sent."""

    line: str
    headers: dict[str, str]
    body: bytes


class NetLog:
    """Chromium's network log, read after the browser closed."""

    def __init__(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        try:
            log = json.loads(text)
        except ValueError:
            # A browser that did not shut down cleanly leaves the event list open.
            log = json.loads(text.rstrip().rstrip(",") + "]}")
        names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
        self.requests: list[UrlRequest] = []
        sent: dict[int, list[bytes]] = defaultdict(list)
        self.datagrams: list[bytes] = []
        for event in log["events"]:
            name = names.get(event["type"])
            params = event.get("params", {})
            if name == "URL_REQUEST_START_JOB" and "url" in params:
                self.requests.append(
                    UrlRequest(
                        params["url"],
                        params.get("method", ""),
                        params.get("initiator", ""),
                        params.get("network_isolation_key", ""),
                    )
                )
            elif name == "SOCKET_BYTES_SENT" and "bytes" in params:
                sent[event["source"]["id"]].append(base64.b64decode(params["bytes"]))
            elif name == "UDP_BYTES_SENT" and "bytes" in params:
                self.datagrams.append(base64.b64decode(params["bytes"]))
        self.streams = [b"".join(chunks) for chunks in sent.values()]

    def http_requests(self) -> list[HttpRequest]:
        """Every HTTP/1.1 request written to a plain-text socket (keep-alive included).
        Streams that are not plain HTTP (TLS of the browser's own services) are left out
        here; `all_bytes_sent` still holds them."""
        parsed: list[HttpRequest] = []
        for stream in self.streams:
            if not _REQUEST_LINE.match(stream):
                continue
            rest = stream
            while rest:
                head, separator, rest = rest.partition(b"\r\n\r\n")
                if not separator:
                    raise AssertionError(f"a socket sent bytes that are not HTTP: {head[:60]!r}")
                line, *fields = head.decode("latin-1").split("\r\n")
                headers = {}
                for field in fields:
                    name, _, value = field.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                assert "chunked" not in headers.get("transfer-encoding", ""), line
                parsed.append(HttpRequest(line, headers, rest[:length]))
                rest = rest[length:]
        return parsed

    def all_bytes_sent(self) -> list[bytes]:
        return [*self.streams, *self.datagrams]
