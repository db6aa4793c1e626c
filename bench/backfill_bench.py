"""Backfill throughput: stored content hashes re-matched per second, local engine vs Ray.

    .venv/bin/python bench/backfill_bench.py [--stored 200000[,2000000]] [--signals 10000]
        [--workers 2] [--engines local,ray] [--repeat 2] [--update-docs]

Builds an SQLite agent store in a temporary directory: `--stored` content hashes (photos of
9 hashes each, as `index-content` records them: the file's MD5, the whole picture, the
trimmed picture and 6 patches), all matched by an earlier backfill, and `--signals` new listed
signals (PDQ, whole pictures and patches, 1 % video MD5s), of which 100 are planted within
reach of stored photos. Then, per engine, times one `takedown platform backfill` run end to
end (read the store, match, record the review items, move the watermark), resetting the
watermark between repeats; the best of `--repeat` runs counts. Separately, the matching alone:
`match_batch` over the same blocks, preloaded, in this process (one core), and each engine's
`run` over them. Ray's start-up is timed apart and not counted.

Writes bench/out/backfill_bench.md and prints it; with --update-docs also the section between
the backfill markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from takedown.platform.backfill import (
    WATERMARK_KEY,
    Batch,
    Engine,
    LocalEngine,
    RayEngine,
    SignalSet,
    backfill,
)
from takedown.platform.store import open_store
from takedown.platform.tables import (
    agent_meta,
    content,
    content_signal,
    feedback_outbox,
    review_item,
    signal,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.docs_block import replace_block  # noqa: E402
from bench.machine import cpu_model, load_average  # noqa: E402

OUT = ROOT / "bench" / "out" / "backfill_bench.md"
MARKER = "backfill"
HEADING = "## Backfill (bench/backfill_bench.py)"
PLANTED = 100
HASHES_PER_ITEM = 9


@dataclass(frozen=True)
class Run:
    engine: str
    workers: int
    seconds: float
    match_seconds: float
    hashes: int
    matches: int
    first_seconds: float
    """The first run, end to end: with the engine's workers still starting (cold)."""


def populate(engine: sa.Engine, stored: int, signals: int, seed: int) -> None:
    """Content already backfilled at seq 0 and `signals` new signals at seq 1..signals."""
    rng = np.random.default_rng(seed)
    items = max(1, stored // HASHES_PER_ITEM)
    now = datetime.now(UTC)
    words = rng.integers(0, 2**63, size=(items * (HASHES_PER_ITEM - 1), 4), dtype=np.uint64)
    words |= rng.integers(0, 2, size=words.shape, dtype=np.uint64) << np.uint64(63)
    hexes = [row.tobytes().hex() for row in words.astype(">u8")]
    variants = ["original", "trimmed", *["patch"] * 6]
    with engine.begin() as connection:
        connection.execute(
            content.insert(),
            [
                {
                    "id": i + 1,
                    "ref": f"/media/{i:07d}.jpg",
                    "kind": "image",
                    "md5": f"{i:032x}",
                    "sha256": f"{i:064x}",
                    "indexed_at": now,
                    "backfilled_seq": 0,
                }
                for i in range(items)
            ],
        )
        rows = []
        for i in range(items):
            rows.append(
                {
                    "content_id": i + 1,
                    "type": "md5",
                    "variant": "file",
                    "value": f"{i:032x}",
                    "quality": 100,
                }
            )
            for k, variant in enumerate(variants):
                rows.append(
                    {
                        "content_id": i + 1,
                        "type": "pdq",
                        "variant": variant,
                        "value": hexes[i * len(variants) + k],
                        "quality": 90,
                    }
                )
        connection.execute(content_signal.insert(), rows)
        listed = []
        python_rng = random.Random(seed)
        for n in range(signals):
            seq = n + 1
            if n < PLANTED:  # a near-copy of a stored whole picture: a match
                item = python_rng.randrange(items)
                value = _flip(hexes[item * len(variants)], python_rng.randrange(32), python_rng)
                listed.append(_signal(value, "rot90", seq))
            elif n % 100 == 0:
                listed.append(_signal(f"{python_rng.getrandbits(128):032x}", "file", seq, "md5"))
            else:
                value = f"{python_rng.getrandbits(256):064x}"
                listed.append(_signal(value, "patch" if n % 3 == 0 else "original", seq))
        connection.execute(signal.insert(), listed)


def _signal(value: str, variant: str, seq: int, type_: str = "pdq") -> dict[str, object]:
    return {
        "list": "adult",
        "type": type_,
        "value": value,
        "quality": 90,
        "variant": variant,
        "added_seq": seq,
    }


def _flip(value: str, bits: int, rng: random.Random) -> str:
    number = int(value, 16)
    for position in rng.sample(range(256), bits):
        number ^= 1 << position
    return f"{number:064x}"


def reset(engine: sa.Engine) -> None:
    """As before the run: watermark 0, no review items, no feedback waiting."""
    with engine.begin() as connection:
        connection.execute(agent_meta.delete().where(agent_meta.c.key == WATERMARK_KEY))
        connection.execute(review_item.delete())
        connection.execute(feedback_outbox.delete())


class Timed:
    """An engine wrapper that reads every block first, then times the inner engine's run:
    the matching alone, without the store reads."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.name = inner.name
        self.seconds = 0.0

    def run(self, blocks: Iterable[Batch], signals: SignalSet) -> Iterator[Batch]:
        loaded = list(blocks)
        started = time.perf_counter()
        yield from self.inner.run(loaded, signals)
        self.seconds += time.perf_counter() - started

    def close(self) -> None:
        """The inner engine is closed by whoever made it."""


def timed_backfill(engine: sa.Engine, runner: Engine, workers: int, repeat: int) -> Run:
    """The best of `repeat` backfill runs (end to end), with its matching-alone time, and
    the first (cold) run's time."""
    best: Run | None = None
    first = 0.0
    for number in range(repeat):
        reset(engine)
        timed = Timed(runner)
        report = backfill(engine, timed)
        run = Run(
            runner.name,
            workers,
            report.seconds,
            timed.seconds,
            report.hashes_checked,
            len(report.matches),
            first,
        )
        if number == 0:
            first = report.seconds
        if best is None or run.seconds < best.seconds:
            best = run
    assert best is not None
    return Run(**{**best.__dict__, "first_seconds": first})


def machine() -> list[str]:
    import ray

    cpu, load = cpu_model(), load_average()

    return [
        f"- CPU: {cpu} ({os.cpu_count()} logical CPUs), {platform.machine()}, "
        f"Linux {platform.release()}.",
        f"- Python {platform.python_version()}, numpy {np.__version__}, Ray {ray.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, SQLAlchemy {sa.__version__}.",
        f"- Load average at the start (1/5/15 min): {load}. The machine was shared with other "
        "work while this ran (other developers' tests and builds): treat the figures as "
        "indicative and re-run on a quiet machine.",
    ]


def report(
    args: argparse.Namespace,
    sizes: list[tuple[int, list[Run]]],
    ray_start: float | None,
    took: float,
) -> str:
    lines = [
        f"Command: `bench/backfill_bench.py --stored {args.stored} --signals {args.signals} "
        f"--workers {args.workers} --engines {args.engines} --repeat {args.repeat}` "
        f"(took {took:.0f} s).",
        "",
        *machine(),
        "",
        f"Stored content hashes (photos of {HASHES_PER_ITEM} hashes) re-matched against "
        f"{args.signals:,} new signals ({PLANTED} planted matches), SQLite store. End to "
        "end: one `backfill` run (read the store, match, record the review items, move the "
        f"watermark), best of {args.repeat} with the engine's workers up. Matching alone: the "
        "engine's run over blocks already in memory. First run, cold: the first run end to "
        "end, while the engine's worker processes start (each imports numpy and loads the "
        "compiled index kernels); a `takedown platform backfill` command pays this once per "
        "invocation.",
    ]
    for stored, runs in sizes:
        lines += [
            "",
            f"#### {stored:,} stored hashes x {args.signals:,} new signals",
            "",
            "| engine | processes | end to end (s) | stored hashes/s | matching alone (s) "
            "| stored hashes/s | first run, cold (s) | matches |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for run in runs:
            lines.append(
                f"| {run.engine} | {run.workers} | {run.seconds:.2f} | "
                f"{_rate(run.hashes, run.seconds)} | {run.match_seconds:.2f} | "
                f"{_rate(run.hashes, run.match_seconds)} | {run.first_seconds:.2f} | "
                f"{run.matches} |"
            )
    if ray_start is not None:
        lines += ["", f"Starting the local Ray (not counted above) took {ray_start:.1f} s."]
    lines += [
        "",
        "Both engines run the same batch function on the same blocks and, on one machine, "
        "share the same cores; the local pool also pickles each block through a pipe, where "
        "Ray hands it over in shared memory. Differences between them here are partly noise "
        "from the shared machine. Ray is there to spread the work over a cluster "
        "(`--ray-address`) when the stored corpus outgrows one machine. The rest of the "
        "end-to-end time is reading the store (SQLite) and recording each match as a review "
        "item (one durable transaction per match).",
    ]
    return "\n".join(lines)


def _rate(hashes: int, seconds: float) -> str:
    return f"{hashes / seconds:,.0f}" if seconds > 0 else "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--stored", default="200000", help="stored content hashes; several: 200000,2000000"
    )
    parser.add_argument("--signals", type=int, default=10_000, help="new listed signals")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--engines", default="local,ray", help="local, ray or local,ray")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or set(engines) - {"local", "ray"}:
        parser.error("--engines takes local, ray or local,ray")
    try:
        stored_sizes = [int(part) for part in args.stored.split(",")]
    except ValueError:
        parser.error("--stored takes whole numbers, comma-separated")
    if min(stored_sizes) < HASHES_PER_ITEM or args.signals <= PLANTED or args.workers < 1:
        parser.error("need --stored >= 9, --signals > 100 and --workers >= 1")

    began = time.perf_counter()
    sizes: list[tuple[int, list[Run]]] = []
    ray_start = None
    ray_engine = None
    try:
        if "ray" in engines:
            started = time.perf_counter()
            ray_engine = RayEngine(None, args.workers)
            ray_start = time.perf_counter() - started
        for stored in stored_sizes:
            sizes.append((stored, bench_size(args, stored, engines, ray_engine)))
    finally:
        if ray_engine is not None:
            ray_engine.close()
    text = report(args, sizes, ray_start, time.perf_counter() - began)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n")
    print(text)
    if args.update_docs:
        replace_block(
            MARKER,
            text,
            section=f"{HEADING}\n\n"
            "    .venv/bin/python bench/backfill_bench.py --stored 200000,2000000 --update-docs\n"
            "    .venv/bin/python bench/backfill_bench.py --stored 20000 --signals 2000  # quick"
            "\n\nHow fast `takedown platform backfill` re-matches the platform's stored content "
            "hashes against newly synced signals, with the local process pool and with Ray "
            "Data on this machine. The method is in the script's docstring.",
        )
    return 0


def bench_size(
    args: argparse.Namespace, stored: int, engines: list[str], ray_engine: RayEngine | None
) -> list[Run]:
    """Every engine on a fresh store of `stored` hashes."""
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="backfill-bench-") as tmp:
        engine = open_store(Path(tmp), None)
        print(f"populating {stored:,} hashes and {args.signals:,} signals...", flush=True)
        populate(engine, stored, args.signals, args.seed)
        if "local" in engines:
            for workers in sorted({1, args.workers}):
                local = LocalEngine(workers)
                try:
                    runs.append(timed_backfill(engine, local, workers, args.repeat))
                finally:
                    local.close()
                print(f"local x{workers}: {runs[-1].seconds:.2f} s", flush=True)
        if ray_engine is not None:
            runs.append(timed_backfill(engine, ray_engine, args.workers, args.repeat))
            print(f"ray x{args.workers}: {runs[-1].seconds:.2f} s", flush=True)
        engine.dispose()
    return runs


if __name__ == "__main__":
    sys.exit(main())
