"""Robustness benchmark: which edited copies of a photo still match it, and what falsely matches.

For every photo of ../shared/data/photos-dev and every transform family of `bench.transforms`
one edited copy is made (parameters drawn from a seed per photo), saved the way a platform
receives it, and hashed the platform's way. Four methods are compared in the same run:

- MD5: the file's bytes (StopNCII's video method): only identical files match.
- PDQ: one whole-image PDQ per side, distance <= 31 (what Take It Down and HMA match on).
- PDQ+dihedral: the list holds the 8 rotations/mirrors of the original's PDQ.
- ours: the reporter's set (`fingerprint.image_signals`) against the platform's query set
  (`fingerprint.query_image_signals`) under `takedown.matching.rules`.

Recall is the share of copies that match their own original. False matches count every
(query, listed photo) pair of *different* photos that matches, over all originals and all
copies against all 300 lists. Writes bench/out/robustness.{md,json,png}; with --update-docs
also the table in docs/benchmarks.md.

    .venv/bin/python bench/robustness.py [--photos N] [--workers 2] [--update-docs]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.docs_block import replace_block  # noqa: E402
from bench.transforms import FAMILIES, make_copy  # noqa: E402
from takedown.hashing.fingerprint import (  # noqa: E402
    Signal,
    image_signals,
    query_image_signals,
)
from takedown.matching import rules  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "data" / "photos-dev"
OUT = ROOT / "bench" / "out"
METHODS = ("MD5", "PDQ", "PDQ+dihedral", "ours")
ORIGINAL = "original"
SEARCH_RADIUS = 64
"""Cross-photo pairs are collected up to this distance, to show the margin under the rule."""


@dataclass
class Item:
    """One hashed file: an original (family "original") or an edited copy."""

    photo: int
    family: str
    name: str
    md5: str
    signals: tuple[Signal, ...]
    seconds: float


@dataclass
class Listed:
    photo: int
    md5: str
    signals: tuple[Signal, ...]
    seconds: float


@dataclass
class MethodResult:
    hits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    false_pairs: list[tuple[int, int, str, int]] = field(default_factory=list)


def _original_bytes(path: Path, upscale: int) -> bytes:
    """The original file, or (with --upscale) the photo enlarged to stand for a camera
    original: LANCZOS, JPEG quality 95."""
    data = path.read_bytes()
    if upscale == 1:
        return data
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    large = image.resize((image.width * upscale, image.height * upscale), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    large.save(out, "JPEG", quality=95)
    return out.getvalue()


def _hash_photo(args: tuple[int, str, tuple[str, ...], int]) -> tuple[Listed, list[Item]]:
    """List one original the reporter's way; hash it and its copies the platform's way."""
    index, path, families, upscale = args
    data = _original_bytes(Path(path), upscale)
    md5 = hashlib.md5(data).hexdigest()
    items: list[Item] = []
    with tempfile.TemporaryDirectory() as tmp:
        original = Path(tmp) / "original.jpg"
        original.write_bytes(data)
        start = time.perf_counter()
        listed = Listed(index, md5, image_signals(original), time.perf_counter() - start)
        start = time.perf_counter()
        signals = query_image_signals(original)
        items.append(Item(index, ORIGINAL, ORIGINAL, md5, signals, time.perf_counter() - start))
        with Image.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
        for family in families:
            copy = make_copy(image, family, seed=index)
            file = Path(tmp) / f"copy{copy.suffix}"
            file.write_bytes(copy.data)
            start = time.perf_counter()
            signals = query_image_signals(file)
            seconds = time.perf_counter() - start
            md5 = hashlib.md5(copy.data).hexdigest()
            items.append(Item(index, family, copy.name, md5, signals, seconds))
    return listed, items


def method_lists(method: str, listed: Listed) -> tuple[Signal, ...]:
    if method == "PDQ":
        return tuple(s for s in listed.signals if s.variant == "original")
    if method == "PDQ+dihedral":
        return tuple(s for s in listed.signals if s.variant in _DIHEDRAL)
    if method == "ours":
        return listed.signals
    return ()


def method_queries(method: str, item: Item) -> tuple[Signal, ...]:
    if method in ("PDQ", "PDQ+dihedral"):
        return tuple(s for s in item.signals if s.variant == "original")
    if method == "ours":
        return item.signals
    return ()


_DIHEDRAL = frozenset(
    ["original", "rot90", "rot180", "rot270", "flip_h", "flip_v", "transpose", "transverse"]
)


def _words(signals: Sequence[Signal]) -> npt.NDArray[np.uint64]:
    raw = b"".join(bytes.fromhex(s.value) for s in signals)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def _matches(pairs: list[rules.PdqPair]) -> bool:
    kept = [
        p for p in pairs if p.distance <= rules.pair_threshold(p.query.variant, p.listed.variant)
    ]
    return rules.accept(kept) is not None


def evaluate(
    method: str, items: Sequence[Item], listed: Sequence[Listed]
) -> tuple[MethodResult, dict[str, list[int]]]:
    """Recall hits per family, false-matching pairs, and the closest cross-photo distances per
    variant class (for choosing thresholds)."""
    result = MethodResult()
    near: dict[str, list[int]] = defaultdict(list)
    if method == "MD5":
        by_md5: dict[str, set[int]] = defaultdict(set)
        for entry in listed:
            by_md5[entry.md5].add(entry.photo)
        for item in items:
            md5_owners = by_md5.get(item.md5, set())
            if item.photo in md5_owners:
                result.hits[item.family] += 1
            result.false_pairs.extend(
                (item.photo, o, item.family, 0) for o in md5_owners - {item.photo}
            )
        return result, near

    list_signals: list[Signal] = []
    list_owner: list[int] = []
    for entry in listed:
        usable = [s for s in method_lists(method, entry) if s.quality >= rules.MIN_QUALITY]
        list_signals.extend(usable)
        list_owner.extend([entry.photo] * len(usable))
    owners = np.array(list_owner)
    words = _words(list_signals)
    chunk = 256
    for start in range(0, len(items), chunk):
        batch = items[start : start + chunk]
        queries: list[Signal] = []
        query_item: list[int] = []
        for k, item in enumerate(batch):
            usable = [s for s in method_queries(method, item) if s.quality >= rules.MIN_QUALITY]
            queries.extend(usable)
            query_item.extend([k] * len(usable))
        if not queries:
            continue
        qwords = _words(queries)
        distances = np.zeros((len(queries), len(list_signals)), dtype=np.uint16)
        for w in range(4):
            distances += np.bitwise_count(qwords[:, w, None] ^ words[None, :, w]).astype(np.uint16)
        qi, li = np.nonzero(distances <= SEARCH_RADIUS)
        grouped: dict[tuple[int, int], list[rules.PdqPair]] = defaultdict(list)
        for q, entry_index in zip(qi.tolist(), li.tolist(), strict=True):
            item = batch[query_item[q]]
            owner = int(owners[entry_index])
            pair = rules.PdqPair(
                queries[q], list_signals[entry_index], int(distances[q, entry_index])
            )
            if owner != item.photo:
                klass = "patch" if pair.query.variant == "patch" else "whole"
                if rules.pair_threshold(pair.query.variant, pair.listed.variant) >= 0:
                    near[klass].append(pair.distance)
            grouped[(query_item[q], owner)].append(pair)
        for (k, owner), pairs in grouped.items():
            item = batch[k]
            if not _matches(pairs):
                continue
            if owner == item.photo:
                result.hits[item.family] += 1
            else:
                best = min(p.distance for p in pairs)
                result.false_pairs.append((item.photo, owner, item.family, best))
    return result, near


def percent(hits: int, total: int) -> str:
    return f"{100 * hits / total:.1f}" if total else "-"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plot(
    recall: dict[str, dict[str, float]], families: Sequence[str], path: Path, upscale: int
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 0.42 * len(families) + 2))
    height = 0.2
    y = np.arange(len(families))
    for m, method in enumerate(METHODS):
        values = [recall[method].get(f, 0.0) for f in families]
        ax.barh(y + (m - 1.5) * height, values, height, label=method)
    ax.set_yticks(y, families)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("recall (%): edited copies that match their original")
    size = f", originals enlarged x{upscale}" if upscale > 1 else ""
    ax.set_title(f"Recall on photos-dev by transform family{size}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=len(METHODS))
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=300, help="use the first N photos")
    parser.add_argument("--families", default="", help="comma-separated subset of families")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--upscale",
        type=int,
        default=1,
        help="enlarge each original this many times first (camera-sized originals)",
    )
    parser.add_argument("--out", default="robustness", help="name of the report files")
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args(argv)

    paths = sorted(PHOTOS.glob("*.jpg"))[: args.photos]
    if not paths:
        print(f"no photos under {PHOTOS}", file=sys.stderr)
        return 2
    families = tuple(args.families.split(",")) if args.families else tuple(FAMILIES)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        print(f"unknown families: {unknown}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        jobs = [(i, str(p), families, args.upscale) for i, p in enumerate(paths)]
        results = list(pool.map(_hash_photo, jobs))
    listed = [entry for entry, _ in results]
    items = [item for _, batch in results for item in batch]
    hashed = time.perf_counter() - started

    totals: dict[str, int] = defaultdict(int)
    for item in items:
        totals[item.family] += 1
    shown = (ORIGINAL, *families)
    recall: dict[str, dict[str, float]] = {}
    false_matches: dict[str, list[tuple[int, int, str, int]]] = {}
    margins: dict[str, dict[str, list[int]]] = {}
    for method in METHODS:
        result, near = evaluate(method, items, listed)
        recall[method] = {f: 100 * result.hits[f] / totals[f] for f in shown if totals[f]}
        false_matches[method] = result.false_pairs
        margins[method] = near

    rows = []
    for family in shown:
        goal = FAMILIES[family].goal if family in FAMILIES else None
        rows.append(
            [
                family,
                f">= {goal * 100:.0f}" if goal else "",
                *(f"{recall[m][family]:.1f}" for m in METHODS),
                str(totals[family]),
            ]
        )
    rows.append(["**false matches**", "0", *(str(len(false_matches[m])) for m in METHODS), ""])
    table = markdown_table(["family", "goal %", *METHODS, "copies"], rows)

    reporter_counts = [len(e.signals) for e in listed]
    query_counts = [len(i.signals) for i in items]
    reporter_ms = [1000 * e.seconds for e in listed]
    query_ms = [1000 * i.seconds for i in items]
    patch_near = sorted(margins["ours"].get("patch", []))[:5]
    whole_near = sorted(margins["ours"].get("whole", []))[:5]
    n_pairs = len(items) * (len(paths) - 1)
    report = "\n".join(
        [
            f"{len(paths)} photos of photos-dev x {len(families)} families = {len(items)} files "
            f"hashed the platform's way (originals included); each is checked against all "
            f"{len(paths)} lists: {len(items)} own-photo pairs for recall, {n_pairs:,} "
            f"different-photo pairs for false matches. Recall in %.",
            "",
            table,
            "",
            "- Signals per photo, reporter side (ours): mean "
            f"{statistics.mean(reporter_counts):.1f}, max {max(reporter_counts)}; "
            "hashing time per photo: median "
            f"{statistics.median(reporter_ms):.0f} ms.",
            f"- Hashes per upload, platform side (ours): mean {statistics.mean(query_counts):.1f}, "
            f"max {max(query_counts)}; hashing time per upload: median "
            f"{statistics.median(query_ms):.0f} ms, p90 {np.percentile(query_ms, 90):.0f} ms.",
            f"- Closest different-photo pairs under ours (bits): patch-patch {patch_near}, "
            f"whole-whole {whole_near}; thresholds: whole {rules.DEFAULT_THRESHOLD}, patch "
            f"{rules.PATCH_THRESHOLD}.",
            f"- Run time: {hashed:.0f} s of hashing with {args.workers} workers.",
        ]
    )
    OUT.mkdir(parents=True, exist_ok=True)
    name = args.out
    image = (ROOT / "docs" / "img" if args.update_docs else OUT) / f"{name}.png"
    plot(recall, list(shown), image, upscale=args.upscale)
    misses = [
        {"photo": paths[i.photo].name, "family": i.family, "name": i.name}
        for i in items
        if not _own_match(i, listed[i.photo])
    ][:2000]
    (OUT / f"{name}.json").write_text(
        json.dumps(
            {
                "recall": recall,
                "totals": totals,
                "false_matches": {
                    m: [
                        {
                            "query": paths[a].name,
                            "listed": paths[b].name,
                            "family": f,
                            "distance": d,
                        }
                        for a, b, f, d in v
                    ]
                    for m, v in false_matches.items()
                },
                "misses_ours": misses,
            },
            indent=1,
        )
    )
    (OUT / f"{name}.md").write_text(report + "\n")
    print(report)
    if args.update_docs:
        figure = f"\n\n![recall per family](img/{name}.png)"
        replace_block(name, report + figure, section=f"### {name}")
    return 0


def _own_match(item: Item, entry: Listed) -> bool:
    result, _ = evaluate("ours", [item], [entry])
    return result.hits[item.family] > 0


if __name__ == "__main__":
    raise SystemExit(main())
