"""Image hashing speed and fidelity: takedown's canonical rule vs the `pdqhash` binding.

    .venv/bin/python bench/hash_speed.py [--quick] [--repeats N]

1. Speed. Makes ~1 MP (1224x816) and ~12 MP (4240x2832) JPEGs (quality 90, LANCZOS
   upscales of 5 photos-dev photos per size) under bench/out/, then times, on one thread,
   end to end from the file: ours (``canonical_image`` -> ``pdq_from_canonical``, and the 8
   dihedral hashes from one DCT) against what python-threatexchange does (Pillow full
   decode, ``np.asarray(Image.open(p).convert("RGB"))``, then ``pdqhash.compute`` or
   ``pdqhash.compute_dihedral``). Methods are interleaved within each repeat; we report the
   median per-image time over repeats.
2. Fidelity. Hamming distance between our hash and ``pdqhash.compute`` on the
   full-resolution pixels (EXIF orientation applied with ``ImageOps.exif_transpose``) for
   every .jpg/.png of pdq-reference, all of photos-dev, the benchmark JPEGs and ~40 more
   large JPEGs (photos-dev upscaled x3 and x8, which the canonical rule reduces by 1/2 and
   1/8). Quality is pdqhash's. The criterion: <= 10 bits for quality >= 80.
3. Video. Source frames per second of ``hash_video`` vs Meta's ``vpdq`` (seconds_per_hash=1)
   on a few video-reference clips (skipped with --quick).

Writes the report as markdown to bench/out/hash_speed.md and prints it.
"""

# ruff: noqa: E402  (the thread pinning must precede the numpy import)
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import functools
import gc
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image, ImageOps
from PIL import features as pil_features

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import cpu_model, load_average
from bench.vpdq_compare import (
    DEFAULT_REFERENCE,
    import_vpdq,
    load_reference,
    markdown_table,
    p90,
    publish,
)
from takedown.hashing.canonical import canonical_image
from takedown.hashing.pdq import (
    hamming,
    pdq_dihedral_from_canonical,
    pdq_from_canonical,
)
from takedown.hashing.video import hash_video

DATA = Path("/work/shared/data")
PHOTOS = DATA / "photos-dev"
PDQ_REFERENCE = DATA / "pdq-reference"
OUT_DIR = Path(__file__).resolve().parent / "out"
INPUTS = OUT_DIR / "hash_speed_inputs"
REPORT = OUT_DIR / "hash_speed.md"

SIZES = {"1 MP": (1224, 816), "12 MP": (4240, 2832)}
GOALS = {"1 MP": 3.0, "12 MP": 10.0}
PHOTOS_PER_SIZE = 5
UPSCALES = (3, 8)
EXTRA_PER_UPSCALE = 20
QUICK_EXTRA_PER_UPSCALE = 4
JPEG_QUALITY = 90
MAX_BITS = 10
QUALITY_CUT = 80
HISTOGRAM_BINS = [(d, d) for d in range(MAX_BITS + 1)] + [(11, 15), (16, 31), (32, 256)]
VIDEOS = ("chair-22-sd-grey-bar", "pattern-sd-grey-bar", "doorknob-hd-no-bar", "pattern-hd-no-bar")

Rgb = npt.NDArray[np.uint8]
HashFn = Callable[[Path], object]


# ----------------------------------------------------------------------------- inputs


def photo_list() -> list[Path]:
    return sorted(PHOTOS.glob("*.jpg"))


def upscale_jpeg(source: Path, target: Path, size: tuple[int, int]) -> Path:
    """A LANCZOS upscale of `source` saved as a quality-90 JPEG (made once, then reused)."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(source) as image:
            big = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        tmp = target.with_suffix(".tmp")
        big.save(tmp, format="JPEG", quality=JPEG_QUALITY)
        tmp.replace(target)
    return target


def landscape(paths: Sequence[Path]) -> list[Path]:
    out = []
    for p in paths:
        with Image.open(p) as image:
            if image.width > image.height:
                out.append(p)
    return out


def benchmark_inputs() -> dict[str, list[Path]]:
    """PHOTOS_PER_SIZE JPEGs per size, from the first landscape photos of photos-dev."""
    sources = landscape(photo_list())[:PHOTOS_PER_SIZE]
    made: dict[str, list[Path]] = {}
    for label, (w, h) in SIZES.items():
        folder = INPUTS / f"{w}x{h}"
        made[label] = [upscale_jpeg(s, folder / f"{s.stem}.jpg", (w, h)) for s in sources]
    return made


def extra_inputs(per_upscale: int) -> dict[str, list[Path]]:
    """photos-dev upscaled x3 and x8 (any orientation), photos not used for the speed test."""
    photos = photo_list()[PHOTOS_PER_SIZE * 2 :]
    made: dict[str, list[Path]] = {}
    for i, factor in enumerate(UPSCALES):
        chosen = photos[i * per_upscale : (i + 1) * per_upscale]
        paths = []
        for s in chosen:
            with Image.open(s) as image:
                size = (image.width * factor, image.height * factor)
            paths.append(upscale_jpeg(s, INPUTS / f"x{factor}" / f"{s.stem}.jpg", size))
        made[f"photos-dev x{factor}"] = paths
    return made


# ----------------------------------------------------------------------------- methods


def ours(path: Path) -> object:
    return pdq_from_canonical(canonical_image(path))


def ours_dihedral(path: Path) -> object:
    return pdq_dihedral_from_canonical(canonical_image(path))


def ours_decode(path: Path) -> object:
    return canonical_image(path)


def peer_decode(path: Path) -> Rgb:
    """python-threatexchange's decoding: Pillow at full resolution, to RGB."""
    with Image.open(path) as image:
        pixels: Rgb = np.asarray(image.convert("RGB"))
    return pixels


def peer(path: Path) -> object:
    return pdqhash.compute(peer_decode(path))


def peer_dihedral(path: Path) -> object:
    return pdqhash.compute_dihedral(peer_decode(path))


def bits_hex(vector: npt.NDArray[Any]) -> str:
    """pdqhash's 256-bit vector as our hex: its element 0 is the first (highest) hex bit."""
    return np.packbits(np.asarray(vector).astype(bool)).tobytes().hex()


def peer_full_resolution(path: Path) -> tuple[str, int, tuple[int, int]]:
    """pdqhash on the full-resolution, EXIF-oriented pixels: hex, quality, (width, height)."""
    with Image.open(path) as image:
        oriented = ImageOps.exif_transpose(image)
        pixels = np.asarray(oriented.convert("RGB"))
    vector, quality = pdqhash.compute(pixels)
    return bits_hex(vector), int(quality), (pixels.shape[1], pixels.shape[0])


# ----------------------------------------------------------------------------- speed


@dataclass
class Timing:
    wall: list[float]  # seconds per image, one per repeat
    cpu: list[float]

    @property
    def median_ms(self) -> float:
        return 1000 * statistics.median(self.wall)

    @property
    def best_ms(self) -> float:
        return 1000 * min(self.wall)

    @property
    def cpu_ms(self) -> float:
        return 1000 * statistics.median(self.cpu)


def time_methods(
    methods: dict[str, HashFn], paths: Sequence[Path], repeats: int
) -> dict[str, Timing]:
    """Per-image time of each method: one pass over `paths` per repeat, methods interleaved
    (and rotated each repeat) so that load from other processes hits them all alike."""
    names = list(methods)
    for name in names:  # warm-up: page cache, lru caches of the PDQ matrices, imports
        for p in paths:
            methods[name](p)
    timings = {name: Timing([], []) for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = methods[name]
            gc.collect()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for p in paths:
                fn(p)
            wall1, cpu1 = time.perf_counter(), time.process_time()
            timings[name].wall.append((wall1 - wall0) / len(paths))
            timings[name].cpu.append((cpu1 - cpu0) / len(paths))
    return timings


SPEED_METHODS: dict[str, HashFn] = {
    "ours: canonical_image + pdq_from_canonical": ours,
    "peer: Pillow full decode + pdqhash.compute": peer,
    "ours, 8 dihedral: + pdq_dihedral_from_canonical": ours_dihedral,
    "peer, 8 dihedral: + pdqhash.compute_dihedral": peer_dihedral,
    "(ours decode only: canonical_image)": ours_decode,
    "(peer decode only: Pillow full decode)": peer_decode,
}
COMPARED = {
    "ours: canonical_image + pdq_from_canonical": "peer: Pillow full decode + pdqhash.compute",
    "ours, 8 dihedral: + pdq_dihedral_from_canonical": (
        "peer, 8 dihedral: + pdqhash.compute_dihedral"
    ),
    "(ours decode only: canonical_image)": "(peer decode only: Pillow full decode)",
}


def speed_section(inputs: dict[str, list[Path]], repeats: int) -> tuple[str, dict[str, float]]:
    header = [
        "method",
        "ms / image (median)",
        "best",
        "CPU ms (median)",
        "images / s / core",
        "ours / peer (images/s)",
    ]
    parts: list[str] = []
    ratios: dict[str, float] = {}
    for label, paths in inputs.items():
        print(f"  timing {label} ({len(paths)} images x {repeats} repeats)", file=sys.stderr)
        timings = time_methods(SPEED_METHODS, paths, repeats)
        rows = []
        for name, t in timings.items():
            ratio = ""
            if name in COMPARED:
                r = timings[COMPARED[name]].median_ms / t.median_ms
                ratio = f"**{r:.1f}x**"
                ratios[f"{label} {name}"] = r
            rows.append(
                [
                    name,
                    f"{t.median_ms:.1f}",
                    f"{t.best_ms:.1f}",
                    f"{t.cpu_ms:.1f}",
                    f"{1000 / t.median_ms:.0f}",
                    ratio,
                ]
            )
        w, h = Image.open(paths[0]).size
        mean_bytes = statistics.mean(p.stat().st_size for p in paths)
        main = ratios[f"{label} ours: canonical_image + pdq_from_canonical"]
        goal = GOALS[label]
        verdict = "met" if main >= goal else "**not met**"
        parts += [
            f"### {label}: {w}x{h} JPEG, quality {JPEG_QUALITY}",
            f"{len(paths)} images, mean file size {mean_bytes / 1e6:.2f} MB; "
            f"goal >= {goal:g}x: {verdict} ({main:.1f}x).",
            markdown_table(header, rows),
        ]
    return "\n\n".join(parts), ratios


# ----------------------------------------------------------------------------- fidelity


@dataclass(frozen=True)
class Fidelity:
    group: str
    path: Path
    size: tuple[int, int]
    quality: int
    distance: int
    factor: int


def fidelity_rows(groups: dict[str, list[Path]]) -> tuple[list[Fidelity], list[str]]:
    rows: list[Fidelity] = []
    failures: list[str] = []
    for group, paths in groups.items():
        print(f"  fidelity {group} ({len(paths)} images)", file=sys.stderr)
        for p in paths:
            try:
                canonical = canonical_image(p)
                mine = pdq_from_canonical(canonical)
                theirs, quality, size = peer_full_resolution(p)
            except Exception as exc:  # report and go on: one odd file must not stop the run
                failures.append(f"{p}: {type(exc).__name__}: {exc}")
                continue
            distance = hamming(mine.hex, theirs)
            rows.append(Fidelity(group, p, size, quality, distance, canonical.factor))
    return rows, failures


def distance_summary(distances: Sequence[int]) -> list[str]:
    if not distances:
        return ["0", "", "", "", "", ""]
    within = sum(d <= MAX_BITS for d in distances)
    return [
        str(len(distances)),
        f"{statistics.median(distances):g}",
        str(p90(distances)),
        str(max(distances)),
        f"{100 * within / len(distances):.1f}%",
        str(len(distances) - within),
    ]


def fidelity_section(rows: Sequence[Fidelity], failures: Sequence[str]) -> tuple[str, str]:
    groups = list(dict.fromkeys(r.group for r in rows))
    header = [
        "images",
        "quality",
        "n",
        "median",
        "p90",
        "max",
        f"<= {MAX_BITS} bits",
        f"> {MAX_BITS} bits",
    ]
    table = []
    for group in [*groups, "**all**"]:
        members = [r for r in rows if group == "**all**" or r.group == group]
        reduced = [r for r in members if r.factor > 1]
        name = f"{group} ({len(reduced)} reduced)"
        for label, keep in ((f">= {QUALITY_CUT}", True), ("all", False)):
            chosen = [r.distance for r in members if r.quality >= QUALITY_CUT or not keep]
            table.append([name, label, *distance_summary(chosen)])
    hist_header = ["distance (bits)", f"quality >= {QUALITY_CUT}", "all", "of which reduced"]
    hist = []
    for lo, hi in HISTOGRAM_BINS:
        sel = [r for r in rows if lo <= r.distance <= hi]
        label = str(lo) if lo == hi else f"{lo}-{hi}" if hi < 256 else f">= {lo}"
        good = sum(r.quality >= QUALITY_CUT for r in sel)
        hist.append([label, str(good), str(len(sel)), str(sum(r.factor > 1 for r in sel))])
    outliers = sorted((r for r in rows if r.distance > MAX_BITS), key=lambda r: -r.distance)
    outlier_lines = [
        f"- `{r.path.relative_to(DATA) if r.path.is_relative_to(DATA) else r.path.name}` "
        f"({r.size[0]}x{r.size[1]}, quality {r.quality}, reduced 1/{r.factor}): "
        f"{r.distance} bits"
        for r in outliers
    ]
    good_all = [r.distance for r in rows if r.quality >= QUALITY_CUT]
    worst = max(good_all) if good_all else 0
    verdict = "met" if worst <= MAX_BITS else "**not met**"
    parts = [
        markdown_table(header, table),
        f"Criterion (<= {MAX_BITS} bits for every image of quality >= {QUALITY_CUT}): "
        f"{verdict}, max {worst} bits over {len(good_all)} images.",
        "Histogram over all the images above:",
        markdown_table(hist_header, hist),
    ]
    if outlier_lines:
        parts += [f"Images more than {MAX_BITS} bits apart:", "\n".join(outlier_lines)]
    if failures:
        parts += ["Not hashed:", "\n".join(f"- {f}" for f in failures)]
    headline = (
        f"{len(good_all)} images of quality >= {QUALITY_CUT}: median "
        f"{statistics.median(good_all):g}, p90 {p90(good_all)}, max {worst} bits"
        if good_all
        else "no images"
    )
    return "\n\n".join(parts), headline


def pdq_reference_images() -> list[Path]:
    return sorted(p for p in PDQ_REFERENCE.rglob("*") if p.suffix.lower() in {".jpg", ".png"})


# ----------------------------------------------------------------------------- video


def video_size(path: Path) -> str:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return f"{stream.codec_context.width}x{stream.codec_context.height}"


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU (all threads of this process) seconds over `repeats` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        gc.collect()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    return statistics.median(walls), statistics.median(cpus)


def video_section(repeats: int) -> tuple[str, str]:
    vpdq, status = import_vpdq()
    if vpdq is None:
        return f"Skipped: the `vpdq` package is {status}.", "vpdq not installed"
    methods: dict[str, Callable[[Path], object]] = {
        "ours (hash_video)": hash_video,
        "vpdq, thread_count=1": lambda p: vpdq.computeHash(
            str(p), seconds_per_hash=1, thread_count=1
        ),
        "vpdq, default threads": lambda p: vpdq.computeHash(str(p), seconds_per_hash=1),
    }
    totals = {name: [0.0, 0.0] for name in methods}
    rows = []
    frames_total = 0
    for stem in VIDEOS:
        path = DEFAULT_REFERENCE / f"{stem}.mp4"
        frames = len(load_reference(DEFAULT_REFERENCE / "vpdq-hashes" / f"{stem}.txt"))
        frames_total += frames
        print(f"  video {stem}", file=sys.stderr)
        cells = [stem, video_size(path), str(frames)]
        for name, fn in methods.items():
            fn(path)  # warm-up
            wall, cpu = timed(functools.partial(fn, path), repeats)
            totals[name][0] += wall
            totals[name][1] += cpu
            cells += [f"{frames / wall:.0f}", f"{frames / cpu:.0f}"]
        rows.append(cells)
    total_cells = ["**all**", "", str(frames_total)]
    for wall, cpu in totals.values():
        total_cells += [f"**{frames_total / wall:.0f}**", f"**{frames_total / cpu:.0f}**"]
    rows.append(total_cells)
    header = ["video", "size", "frames"]
    for name in methods:
        header += [f"{name}: frames/s", "frames/CPU-s"]
    ours_wall, ours_cpu = totals["ours (hash_video)"]
    one_wall, _ = totals["vpdq, thread_count=1"]
    def_wall, def_cpu = totals["vpdq, default threads"]
    headline = (
        f"ours/vpdq frames per second: {def_wall / ours_wall:.2f} (wall, vpdq default threads), "
        f"{one_wall / ours_wall:.2f} (wall, vpdq 1 thread), {def_cpu / ours_cpu:.2f} (per CPU-s)"
    )
    text = "\n\n".join(
        [
            f"`vpdq` {version('vpdq')}, `vpdq.computeHash(path, seconds_per_hash=1)`. Frames "
            "counts every source frame (all are decoded; one per second is hashed). Median "
            f"of {repeats} runs after a warm-up. frames/s is wall clock; frames/CPU-s divides "
            "by the CPU time of all the process's threads (ours lets FFmpeg pick its decoder "
            "threads, `thread_type='AUTO'`; the BLAS is pinned to one thread).",
            markdown_table(header, rows),
            headline + ".",
        ]
    )
    return text, headline


# ----------------------------------------------------------------------------- report


def machine_section() -> str:
    vpdq, _ = import_vpdq()
    load = load_average()
    libs = [
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"Pillow {version('pillow')} (libjpeg {pil_features.version('jpg')})",
        f"pdqhash {version('pdqhash')}",
        f"PyAV {av.__version__}",
    ]
    if vpdq is not None:
        libs.append(f"vpdq {version('vpdq')}")
    return "\n".join(
        [
            f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs), {platform.machine()}, "
            f"{platform.system()} {platform.release()}",
            f"- {', '.join(libs)}",
            "- One thread: OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = MKL_NUM_THREADS = 1, set "
            "before numpy is imported; Pillow and pdqhash are single-threaded.",
            f"- Load average at the start (1/5/15 min): {load}; other work shared the machine.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and images, no video")
    parser.add_argument("--repeats", type=int, default=None, help="speed repeats (default 15)")
    args = parser.parse_args(argv)
    quick: bool = args.quick
    repeats: int = args.repeats or (3 if quick else 15)
    command = " ".join([".venv/bin/python bench/hash_speed.py", *(argv or sys.argv[1:])])
    started = time.perf_counter()

    machine = machine_section()
    print("making inputs", file=sys.stderr)
    bench = benchmark_inputs()
    extras = extra_inputs(QUICK_EXTRA_PER_UPSCALE if quick else EXTRA_PER_UPSCALE)

    print("speed", file=sys.stderr)
    speed_text, ratios = speed_section(bench, repeats)

    print("fidelity", file=sys.stderr)
    groups = {
        "pdq-reference (.jpg, .png)": pdq_reference_images(),
        "photos-dev": photo_list(),
        "benchmark 1 MP + 12 MP": [p for paths in bench.values() for p in paths],
        **extras,
    }
    fid_rows, failures = fidelity_rows(groups)
    fidelity_text, fidelity_headline = fidelity_section(fid_rows, failures)

    if quick:
        video_text, video_headline = "Skipped (--quick).", "skipped (--quick)"
    else:
        print("video", file=sys.stderr)
        video_text, video_headline = video_section(3)

    main_ratio = "ours: canonical_image + pdq_from_canonical"
    dih_ratio = "ours, 8 dihedral: + pdq_dihedral_from_canonical"
    key = [
        f"- Speed, ours vs peer (images/s): {ratios['1 MP ' + main_ratio]:.1f}x at 1 MP "
        f"(goal >= {GOALS['1 MP']:g}x), {ratios['12 MP ' + main_ratio]:.1f}x at 12 MP "
        f"(goal >= {GOALS['12 MP']:g}x); with 8 dihedral hashes "
        f"{ratios['1 MP ' + dih_ratio]:.1f}x and {ratios['12 MP ' + dih_ratio]:.1f}x.",
        f"- Distance to pdqhash on full-resolution pixels: {fidelity_headline} "
        f"(criterion <= {MAX_BITS}).",
        f"- Video: {video_headline}.",
    ]
    report = "\n\n".join(
        [
            "# Image hashing speed and fidelity: takedown vs pdqhash",
            f"Command: `{command}` (took {time.perf_counter() - started:.0f} s).",
            machine,
            "## Key numbers",
            "\n".join(key),
            "## Speed, end to end from the file, one core",
            "Ours: `canonical_image(path)` (JPEG decoded with libjpeg's DCT scaling) then "
            "`pdq_from_canonical`. Peer, as python-threatexchange does it: "
            '`np.asarray(Image.open(p).convert("RGB"))` then `pdqhash.compute` (Meta\'s C++). '
            f"Per-image time = one pass over the {PHOTOS_PER_SIZE} images / "
            f"{PHOTOS_PER_SIZE}; median (and best) of {repeats} passes, the methods "
            "interleaved in every repeat. images/s = 1000 / median ms. The inputs are LANCZOS "
            "upscales of 481x321 photos, smoother than camera photos, so their files are "
            "smaller and cheaper to entropy-decode than a camera's at the same size.",
            speed_text,
            "## Fidelity: Hamming distance to pdqhash on the full-resolution pixels",
            "Ours by the canonical rule from the file; peer `pdqhash.compute` on "
            '`ImageOps.exif_transpose(Image.open(p)).convert("RGB")` at full resolution. '
            "Quality is pdqhash's. 'reduced' counts images the canonical rule decodes below "
            "full resolution (photos-dev, 481x321, is not reduced). p90 is nearest-rank. "
            "Images with alpha differ in RGB rule too: we composite over white, "
            '`convert("RGB")` drops alpha.',
            fidelity_text,
            "## Video: takedown `hash_video` vs Meta's `vpdq`",
            video_text,
        ]
    )
    publish(report, REPORT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
