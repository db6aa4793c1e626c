"""Video hashing: one PDQ hash per second of video, in python-threatexchange's vPDQ format.

Rules (every implementation, and every test, follows these):

* **Sampling.** We hash the frames shown at t = 0, 1, 2, ... seconds, measured from the
  presentation time of the first decoded frame. For each t the hashed frame is the one whose
  presentation interval [pts, next frame's pts) contains t, i.e. the last frame with
  pts <= t. The last frame's interval runs to its own end (pts + frame duration, or
  + 1 / average frame rate when the frame has no duration); that is the stream's end as
  decoded, so a video of duration d gives ceil(d) hashes (3.5 s -> t = 0, 1, 2, 3; 5.0 s ->
  t = 0..4). Times are compared as exact fractions of the stream's time base.
* **No timestamps.** A frame without a pts is placed at (its index / average frame rate)
  when the stream has no timestamps at all, or one frame period after the previous frame
  otherwise. A stream with neither timestamps nor a frame rate is a DecodeError.
* **Streaming.** The file is demuxed and decoded once, in order, with no seeking; only the
  latest decoded frame is kept, and a frame is converted to pixels only if it is hashed.
* **Limits.** Files over `MAX_VIDEO_BYTES` raise FileTooLargeError before decoding. Hashing
  stops (without error) after `MAX_VIDEO_FRAMES` hashes, i.e. the first hour of video.
* **Pixels.** ``frame.to_ndarray(format="rgb24")``: PyAV/swscale's YUV->RGB conversion with
  the colour matrix swscale picks (BT.601 unless the stream says otherwise), as Meta's vpdq
  (also swscale) does. The display rotation (``frame.rotation``, which FFmpeg fills from the
  stream's display matrix) is applied in multiples of 90 degrees; mirroring in the display
  matrix is ignored (known gap). Then the canonical rule for decoded pixels
  (`canonical.canonical_from_rgb`) and `pdq.pdq_from_canonical`, as for a PNG image.
* **Damage.** A packet the decoder rejects (InvalidDataError) is skipped and the previous
  frame simply covers its time. A demuxer error ends the stream. If the decoded stream ends
  more than `TRUNCATION_TOLERANCE_SECONDS` before the duration the container declares for
  it, the file is truncated: DecodeError (raised after the last hash, in the generator).
  A video from which no frame decodes is a DecodeError. Images (PNG, JPEG, GIF, ...) that
  FFmpeg would open as one-frame "videos" are UnsupportedMediaError, as are files with no
  video stream. No PyAV exception escapes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
import numpy.typing as npt

from takedown.errors import DecodeError, FileTooLargeError, InputError, UnsupportedMediaError
from takedown.hashing.canonical import canonical_from_rgb
from takedown.hashing.pdq import PdqHash, pdq_from_canonical

__all__ = [
    "MAX_VIDEO_BYTES",
    "MAX_VIDEO_FRAMES",
    "SECONDS_PER_HASH",
    "TRUNCATION_TOLERANCE_SECONDS",
    "VideoFrameHash",
    "hash_video",
    "iter_video_hashes",
    "parse_vpdq",
]

MAX_VIDEO_FRAMES = 3600
"""At most this many hashes per video: one hour at one hash per second."""

MAX_VIDEO_BYTES = 4 * 1024**3
"""Files larger than this (4 GiB) are refused with FileTooLargeError."""

SECONDS_PER_HASH = 1
"""One hash per second of video (vpdq's ``seconds_per_hash=1``)."""

TRUNCATION_TOLERANCE_SECONDS = 1.0
"""Decoded video may end this much before the stream's declared duration without error."""

_IMAGE_FORMATS = frozenset({"image2", "gif", "apng", "ico", "tiff", "webp"})
"""FFmpeg demuxers that open still images; FFmpeg's ``*_pipe`` demuxers are images too."""

VIDEO_CONTAINERS = frozenset(
    {
        "mov",
        "mp4",
        "m4a",
        "3gp",
        "3g2",
        "mj2",
        "matroska",
        "webm",
        "avi",
        "mpegts",
        "mpeg",
        "flv",
        "asf",
        "ogg",
        "h264",
        "hevc",
        "m4v",
        "mpegvideo",
        "ivf",
        "mjpeg",
        "yuv4mpegpipe",
    }
)
"""FFmpeg demuxers we accept. FFmpeg guesses generously (a text file opens as an ANSI-art
"video" through its tty demuxer), so anything else is refused as not a video."""

_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class VideoFrameHash:
    """The PDQ hash of the frame shown at `timestamp` seconds."""

    hex: str
    quality: int
    timestamp: float

    @property
    def vpdq(self) -> str:
        """python-threatexchange's vPDQ line: ``<hex>,<quality>,<seconds, 3 decimals>``."""
        return f"{self.hex},{self.quality},{self.timestamp:.3f}"

    @property
    def pdq(self) -> PdqHash:
        return PdqHash(hex=self.hex, quality=self.quality)


def parse_vpdq(line: str) -> VideoFrameHash:
    """Parse one ``<hex>,<quality>,<timestamp>`` line; InputError if it is not exactly that."""
    parts = line.strip().split(",")
    if len(parts) != 3:
        raise InputError(f"a vPDQ line is '<64 hex>,<quality>,<seconds>', got {line!r}")
    hex_, quality_text, time_text = parts
    if len(hex_) != 64 or not set(hex_) <= _HEX:
        raise InputError(f"vPDQ hash must be 64 lowercase hex characters, got {hex_!r}")
    if not quality_text.isascii() or not quality_text.isdigit():
        raise InputError(f"vPDQ quality must be an integer 0-100, got {quality_text!r}")
    quality = int(quality_text)
    if quality > 100:
        raise InputError(f"vPDQ quality must be an integer 0-100, got {quality}")
    try:
        timestamp = float(time_text)
    except ValueError:
        raise InputError(f"vPDQ timestamp must be a number of seconds, got {time_text!r}") from None
    if not math.isfinite(timestamp) or timestamp < 0:
        raise InputError(f"vPDQ timestamp must be finite and >= 0, got {time_text!r}")
    return VideoFrameHash(hex=hex_, quality=quality, timestamp=timestamp)


def hash_video(path: Path) -> list[VideoFrameHash]:
    """Hashes at t = 0, 1, 2, ... seconds (see the module docstring for the rules)."""
    return list(iter_video_hashes(path))


def iter_video_hashes(path: Path) -> Iterator[VideoFrameHash]:
    """Like `hash_video`, streaming. Errors found at the end (truncation) come after the hashes."""
    path = Path(path)
    _check_file(path)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise DecodeError(f"not a readable video ({_reason(exc)})", path=path) from None
    with container:
        stream = _video_stream(container, path)
        try:
            yield from _hash_stream(container, stream, path)
        except av.error.FFmpegError as exc:  # anything the per-packet handling did not expect
            raise DecodeError(
                f"the video could not be decoded ({_reason(exc)})", path=path
            ) from None


def _check_file(path: Path) -> None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise InputError("no such file; check the path", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", path=path) from None
    if path.is_dir():
        raise InputError("is a directory, not a video file", path=path)
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", path=path) from None
    if stat.st_size == 0:
        raise DecodeError("the file is empty", path=path)
    if stat.st_size > MAX_VIDEO_BYTES:
        raise FileTooLargeError(
            f"{stat.st_size} bytes is over the {MAX_VIDEO_BYTES}-byte limit for videos", path=path
        )


def _video_stream(container: Any, path: Path) -> Any:
    names = set(str(container.format.name).split(","))
    if names & _IMAGE_FORMATS or any(name.endswith("_pipe") for name in names):
        raise UnsupportedMediaError("this is an image, not a video; hash it as an image", path=path)
    if not names & VIDEO_CONTAINERS:
        raise UnsupportedMediaError("not a video container we accept", path=path)
    streams = list(container.streams.video)
    if not streams:
        raise UnsupportedMediaError("the file has no video stream (audio only?)", path=path)
    stream = streams[0]
    if stream.codec_context is None:
        raise UnsupportedMediaError("no decoder for this video codec", path=path)
    stream.thread_type = "AUTO"
    return stream


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def _frame_pixels(frame: Any) -> npt.NDArray[np.uint8]:
    pixels: npt.NDArray[np.uint8] = frame.to_ndarray(format="rgb24")
    rotation = getattr(frame, "rotation", 0) or 0
    quarter_turns = round(rotation / 90) % 4
    if quarter_turns:
        pixels = np.ascontiguousarray(np.rot90(pixels, quarter_turns))
    return pixels


def _hash_frame(frame: Any) -> PdqHash:
    return pdq_from_canonical(canonical_from_rgb(_frame_pixels(frame)))


class _Sampler:
    """Tracks the latest frame and emits it for every sample time its interval covers."""

    def __init__(self, stream: Any, path: Path) -> None:
        self.path = path
        rate = stream.average_rate or stream.guessed_rate
        self.period: Fraction | None = 1 / Fraction(rate) if rate else None
        self.origin_pts: int | None = None
        self.time_base: Fraction | None = None
        self.pending: Any = None
        self.pending_time = Fraction(0)
        self.pending_hash: PdqHash | None = None
        self.next_t = 0
        self.emitted = 0
        self.decoded = 0
        self.decoded_end = Fraction(0)

    @property
    def full(self) -> bool:
        return self.emitted >= MAX_VIDEO_FRAMES

    def _relative_time(self, frame: Any) -> Fraction:
        if frame.pts is not None and frame.time_base is not None:
            if self.origin_pts is None:
                if self.decoded == 0:
                    self.origin_pts, self.time_base = frame.pts, Fraction(frame.time_base)
                else:  # timestamps began mid-stream: keep the frame-period clock running
                    return self._next_by_period()
            assert self.time_base is not None
            return Fraction(frame.pts - self.origin_pts) * self.time_base
        if self.decoded == 0:
            return Fraction(0)
        return self._next_by_period()

    def _next_by_period(self) -> Fraction:
        if self.period is None:
            raise DecodeError(
                "frames have no timestamps and the stream no frame rate", path=self.path
            )
        return self.pending_time + self.period

    def _frame_duration(self, frame: Any) -> Fraction:
        if frame.duration and frame.time_base is not None:
            return Fraction(frame.duration) * Fraction(frame.time_base)
        return self.period or Fraction(0)

    def _emit_until(self, end: Fraction, *, inclusive: bool = False) -> Iterator[VideoFrameHash]:
        while not self.full and (self.next_t < end or (inclusive and self.next_t == end)):
            if self.pending_hash is None:
                self.pending_hash = _hash_frame(self.pending)
            h = self.pending_hash
            yield VideoFrameHash(hex=h.hex, quality=h.quality, timestamp=float(self.next_t))
            self.next_t += SECONDS_PER_HASH
            self.emitted += 1

    def add(self, frame: Any) -> Iterator[VideoFrameHash]:
        time = self._relative_time(frame)
        if self.pending is not None:
            yield from self._emit_until(time)
        self.pending, self.pending_time, self.pending_hash = frame, time, None
        self.decoded += 1

    def finish(self) -> Iterator[VideoFrameHash]:
        """Emit the last frame up to its end, and record that end in `decoded_end`."""
        if self.pending is None:
            raise DecodeError("no frame of the video could be decoded", path=self.path)
        duration = self._frame_duration(self.pending)
        end = self.pending_time + duration
        # A last frame with no known duration still counts at its own instant.
        yield from self._emit_until(end, inclusive=duration == 0)
        self.decoded_end = end


def _declared_duration(stream: Any) -> Fraction | None:
    if stream.duration and stream.time_base is not None:
        return Fraction(stream.duration) * Fraction(stream.time_base)
    return None


def _hash_stream(container: Any, stream: Any, path: Path) -> Iterator[VideoFrameHash]:
    sampler = _Sampler(stream, path)
    decode_errors = 0
    demux_failed = False
    packets = container.demux(stream)
    while not sampler.full:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError:
            demux_failed = True  # unreadable from here on: treat as the end of the data
            break
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            decode_errors += 1  # a damaged packet: the previous frame covers its time
            continue
        except av.error.FFmpegError as exc:
            raise DecodeError(f"the video decoder failed ({_reason(exc)})", path=path) from None
        for frame in frames:
            yield from sampler.add(frame)
            if sampler.full:
                break
    if sampler.full:
        return
    if sampler.pending is None:
        detail = f" ({decode_errors} damaged packets)" if decode_errors else ""
        raise DecodeError(f"no frame of the video could be decoded{detail}", path=path)
    yield from sampler.finish()
    declared = _declared_duration(stream)
    if declared is not None and sampler.decoded_end + Fraction(
        TRUNCATION_TOLERANCE_SECONDS
    ) < declared - _start_offset(stream, sampler):
        how = "unreadable" if demux_failed else "truncated"
        raise DecodeError(
            f"the video is {how}: decoded {float(sampler.decoded_end):.1f} s of the "
            f"{float(declared):.1f} s it declares",
            path=path,
        )


def _start_offset(stream: Any, sampler: _Sampler) -> Fraction:
    """How far the first decoded frame is after the stream's declared start."""
    if stream.start_time is None or sampler.origin_pts is None or sampler.time_base is None:
        return Fraction(0)
    return max(Fraction(0), Fraction(sampler.origin_pts - stream.start_time) * sampler.time_base)
