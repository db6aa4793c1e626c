"""Reading hash lists: valid lines become ListedMedia, every bad line names its line number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from takedown.errors import InputError, ListFileError
from takedown.hashing.fingerprint import Signal
from takedown.hashing.video import VideoFrameHash
from takedown.matching.listfile import MAX_LINE_BYTES, ListedMedia, read_list

MD5 = "0123456789abcdef0123456789abcdef"
SHA256 = "ab" * 32
PDQ = "f0" * 32


def image_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "path": "photos/a.jpg",
        "kind": "image",
        "md5": MD5,
        "sha256": SHA256,
        "signals": [
            {"type": "pdq", "value": PDQ, "quality": 100, "variant": "original"},
            {"type": "pdq", "value": "0f" * 32, "quality": 42, "variant": "region:0.25:1"},
        ],
    }
    record.update(changes)
    return record


def video_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "path": "videos/b.mp4",
        "kind": "video",
        "md5": MD5,
        "sha256": SHA256,
        "signals": [],
        "vpdq": [f"{PDQ},100,0.000", f"{PDQ},7,1.000"],
    }
    record.update(changes)
    return record


def write_lines(tmp_path: Path, *lines: str | bytes) -> Path:
    path = tmp_path / "list.jsonl"
    path.write_bytes(b"".join((x.encode() if isinstance(x, str) else x) + b"\n" for x in lines))
    return path


def line(record: object) -> str:
    return json.dumps(record)


def test_an_image_and_a_video_record_are_read_with_every_field(tmp_path: Path) -> None:
    path = write_lines(tmp_path, line(image_record()), line(video_record()))
    image, video = read_list(path)
    assert image == ListedMedia(
        path="photos/a.jpg",
        kind="image",
        md5=MD5,
        sha256=SHA256,
        signals=(
            Signal("pdq", PDQ, 100, "original"),
            Signal("pdq", "0f" * 32, 42, "region:0.25:1"),
        ),
    )
    assert video.kind == "video"
    assert video.signals == ()
    assert video.vpdq == (VideoFrameHash(PDQ, 100, 0.0), VideoFrameHash(PDQ, 7, 1.0))


def test_blank_lines_and_error_records_are_skipped(tmp_path: Path) -> None:
    error = {"path": "broken.jpg", "error": "the file is empty", "code": "decode_failed"}
    path = write_lines(tmp_path, "", line(error), "   ", line(image_record()), "\r")
    assert [item.path for item in read_list(path)] == ["photos/a.jpg"]


def test_an_empty_file_is_an_empty_list(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert read_list(path) == []


def test_path_may_be_absent_or_null(tmp_path: Path) -> None:
    without = image_record()
    del without["path"]
    path = write_lines(tmp_path, line(without), line(image_record(path=None)))
    assert [item.path for item in read_list(path)] == [None, None]


BAD_LINES: dict[str, tuple[str | bytes, str]] = {
    "not json": ('{"kind": "image",', "not valid JSON"),
    "not utf-8": (b'{"path": "\xff"}', "not UTF-8"),
    "an array": ("[1, 2]", "expected a JSON object, got a list"),
    "a string": ('"hello"', "expected a JSON object, got a string"),
    "deep nesting": ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    "unknown field": (line(image_record(signal=[])), "unknown field 'signal'"),
    "missing kind": (line({k: v for k, v in image_record().items() if k != "kind"}), "'kind'"),
    "missing md5": (line({k: v for k, v in image_record().items() if k != "md5"}), "'md5'"),
    "path a number": (line(image_record(path=3)), "path must be a string"),
    "bad kind": (line(image_record(kind="audio")), "kind must be 'image' or 'video'"),
    "md5 upper case": (line(image_record(md5=MD5.upper())), "md5 must be 32 lowercase hex"),
    "md5 too short": (line(image_record(md5=MD5[:-1])), "md5 must be 32 lowercase hex"),
    "md5 a number": (line(image_record(md5=12)), "md5 must be 32 lowercase hex"),
    "sha256 not hex": (line(image_record(sha256="zz" * 32)), "sha256 must be 64 lowercase hex"),
    "sha256 too long": (line(image_record(sha256=SHA256 + "a")), "sha256 must be 64"),
    "signals not a list": (line(image_record(signals={})), "signals must be a list"),
    "signal not an object": (line(image_record(signals=[PDQ])), "signals[0] must be an object"),
}


def bad_signal(**changes: Any) -> str:
    signal = {"type": "pdq", "value": PDQ, "quality": 100, "variant": "original"}
    signal.update(changes)
    good = {"type": "pdq", "value": PDQ, "quality": 100, "variant": "original"}
    return line(image_record(signals=[good, signal]))


BAD_LINES.update(
    {
        "signal type": (bad_signal(type="md5"), "signals[1].type must be 'pdq'"),
        "signal value short": (bad_signal(value=PDQ[:-2]), "signals[1].value must be 64"),
        "signal value upper": (bad_signal(value=PDQ.upper()), "signals[1].value must be 64"),
        "quality over 100": (bad_signal(quality=101), "signals[1].quality must be an integer"),
        "quality negative": (bad_signal(quality=-1), "signals[1].quality must be an integer"),
        "quality a float": (bad_signal(quality=50.0), "signals[1].quality must be an integer"),
        "quality a boolean": (bad_signal(quality=True), "signals[1].quality must be an integer"),
        "quality a string": (bad_signal(quality="50"), "signals[1].quality must be an integer"),
        "variant empty": (bad_signal(variant=""), "signals[1].variant must be 1-64"),
        "variant too long": (bad_signal(variant="a" * 65), "signals[1].variant must be 1-64"),
        "variant upper case": (bad_signal(variant="Original"), "signals[1].variant must be"),
        "variant a space": (bad_signal(variant="a b"), "signals[1].variant must be"),
        "variant a slash": (bad_signal(variant="a/b"), "signals[1].variant must be"),
        "signal missing field": (
            line(image_record(signals=[{"type": "pdq", "value": PDQ, "quality": 100}])),
            "signals[0]: missing field 'variant'",
        ),
        "signal extra field": (bad_signal(extra=1), "signals[1]: unknown field 'extra'"),
        "vpdq on an image": (line(image_record(vpdq=[])), "vpdq is only for videos"),
        "video without vpdq": (
            line({k: v for k, v in video_record().items() if k != "vpdq"}),
            "missing field 'vpdq'",
        ),
        "vpdq not a list": (line(video_record(vpdq="x")), "vpdq must be a list"),
        "vpdq entry a number": (line(video_record(vpdq=[3])), "vpdq[0] must be a string"),
        "vpdq two fields": (line(video_record(vpdq=[f"{PDQ},100"])), "vpdq[0]: a vPDQ line"),
        "vpdq bad hash": (line(video_record(vpdq=["ab,100,0.000"])), "vpdq[0]: vPDQ hash"),
        "vpdq bad quality": (
            line(video_record(vpdq=[f"{PDQ},100,0.000", f"{PDQ},101,1.000"])),
            "vpdq[1]: vPDQ quality",
        ),
        "vpdq negative time": (line(video_record(vpdq=[f"{PDQ},9,-1"])), "vPDQ timestamp"),
    }
)


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_each_kind_of_bad_line_is_a_list_file_error_naming_its_line(
    tmp_path: Path, case: str
) -> None:
    bad, expected = BAD_LINES[case]
    path = write_lines(tmp_path, line(image_record()), "", bad, line(image_record()))
    with pytest.raises(ListFileError) as caught:
        read_list(path)
    error = caught.value
    assert error.line == 3
    assert error.code == "invalid_list"
    assert isinstance(error, InputError)
    assert expected in error.message
    assert str(error).startswith(f"{path}: line 3: ")


def test_messages_about_huge_values_stay_short(tmp_path: Path) -> None:
    path = write_lines(tmp_path, line(image_record(md5="a" * 100_000)))
    with pytest.raises(ListFileError) as caught:
        read_list(path)
    assert len(caught.value.message) < 200


def test_a_line_over_the_byte_limit_is_refused(tmp_path: Path) -> None:
    huge = line(image_record(path="x" * MAX_LINE_BYTES))
    path = write_lines(tmp_path, line(image_record()), huge)
    with pytest.raises(ListFileError) as caught:
        read_list(path)
    assert caught.value.line == 2
    assert "longer than" in caught.value.message


def test_a_list_over_the_line_limit_is_refused(tmp_path: Path) -> None:
    path = write_lines(tmp_path, *[line(image_record())] * 4)
    assert len(read_list(path, max_lines=4)) == 4
    with pytest.raises(ListFileError, match="more than 3 lines"):
        read_list(path, max_lines=3)


def test_a_missing_file_or_a_directory_is_a_list_file_error(tmp_path: Path) -> None:
    with pytest.raises(ListFileError, match="cannot read the list"):
        read_list(tmp_path / "missing.jsonl")
    with pytest.raises(ListFileError, match="cannot read the list"):
        read_list(tmp_path)
