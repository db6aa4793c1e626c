"""Video hashing on real files: Meta's vpdq reference videos and small videos written with PyAV."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from takedown.errors import DecodeError, FileTooLargeError, InputError, UnsupportedMediaError
from takedown.hashing import video
from takedown.hashing.canonical import canonical_from_rgb
from takedown.hashing.pdq import hamming, pdq_from_canonical
from takedown.hashing.video import VideoFrameHash, hash_video, iter_video_hashes, parse_vpdq
from tests.conftest import VIDEO_REFERENCE

REFERENCE = VIDEO_REFERENCE
REFERENCE_VIDEOS = sorted(REFERENCE.glob("*.mp4"))


MEDIAN_BOUND = 3
"""Measured: the median distance to Meta's full-resolution vpdq hashes over all videos is 2 bits."""

PER_VIDEO_MEDIAN_BOUND = 8
"""Measured: per video, the median over frames of quality >= 50 is 0-6 bits (6 for the two
1280-pixel-wide videos, where the canonical 2x2 reduction departs from Meta's full frame)."""


@cache
def ours(path: Path) -> tuple[VideoFrameHash, ...]:
    return tuple(hash_video(path))


@cache
def reference(path: Path) -> tuple[tuple[float, int, str], ...]:
    """Meta's per-frame lines `frame,quality,hash,timestamp` as (timestamp, quality, hash)."""
    rows = []
    for line in (REFERENCE / "vpdq-hashes" / f"{path.stem}.txt").read_text().split():
        _, quality, hex_, timestamp = line.split(",")
        rows.append((float(timestamp), int(quality), hex_))
    return tuple(rows)


def reference_at(path: Path, t: float) -> tuple[float, int, str]:
    """The reference frame our rule selects: the largest timestamp <= t."""
    return max((row for row in reference(path) if row[0] <= t + 1e-9), key=lambda row: row[0])


def gradient(index: int, width: int = 96, height: int = 64) -> npt.NDArray[np.uint8]:
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([(x * 3 + index * 5) % 256, (y * 4 + index * 3) % 256, ((x + y) * 2) % 256], -1)
    pixels = img.astype(np.uint8)
    pixels[: height // 2, : width // 3] = 255  # an asymmetric block, so rotations differ
    return pixels


def rgb(frame: av.VideoFrame) -> npt.NDArray[np.uint8]:
    return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)


def write_video(
    path: Path,
    *,
    seconds: float = 3.5,
    fps: int = 10,
    codec: str = "mpeg4",
    rotation: int | None = None,
    corrupt_packets: frozenset[int] = frozenset(),
) -> Path:
    """A moving gradient; packets whose index is in `corrupt_packets` are replaced by noise."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"g": "5"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        count = 0
        frames = [
            av.VideoFrame.from_ndarray(gradient(i), format="rgb24")
            for i in range(int(seconds * fps))
        ]
        for frame in [*frames, None]:
            for packet in stream.encode(frame):
                if count in corrupt_packets:
                    noise = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
                    noise.pts, noise.dts, noise.time_base = packet.pts, packet.dts, packet.time_base
                    noise.stream = stream
                    packet = noise
                container.mux(packet)
                count += 1
    return path


# --- frame selection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["chair-19-sd-bar", "doorknob-hd-no-bar", "pattern-longer-no-bar", "test-padded-dimensions"],
)
def test_a_video_gives_one_hash_per_whole_second_it_covers(name: str) -> None:
    path = REFERENCE / f"{name}.mp4"
    duration = Fraction(len(reference(path)), 30)  # every reference video is 30 fps
    assert len(ours(path)) == math.ceil(duration)


def test_a_video_of_exactly_five_seconds_has_no_hash_at_five_seconds() -> None:
    hashes = ours(REFERENCE / "test-padded-dimensions.mp4")
    assert [h.timestamp for h in hashes] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_timestamps_are_whole_seconds_from_zero() -> None:
    hashes = ours(REFERENCE / "chair-19-sd-bar.mp4")
    assert [h.vpdq.rsplit(",", 1)[1] for h in hashes[:3]] == ["0.000", "1.000", "2.000"]
    assert [h.timestamp for h in hashes] == [float(t) for t in range(len(hashes))]


def test_a_synthetic_three_and_a_half_second_video_gives_four_hashes(tmp_path: Path) -> None:
    path = write_video(tmp_path / "gradient.mp4", seconds=3.5, fps=10)
    hashes = hash_video(path)
    assert [h.timestamp for h in hashes] == [0.0, 1.0, 2.0, 3.0]
    assert len({h.hex for h in hashes}) == 4  # the gradient moves, so every hash differs


def test_each_second_hashes_the_frame_on_screen_at_that_second(tmp_path: Path) -> None:
    path = write_video(tmp_path / "gradient.mp4", seconds=3.5, fps=10)
    with av.open(str(path)) as container:
        frames = [rgb(f) for f in container.decode(video=0)]
    expected = [pdq_from_canonical(canonical_from_rgb(frames[10 * t])).hex for t in range(4)]
    assert [h.hex for h in hash_video(path)] == expected


def test_the_generator_yields_the_same_hashes_as_the_list(tmp_path: Path) -> None:
    path = write_video(tmp_path / "gradient.mp4", seconds=2.2, fps=10)
    assert list(iter_video_hashes(path)) == hash_video(path)


def test_the_display_rotation_is_applied(tmp_path: Path) -> None:
    plain = write_video(tmp_path / "plain.mp4", seconds=1.0)
    rotated = write_video(tmp_path / "rotated.mp4", seconds=1.0, rotation=90)
    with av.open(str(plain)) as container:
        first = rgb(next(iter(container.decode(video=0))))
    # rotation=90 is counterclockwise, like np.rot90
    expected = pdq_from_canonical(canonical_from_rgb(np.ascontiguousarray(np.rot90(first))))
    assert hash_video(rotated)[0].hex == expected.hex
    assert hash_video(plain)[0].hex != expected.hex


def test_frames_without_timestamps_are_placed_by_index_over_the_frame_rate(tmp_path: Path) -> None:
    # A raw H.264 elementary stream carries no timestamps; FFmpeg reports 25 fps for it.
    path = tmp_path / "raw.h264"
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=10)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in [*range(35), None]:
            frame = None if i is None else av.VideoFrame.from_ndarray(gradient(i), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == 25
        frames = list(container.decode(video=0))
        assert all(f.pts is None for f in frames)
        pixels = [rgb(f) for f in frames]
    hashes = hash_video(path)  # 35 frames at 25 fps: 1.4 s
    assert [h.timestamp for h in hashes] == [0.0, 1.0]
    assert [h.hex for h in hashes] == [
        pdq_from_canonical(canonical_from_rgb(pixels[i])).hex for i in (0, 25)
    ]


def test_the_cap_on_hashed_frames_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "MAX_VIDEO_FRAMES", 3)
    hashes = hash_video(REFERENCE / "chair-19-sd-bar.mp4")
    assert [h.timestamp for h in hashes] == [0.0, 1.0, 2.0]


# --- agreement with Meta's vpdq --------------------------------------------------------------


def distances_to_reference(path: Path, min_quality: int = 0) -> list[int]:
    return [
        hamming(h.hex, ref_hex)
        for h in ours(path)
        for _, quality, ref_hex in [reference_at(path, h.timestamp)]
        if quality >= min_quality
    ]


@pytest.mark.parametrize("path", REFERENCE_VIDEOS, ids=lambda p: p.stem)
def test_every_good_frame_is_within_31_bits_of_metas_vpdq_hash(path: Path) -> None:
    distances = distances_to_reference(path, min_quality=50)
    assert distances
    assert max(distances) <= 31
    assert statistics.median(distances) <= PER_VIDEO_MEDIAN_BOUND


def test_the_median_distance_to_metas_vpdq_hashes_is_small() -> None:
    distances = [d for path in REFERENCE_VIDEOS for d in distances_to_reference(path)]
    assert statistics.median(distances) <= MEDIAN_BOUND


def test_qualities_match_metas_on_the_selected_frames() -> None:
    path = REFERENCE / "doorknob-hd-no-bar.mp4"
    ref_qualities = [reference_at(path, h.timestamp)[1] for h in ours(path)]
    assert [h.quality for h in ours(path)] == ref_qualities


# --- the vPDQ line format --------------------------------------------------------------------


def test_a_vpdq_line_round_trips_through_parse_vpdq() -> None:
    h = VideoFrameHash(hex="0123456789abcdef" * 4, quality=87, timestamp=12.0)
    assert h.vpdq == "0123456789abcdef" * 4 + ",87,12.000"
    assert parse_vpdq(h.vpdq) == h


def test_real_hashes_round_trip_through_parse_vpdq() -> None:
    for h in ours(REFERENCE / "pattern-sd-grey-bar.mp4"):
        assert parse_vpdq(h.vpdq) == h


@pytest.mark.parametrize(
    "line",
    [
        "",
        "abc",
        "0" * 64 + ",50",
        "0" * 64 + ",50,1.000,extra",
        "0" * 63 + ",50,1.000",
        "0" * 65 + ",50,1.000",
        "A" * 64 + ",50,1.000",
        "g" * 64 + ",50,1.000",
        "0" * 64 + ",101,1.000",
        "0" * 64 + ",-1,1.000",
        "0" * 64 + ",5.5,1.000",
        "0" * 64 + ",,1.000",
        "0" * 64 + ",50,-1.000",
        "0" * 64 + ",50,nan",
        "0" * 64 + ",50,inf",
        "0" * 64 + ",50,one",
    ],
)
def test_parse_vpdq_rejects_malformed_lines_with_an_input_error(line: str) -> None:
    with pytest.raises(InputError):
        parse_vpdq(line)


# --- bad input -------------------------------------------------------------------------------


def assert_names(error: pytest.ExceptionInfo[InputError], path: Path) -> None:
    assert error.value.path == str(path)
    assert str(path) in str(error.value)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.mp4"
    with pytest.raises(InputError) as error:
        hash_video(path)
    assert_names(error, path)


def test_an_empty_file_is_a_decode_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(DecodeError) as error:
        hash_video(path)
    assert_names(error, path)


def test_random_bytes_are_a_decode_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 100_000, dtype=np.uint8).tobytes())
    with pytest.raises(DecodeError) as error:
        hash_video(path)
    assert_names(error, path)


@pytest.mark.parametrize("name", ["chair-19-sd-bar", "test-padded-dimensions"])
def test_the_first_thirty_percent_of_an_mp4_is_a_decode_error(tmp_path: Path, name: str) -> None:
    # chair-19 has its index first (so frames decode and then stop short); test-padded
    # has it last (so the file does not open at all).
    data = (REFERENCE / f"{name}.mp4").read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) * 3 // 10])
    with pytest.raises(DecodeError) as error:
        hash_video(path)
    assert_names(error, path)


def test_an_audio_only_file_is_unsupported_media(tmp_path: Path) -> None:
    path = tmp_path / "audio.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(UnsupportedMediaError) as error:
        hash_video(path)
    assert_names(error, path)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".gif"])
def test_an_image_passed_as_a_video_is_unsupported_media(tmp_path: Path, suffix: str) -> None:
    from PIL import Image

    path = tmp_path / f"picture{suffix}"
    Image.fromarray(gradient(0)).save(path)
    with pytest.raises(UnsupportedMediaError) as error:
        hash_video(path)
    assert_names(error, path)


def test_a_file_over_the_byte_limit_is_too_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_video(tmp_path / "gradient.mp4", seconds=1.0)
    monkeypatch.setattr(video, "MAX_VIDEO_BYTES", path.stat().st_size - 1)
    with pytest.raises(FileTooLargeError) as error:
        hash_video(path)
    assert_names(error, path)


def test_a_few_corrupt_packets_mid_stream_still_hash_every_second(tmp_path: Path) -> None:
    path = write_video(tmp_path / "damaged.mp4", corrupt_packets=frozenset({12, 13, 22}))
    assert [h.timestamp for h in hash_video(path)] == [0.0, 1.0, 2.0, 3.0]


def test_a_video_whose_every_packet_is_corrupt_is_a_decode_error(tmp_path: Path) -> None:
    path = write_video(tmp_path / "ruined.mp4", corrupt_packets=frozenset(range(100)))
    with pytest.raises(DecodeError) as error:
        hash_video(path)
    assert_names(error, path)
