"""Case submissions per second: this checkout's server against an earlier revision's, in turn.

    .venv/bin/python bench/registry_ab.py --base REV [--db sqlite|postgres|both]
        [--signals 1000000] [--duration 12] [--rounds 3] [--update-docs]

The rate `bench/registry_load.py` measures depends on the state of the machine as much as on
the code: on the 2-CPU machine the same code gave anywhere from 90 to 180 cases/s on
PostgreSQL within one afternoon. So a change is judged here against the code before it, under
the same conditions: `git worktree` checks REV out into a temporary directory, one database is
filled as `registry_load.populate` does, and `takedown serve` runs from REV's source and from
this checkout's in alternating order (base, new, new, base, base, new, ...), each for one
window of `registry_load.measure_submissions` (16 clients, proof of work at 8 bits, every
other setting at its default), on the same database. Both must be at the same schema
revision. Writes bench/out/registry_ab.md; with --update-docs also the block between the
registry-ab markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import registry_load as rl  # noqa: E402
from bench.docs_block import replace_block  # noqa: E402
from bench.machine import cpu_model, load_average, memory_state  # noqa: E402

OUT = ROOT / "bench" / "out" / "registry_ab.md"
MARKER = "registry-ab"


@dataclass
class Run:
    variant: str
    rate: float
    p50: float
    server_ms: float
    database_ms: float
    client_ms: float
    refused: int


def _revision(rev: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def measure(kind: str, sources: dict[str, Path], args: argparse.Namespace) -> list[Run]:
    names = list(sources)
    order: list[str] = []
    for round_ in range(args.rounds):
        order += names if round_ % 2 == 0 else names[::-1]
    runs = []
    config = rl.Config(
        duration=args.duration,
        warmup=3,
        clients=16,
        signals=args.signals,
        withdrawals=0,
        pow_cases=0,
        inprocess_cases=0,
        default_burst=0,
    )
    with rl.fresh_database(kind) as db:
        rl.prepare(db)
        rl.populate(db, args.signals)
        for name in order:
            env = {"TAKEDOWN_POW_DIFFICULTY_BITS": str(rl.LOAD_POW_BITS)}
            env["PYTHONPATH"] = str(sources[name])
            with rl.running_server(db, f"ab-{name}", **env) as server:
                result = rl.measure_submissions(server, db, config, name)
            done = max(1, result.done)
            cpu = result.cpu
            runs.append(
                Run(
                    name,
                    result.rate,
                    rl.nearest_rank(result.latencies, 0.5),
                    1000 * cpu.server / done,
                    1000 * cpu.database / done,
                    1000 * cpu.client / done,
                    sum(n for status, n in result.statuses.items() if status != 201),
                )
            )
            print(f"  {kind} {name}: {result.rate:.1f} cases/s", flush=True)
    return runs


def report(
    base: str, head: str, results: dict[str, list[Run]], args: argparse.Namespace, took: float
) -> str:
    lines = [
        f"Command: `bench/registry_ab.py --base {args.base} --db {args.db} --signals "
        f"{args.signals} --duration {args.duration:g} --rounds {args.rounds}` "
        f"(took {took:.0f} s).",
        "",
        f"- CPU: {cpu_model()}; load average at the start: {args.load}.",
        f"- Memory at the start (`bench/machine.memory_state`): {args.memory}.",
        f"- `base` is {base}, `new` is this checkout ({head}); alternating windows of "
        f"{args.duration:g} s on one database of {args.signals:,} signals, 16 clients.",
        "",
        "| database | code | windows | cases/s (each window, in order) | median cases/s | "
        "median p50 | CPU ms per case (median): server, database, client | non-201 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, runs in results.items():
        label = "SQLite" if kind == "sqlite" else "PostgreSQL"
        for name in ("base", "new"):
            mine = [r for r in runs if r.variant == name]
            rates = ", ".join(f"{r.rate:.1f}" for r in mine)
            cpu = ", ".join(
                f"{statistics.median(getattr(r, field) for r in mine):.1f}"
                for field in ("server_ms", "database_ms", "client_ms")
            )
            lines.append(
                f"| {label} | {name} | {len(mine)} | {rates} | "
                f"**{statistics.median(r.rate for r in mine):.1f}** | "
                f"{statistics.median(r.p50 for r in mine) * 1000:.0f} ms | {cpu} | "
                f"{sum(r.refused for r in mine)} |"
            )
    lines.append("")
    for kind, runs in results.items():
        label = "SQLite" if kind == "sqlite" else "PostgreSQL"
        new = statistics.median(r.rate for r in runs if r.variant == "new")
        old = statistics.median(r.rate for r in runs if r.variant == "base")
        lines.append(f"- {label}: new / base = **{new / old:.2f}x** (medians).")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the git revision to compare against")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--signals", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--rounds", type=int, default=3, help="windows per code version")
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args(argv)
    args.load = load_average()
    args.memory = memory_state()
    started = time.perf_counter()
    base, head = _revision(args.base), _revision("HEAD")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory(prefix="takedown-ab-") as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), base],
            check=True,
        )
        try:
            sources = {"base": tree / "src", "new": ROOT / "src"}
            results = {kind: measure(kind, sources, args) for kind in kinds}
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
            )
    text = report(base, head, results, args, time.perf_counter() - started)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n")
    print(text)
    if args.update_docs:
        replace_block(
            MARKER,
            text,
            section="## Registry: this code against an earlier revision (bench/registry_ab.py)",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
