"""Compare takedown's 1-fps video hashes with Meta's vpdq, and time both.

    .venv/bin/python bench/vpdq_compare.py [--reference DIR] [--repeats N]

For each reference video we hash at t = 0, 1, 2, ... s (takedown.hashing.video) and compare
each hash with the line of Meta's per-frame reference file (vpdq on full-resolution frames)
for the frame our rule selects: the largest reference timestamp <= t. We print the Hamming
distance distribution per video and overall (p90 is nearest-rank), and write it as markdown
to bench/out/vpdq_compare.md.

Speed: source frames decoded per wall-clock second (every frame must be decoded, 1 in ~30
is hashed), best of --repeats runs. If the `vpdq` package (Meta's C++ via Cython) imports,
we time ``vpdq.computeHash(path, seconds_per_hash=1)`` the same way, compare its hashes
with ours, and report the speed ratio.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from takedown.hashing.pdq import hamming
from takedown.hashing.video import hash_video

DEFAULT_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "video-reference"
OUT = Path(__file__).resolve().parent / "out" / "vpdq_compare.md"
THRESHOLDS = (2, 10, 31)


@dataclass(frozen=True)
class RefFrame:
    timestamp: float
    quality: int
    hex: str


@dataclass
class Row:
    name: str
    source_frames: int
    distances: list[int]
    ours_seconds: float
    vpdq_seconds: float | None = None
    vpdq_distances: list[int] | None = None


def load_reference(path: Path) -> list[RefFrame]:
    rows = []
    for line in path.read_text().split():
        _, quality, hex_, timestamp = line.split(",")
        rows.append(RefFrame(float(timestamp), int(quality), hex_))
    return rows


def select(reference: Sequence[RefFrame], t: float) -> RefFrame:
    """The reference frame our rule picks for time t: the largest timestamp <= t."""
    return max((r for r in reference if r.timestamp <= t + 1e-9), key=lambda r: r.timestamp)


def best_time(fn: Callable[[Path], object], path: Path, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(path)
        best = min(best, time.perf_counter() - start)
    return best


def p90(values: Sequence[int]) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def summary(distances: Sequence[int]) -> list[str]:
    n = len(distances)
    shares = [f"{100 * sum(d <= k for d in distances) / n:.0f}%" for k in THRESHOLDS]
    return [
        str(n),
        str(min(distances)),
        f"{statistics.median(distances):g}",
        str(p90(distances)),
        str(max(distances)),
        *shares,
    ]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def import_vpdq() -> tuple[Any, str]:
    try:
        import vpdq
    except ImportError as exc:
        return None, f"not installed ({exc})"
    return vpdq, "installed"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    reference_dir: Path = args.reference
    repeats: int = args.repeats

    vpdq, vpdq_status = import_vpdq()
    videos = [
        p
        for p in sorted(reference_dir.glob("*.mp4"))
        if (reference_dir / "vpdq-hashes" / f"{p.stem}.txt").exists()
    ]
    if not videos:
        print(f"no reference videos with vpdq-hashes under {reference_dir}", file=sys.stderr)
        return 1

    rows: list[Row] = []
    for path in videos:
        reference = load_reference(reference_dir / "vpdq-hashes" / f"{path.stem}.txt")
        ours = hash_video(path)
        distances = [hamming(h.hex, select(reference, h.timestamp).hex) for h in ours]
        row = Row(path.stem, len(reference), distances, best_time(hash_video, path, repeats))
        if vpdq is not None:
            features = vpdq.computeHash(str(path), seconds_per_hash=1)
            by_time = {round(float(f.timestamp), 3): str(f.hex) for f in features}
            row.vpdq_distances = [
                hamming(h.hex, by_time[h.timestamp]) for h in ours if h.timestamp in by_time
            ]
            row.vpdq_seconds = best_time(
                lambda p: vpdq.computeHash(str(p), seconds_per_hash=1), path, repeats
            )
        rows.append(row)
        print(f"  {path.stem}: {len(ours)} hashes, {row.ours_seconds:.2f} s", file=sys.stderr)

    header = ["video", "hashes", "min", "median", "p90", "max", *(f"<= {k}" for k in THRESHOLDS)]
    dist_rows = [[r.name, *summary(r.distances)] for r in rows]
    dist_rows.append(["**all**", *summary([d for r in rows for d in r.distances])])
    dist_table = markdown_table(header, dist_rows)

    speed_header = ["video", "source frames", "ours (s)", "ours (frames/s)"]
    if vpdq is not None:
        speed_header += ["vpdq (s)", "vpdq (frames/s)", "ours / vpdq time", "median vs vpdq"]
    speed_rows = []
    for r in rows:
        cells = [r.name, str(r.source_frames), f"{r.ours_seconds:.2f}"]
        cells.append(f"{r.source_frames / r.ours_seconds:.0f}")
        if r.vpdq_seconds is not None and r.vpdq_distances is not None:
            cells += [
                f"{r.vpdq_seconds:.2f}",
                f"{r.source_frames / r.vpdq_seconds:.0f}",
                f"{r.ours_seconds / r.vpdq_seconds:.2f}",
                f"{statistics.median(r.vpdq_distances):g}",
            ]
        speed_rows.append(cells)
    frames = sum(r.source_frames for r in rows)
    ours_total = sum(r.ours_seconds for r in rows)
    total = ["**all**", str(frames), f"{ours_total:.2f}", f"{frames / ours_total:.0f}"]
    if vpdq is not None:
        vpdq_total = sum(r.vpdq_seconds or 0.0 for r in rows)
        all_vpdq = [d for r in rows for d in (r.vpdq_distances or [])]
        total += [
            f"{vpdq_total:.2f}",
            f"{frames / vpdq_total:.0f}",
            f"{ours_total / vpdq_total:.2f}",
            f"{statistics.median(all_vpdq):g}",
        ]
    speed_rows.append(total)
    speed_table = markdown_table(speed_header, speed_rows)

    if vpdq is None:
        vpdq_note = (
            f"**The `vpdq` package is {vpdq_status}: only our speed is reported.** To install "
            "it: `apt-get install -y libavdevice-dev libavfilter-dev libavformat-dev "
            "libavcodec-dev libswresample-dev libswscale-dev pkg-config` then "
            "`.venv/bin/pip install vpdq`."
        )
    else:
        vpdq_note = (
            f"`vpdq` {version('vpdq')} is installed: timed "
            "`vpdq.computeHash(path, seconds_per_hash=1)` (its default thread count); "
            "'median vs vpdq' is the median distance between our hash and its hash at "
            "the same second."
        )
    report = "\n\n".join(
        [
            "# takedown video hashes vs Meta's vpdq",
            f"Reference: `{reference_dir}` ({len(rows)} videos with per-frame vpdq hashes; the "
            "`-128x128` files are ignored). Our hash at t is compared with the reference "
            "frame with the largest timestamp <= t. p90 is nearest-rank.",
            "## Hamming distance (bits) to Meta's reference hashes",
            dist_table,
            "## Speed (decode + hash at 1 fps)",
            f"Best of {repeats} runs; frames/s counts every source frame decoded. "
            f"Python {platform.python_version()} on {platform.machine()}.",
            vpdq_note,
            speed_table,
        ]
    )
    publish(report, OUT)
    return 0


def publish(report: str, path: Path) -> None:
    """Print a markdown report and write it to `path`."""
    print(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report + "\n")
    print(f"\nwrote {path}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
