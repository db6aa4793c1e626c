"""PDQ index benchmark: takedown's PdqRangeIndex vs python-threatexchange's PDQIndex (faiss).

    .venv/bin/python bench/index_bench.py [--sizes 1000000,10000000] [--update-docs]
    .venv/bin/python bench/index_bench.py --quick        # 100,000 hashes, small query sets
    .venv/bin/python bench/index_bench.py --from-json bench/out/index_bench.json  # re-render

Options: --sizes, --datasets random,clustered, --threads (faiss's), --repeats, --queries /
--pytx-queries (batch sizes), --single / --pytx-single, --recall-sample, --pytx-max (skip
pytx above this many hashes), --no-scan. A full run takes about 15-25 minutes and needs
about 9 GB of free memory for pytx at 10 M hashes; run it on an otherwise idle machine.

For each size and data set (uniformly random hashes; clustered: groups of ten near-copies of
a centre) both indexes are built from the same hex strings and asked the same queries:
half are stored hashes with 0-31 bits flipped (planted matches, distances cycling 0..31),
half are random hashes (no match). Each index runs in its own subprocess, so its memory is
measured on its own: `retained` is the growth of the process's resident set (VmRSS) from
before its input was made to after the index was built and the input dropped (what the
index holds, including for pytx the Python entries it keeps), `peak` is the high-water
mark (VmHWM, reset just before the build) over the same baseline. tracemalloc cannot see
faiss's C++ allocations, so RSS is used for both. faiss runs on --threads OpenMP threads
(faiss.omp_set_num_threads; 1 by default); takedown's kernels are single-threaded.

Measured: build time from hex strings (pytx: `PDQIndex.build(entries)` as HMA does, entries
(hash, id)); single-query latency p50/p99 (ours `search([h])`, pytx `query(h)`); batch
throughput (ours `search_batch` on a uint64 array; pytx's only batch call,
`PDQMultiHashIndex.search_with_distance_in_result`; and faiss's `range_search` alone,
without the pytx wrapper). Recall and exactness are checked against a numpy brute-force
scan on a sample of the queries, for both indexes.

With --scan (default on), also end-to-end scan throughput: photos of
../shared/data/photos-dev matched against a list (half of them hashed with `takedown hash`'s
code, plus random filler items), in process through the same calls as `takedown scan --list`
(query_fingerprint + ListIndex.match), and as a `takedown scan` subprocess.

Writes bench/out/index_bench.md and prints it; with --update-docs also the section between
the pdq-index markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.docs_block import replace_block  # noqa: E402
from bench.machine import cpu_model  # noqa: E402

OUT = ROOT / "bench" / "out"
PHOTOS = ROOT.parent / "shared" / "data" / "photos-dev"
THRESHOLD = 31

Result = dict[str, Any]


def _proc_status(key: str) -> int:
    """A /proc/self/status field in bytes (VmRSS, VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


def _hexes(words: Any) -> list[str]:
    import numpy as np

    text = np.ascontiguousarray(words).astype(">u8").tobytes().hex()
    return [text[i : i + 64] for i in range(0, len(text), 64)]


# --------------------------------------------------------------------------- workers


def worker(
    engine: str, data: Path, threads: int, single: int, batch: int, sample: int, repeats: int
) -> None:
    """Build one index from data/stored.npy, run the queries, write data/<engine>.json."""
    import numpy as np

    queries = np.load(data / "queries.npy")
    result: Result = {"engine": engine}
    if engine == "ours":
        from takedown.matching.index import PdqRangeIndex

        warm = np.random.default_rng(0).integers(0, 2**64, size=(5000, 4), dtype=np.uint64)
        PdqRangeIndex.build(np.arange(5000), warm).search_batch(warm[:10])  # compile / load
    else:
        import faiss
        from threatexchange.signal_type.pdq.pdq_index import PDQIndex

        faiss.omp_set_num_threads(threads)
        warm_hex = _hexes(np.random.default_rng(0).integers(0, 2**64, (5000, 4), np.uint64))
        PDQIndex.build([(h, i) for i, h in enumerate(warm_hex)]).query(warm_hex[0])
    gc.collect()
    base = _proc_status("VmRSS")

    stored = np.load(data / "stored.npy")
    hexes = _hexes(stored)
    del stored
    gc.collect()
    peak_known = _reset_peak()
    start = time.perf_counter()
    if engine == "ours":
        index: Any = PdqRangeIndex.build(np.arange(len(hexes)), hexes)
        result["nbytes"] = index.nbytes
    else:
        entries = [(h, i) for i, h in enumerate(hexes)]
        index = PDQIndex.build(entries)
        del entries
    result["build_s"] = time.perf_counter() - start
    result["peak"] = _proc_status("VmHWM") - base if peak_known else None
    del hexes
    gc.collect()
    result["retained"] = _proc_status("VmRSS") - base

    query_hex = _hexes(queries)
    latencies = []
    cpu = time.process_time()
    for h in query_hex[:single]:
        t0 = time.perf_counter_ns()
        if engine == "ours":
            index.search([h], THRESHOLD)
        else:
            index.query(h)
        latencies.append(time.perf_counter_ns() - t0)
    result["single_ns"] = latencies
    result["single_cpu_s"] = time.process_time() - cpu

    batch_words = queries[:batch]
    codes = np.ascontiguousarray(batch_words).astype(">u8").view(np.uint8).reshape(-1, 32)
    result["batch_n"] = len(batch_words)
    runs: dict[str, list[tuple[float, float]]] = {"batch": [], "faiss_batch": []}
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        if engine == "ours":
            index.search_batch(batch_words, THRESHOLD)
        else:
            index.index.search_with_distance_in_result(query_hex[:batch], THRESHOLD)
        runs["batch"].append((time.perf_counter() - wall, time.process_time() - cpu))
        if engine == "pytx":
            mih = index.index.mih_index
            mih.nflip = THRESHOLD // mih.nhash  # what pytx sets before every search
            wall, cpu = time.perf_counter(), time.process_time()
            index.index.faiss_index.range_search(codes, THRESHOLD + 1)
            runs["faiss_batch"].append((time.perf_counter() - wall, time.process_time() - cpu))
    for name, timings in runs.items():
        if timings:  # the median run, by wall time
            wall, cpu = sorted(timings)[len(timings) // 2]
            result[f"{name}_s"], result[f"{name}_cpu_s"] = wall, cpu

    # Exactness sample: every (query, id, distance) for the first `sample` queries.
    found: list[tuple[int, int, int]] = []
    if engine == "ours":
        hits = index.search_batch(queries[:sample], THRESHOLD)
        columns = (hits.query.tolist(), hits.id.tolist(), hits.distance.tolist())
        found = list(zip(*columns, strict=True))
    else:
        answers = index.index.search_with_distance_in_result(query_hex[:sample], THRESHOLD)
        for qi, h in enumerate(query_hex[:sample]):
            for local_id, _, distance in answers[h]:
                found.append((qi, int(index.local_id_to_entry[local_id][1]), int(distance)))
    result["sample_hits"] = found
    (data / f"{engine}.json").write_text(json.dumps(result))


# --------------------------------------------------------------------------- data


def make_data(kind: str, n: int, queries: int, seed: int) -> tuple[Any, Any, Any]:
    """Stored hashes (n, 4), queries (planted and unrelated, interleaved) and the planted
    queries' source rows (-1 for unrelated)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if kind == "random":
        stored = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    else:
        # Groups of 10 near-duplicates: a random centre with 0-16 random bits flipped each.
        centres = rng.integers(0, 2**64, size=((n + 9) // 10, 4), dtype=np.uint64)
        stored = np.repeat(centres, 10, axis=0)[:n]
        flips = rng.integers(0, 17, size=n)
        positions = rng.integers(0, 256, size=(n, 16))
        every = np.arange(n)
        for k in range(16):
            chosen = flips > k
            pos = positions[chosen, k]
            bit = np.left_shift(np.uint64(1), (63 - pos % 64).astype(np.uint64))
            stored[every[chosen], pos // 64] ^= bit
        del positions, flips, every
    planted = queries // 2
    sources = rng.integers(0, n, size=planted)
    near = stored[sources].copy()
    for i in range(planted):
        for pos in rng.permutation(256)[: i % 32]:
            near[i, pos // 64] ^= np.uint64(1) << np.uint64(63 - pos % 64)
    unrelated = rng.integers(0, 2**64, size=(queries - planted, 4), dtype=np.uint64)
    out = np.empty((queries, 4), dtype=np.uint64)
    source = np.full(queries, -1, dtype=np.int64)
    out[0 : 2 * planted : 2] = near
    source[0 : 2 * planted : 2] = sources
    out[1 : 2 * planted : 2] = unrelated[:planted]
    out[2 * planted :] = unrelated[planted:]
    return stored, out, source


def oracle(stored: Any, queries: Any) -> set[tuple[int, int, int]]:
    """Every (query, row, distance) within THRESHOLD, by numpy brute force."""
    import numpy as np

    truth: set[tuple[int, int, int]] = set()
    step = 1 << 20
    for start in range(0, len(stored), step):
        block = stored[start : start + step]
        for qi, query in enumerate(queries):
            distance = np.bitwise_count(block ^ query).sum(axis=1, dtype=np.int32)
            for row in np.flatnonzero(distance <= THRESHOLD).tolist():
                truth.add((qi, start + row, int(distance[row])))
    return truth


# --------------------------------------------------------------------------- runs


def run_case(kind: str, n: int, args: argparse.Namespace, engines: list[str]) -> Result:
    import numpy as np

    case: Result = {"kind": kind, "n": n}
    count = max(args.queries, args.single, args.recall_sample)
    stored, queries, source = make_data(kind, n, count, seed=n + len(kind))
    sample = queries[: args.recall_sample]
    t0 = time.perf_counter()
    truth = oracle(stored, sample)
    case["oracle_s"] = time.perf_counter() - t0
    case["truth_pairs"] = len(truth)
    planted = source[: args.recall_sample] >= 0
    case["sample_planted"] = int(planted.sum())
    with tempfile.TemporaryDirectory(prefix="index_bench_") as tmp:
        data = Path(tmp)
        np.save(data / "stored.npy", stored)
        np.save(data / "queries.npy", queries)
        del stored
        gc.collect()
        for engine in engines:
            single = args.single if engine == "ours" else args.pytx_single
            batch = args.queries if engine == "ours" else args.pytx_queries
            command = [
                sys.executable,
                __file__,
                "--worker",
                engine,
                "--data",
                str(data),
                "--threads",
                str(args.threads),
                "--single",
                str(single),
                "--queries",
                str(batch),
                "--recall-sample",
                str(args.recall_sample),
                "--repeats",
                str(args.repeats),
            ]
            print(f"  {kind} {n:,}: {engine} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            subprocess.run(command, check=True, env=_pinned_env(args.threads))
            result = json.loads((data / f"{engine}.json").read_text())
            result["wall_s"] = time.perf_counter() - t0
            listed = [tuple(h) for h in result.pop("sample_hits")]
            hits = set(listed)
            result["recall"] = len(hits & truth) / len(truth) if truth else 1.0
            result["extra"] = len(hits - truth) + len(listed) - len(hits)  # wrong or repeated
            case[engine] = result
            print(f"    done in {result['wall_s']:.0f} s", file=sys.stderr, flush=True)
    return case


def _pinned_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


def run_scan(list_filler: int) -> Result:
    """Scan photos-dev against a list holding half of them plus random filler items."""
    import numpy as np

    from takedown.hashing.fingerprint import fingerprint_file, query_fingerprint
    from takedown.matching.listfile import read_list
    from takedown.matching.scan import ListIndex

    photos = sorted(PHOTOS.glob("*.jpg"))
    listed = photos[::2]
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory(prefix="index_bench_scan_") as tmp:
        list_file = Path(tmp) / "list.jsonl"
        with list_file.open("w") as out:
            for path in listed:
                record = {"path": str(path), **fingerprint_file(path).to_json()}
                out.write(json.dumps(record) + "\n")
            digests = rng.integers(0, 256, size=(list_filler, 32 + 16 + 32), dtype=np.uint8)
            for row in digests:
                raw = row.tobytes()
                record = {
                    "kind": "image",
                    "md5": raw[32:48].hex(),
                    "sha256": raw[48:].hex(),
                    "signals": [
                        {
                            "type": "pdq",
                            "value": raw[:32].hex(),
                            "quality": 100,
                            "variant": "original",
                        }
                    ],
                }
                out.write(json.dumps(record) + "\n")
        t0 = time.perf_counter()
        index = ListIndex(read_list(list_file))
        load_s = time.perf_counter() - t0
        hash_s = match_s = 0.0
        matched = 0
        for path in photos:
            t0 = time.perf_counter()
            fp = query_fingerprint(path)
            t1 = time.perf_counter()
            matches = index.match(fp)
            hash_s += t1 - t0
            match_s += time.perf_counter() - t1
            matched += bool(matches)
        t0 = time.perf_counter()
        cli = [str(Path(sys.executable).parent / "takedown"), "scan", "--list", str(list_file)]
        done = subprocess.run(
            [*cli, "--json", str(PHOTOS)], capture_output=True, text=True, check=False
        )
        cli_s = time.perf_counter() - t0
        cli_lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        cli_matched = sum(1 for r in cli_lines if r.get("matches"))
    return {
        "photos": len(photos),
        "listed_photos": len(listed),
        "filler": list_filler,
        "load_s": load_s,
        "hash_s": hash_s,
        "match_s": match_s,
        "matched": matched,
        "cli_s": cli_s,
        "cli_returncode": done.returncode,
        "cli_matched": cli_matched,
    }


# --------------------------------------------------------------------------- report


def _mb(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.0f}"


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def _qps_single(result: Result, cpu: bool = False) -> float:
    seconds = result["single_cpu_s"] if cpu else sum(result["single_ns"]) / 1e9
    return len(result["single_ns"]) / float(seconds)


def _qps_batch(result: Result, key: str = "batch", cpu: bool = False) -> float:
    return float(result["batch_n"]) / float(result[f"{key}_cpu_s" if cpu else f"{key}_s"])


def report(cases: list[Result], scan: Result | None, args: argparse.Namespace, took: float) -> str:
    from importlib.metadata import version

    import faiss
    import numba
    import numpy as np

    cpu = cpu_model()
    lines = [
        f"Command: `bench/index_bench.py {args.command}` (took {took:.0f} s).",
        "",
        f"- CPU: {cpu} ({os.cpu_count()} logical CPUs), {platform.machine()}, "
        f"Linux {platform.release()}; {_memory_gb():.0f} GB RAM.",
        f"- Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
        f"faiss-cpu {faiss.__version__}, threatexchange {version('threatexchange')}.",
        f"- Threads: faiss.omp_set_num_threads({args.threads}) and OMP_NUM_THREADS={args.threads} "
        "in the pytx subprocess; takedown's kernels are single-threaded.",
        f"- Load average at the start (1/5/15 min): {args.load[0]:.2f} / {args.load[1]:.2f} / "
        f"{args.load[2]:.2f}; at the end: {args.load_end[0]:.2f} / {args.load_end[1]:.2f} / "
        f"{args.load_end[2]:.2f}. The machine has {os.cpu_count()} cores; a load above 1 means "
        "other work competed with the benchmark for them.",
        f"- Queries: {args.queries:,} in the batch for ours, {args.pytx_queries:,} for pytx "
        f"(the first ones of the same list); {args.single:,} single queries for ours, "
        f"{args.pytx_single:,} for pytx; threshold {THRESHOLD}; half planted (distances 0-31), "
        "half unrelated, interleaved.",
        "",
        "### Key numbers",
        "",
        "Ratios are ours / pytx; `wall` divides wall-clock rates, `CPU` rates per CPU-second "
        "of the process (both sides single-threaded, so this discounts time spent waiting for "
        "a core on a shared machine).",
        "",
    ]
    for case in cases:
        if "pytx" not in case:
            continue
        ours, pytx = case["ours"], case["pytx"]
        batch_wall = _qps_batch(ours) / _qps_batch(pytx)
        batch_cpu = _qps_batch(ours, cpu=True) / _qps_batch(pytx, cpu=True)
        vs_faiss = _qps_batch(ours) / _qps_batch(pytx, "faiss_batch")
        p50 = _pct(pytx["single_ns"], 0.5) / _pct(ours["single_ns"], 0.5)
        single_cpu = _qps_single(ours, cpu=True) / _qps_single(pytx, cpu=True)
        goal = ""
        if case["n"] >= 1_000_000:  # the goal is set at 1 M and 10 M hashes
            met = min(batch_wall, batch_cpu) >= 10 and ours["retained"] <= pytx["retained"]
            goal = " (goal >= 10x batch queries/s, memory <= pytx: " + (
                "met)" if met and ours["recall"] == 1.0 else "**missed**)"
            )
        lines.append(
            f"- {case['n']:,} {case['kind']}{goal}: "
            f"batch queries/s **{batch_wall:.0f}x** wall, "
            f"**{batch_cpu:.0f}x** CPU (vs faiss's range_search alone: {vs_faiss:.0f}x wall); "
            f"single query: p50 latency {p50:.0f}x lower, queries/s {single_cpu:.0f}x CPU; "
            f"memory retained {ours['retained'] / pytx['retained']:.2f}x; "
            f"recall ours {ours['recall']:.0%}, pytx {pytx['recall']:.0%}."
        )
    lines += [
        "",
        "### Queries",
        "",
        "Batch: the median of the runs (by wall time). Single: one query per call; latency "
        "percentiles are wall time, so they include waits for a core. Recall: share of the "
        "brute-force oracle's (query, id, distance) triples found on the first "
        f"{args.recall_sample} queries; `extra` counts triples returned that the oracle does "
        "not have, or returned twice.",
        "",
        "| hashes | data | index | single p50 us | single p99 us | single q/s wall / CPU | "
        "batch q/s wall / CPU | ours/pytx batch wall / CPU | recall (extra) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        ours = case["ours"]
        rows = [("takedown PdqRangeIndex", ours, "batch")]
        if "pytx" in case:
            rows.append(("pytx PDQIndex (faiss MIH)", case["pytx"], "batch"))
            rows.append(("faiss range_search alone", case["pytx"], "faiss_batch"))
        for name, result, key in rows:
            ratio = ""
            if name.startswith("takedown") and "pytx" in case:
                pytx = case["pytx"]
                ratio = (
                    f"**{_qps_batch(ours) / _qps_batch(pytx):.0f}x / "
                    f"{_qps_batch(ours, cpu=True) / _qps_batch(pytx, cpu=True):.0f}x**"
                )
            if name.startswith("faiss"):
                single = "| | | "
                recall = ""
            else:
                single = (
                    f"| {_pct(result['single_ns'], 0.5):,.0f} | "
                    f"{_pct(result['single_ns'], 0.99):,.0f} | "
                    f"{_qps_single(result):,.0f} / {_qps_single(result, cpu=True):,.0f} "
                )
                recall = f"{result['recall']:.1%} ({result['extra']})"
            lines.append(
                f"| {case['n']:,} | {case['kind']} | {name} {single}| "
                f"{_qps_batch(result, key):,.0f} / {_qps_batch(result, key, cpu=True):,.0f} | "
                f"{ratio} | {recall} |"
            )
    lines += [
        "",
        "### Build and memory",
        "",
        "Build: from the hex strings (pytx: `PDQIndex.build` of (hash, id) entries). Memory in "
        "MiB: retained = growth of the resident set kept after the build with the input "
        "dropped (for pytx, including the entries it keeps); peak = resident high-water mark "
        "during the build, input included, over the same baseline.",
        "",
        "| hashes | data | index | build s | retained MiB | peak MiB | arrays MiB (B/hash) |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        for name, engine in (("takedown PdqRangeIndex", "ours"), ("pytx PDQIndex", "pytx")):
            if engine not in case:
                continue
            result = case[engine]
            arrays = (
                f"{result['nbytes'] / 2**20:,.0f} ({result['nbytes'] / case['n']:.0f})"
                if "nbytes" in result
                else ""
            )
            lines.append(
                f"| {case['n']:,} | {case['kind']} | {name} | {result['build_s']:.1f} | "
                f"{_mb(result['retained'])} | {_mb(result['peak'])} | {arrays} |"
            )
    lines += [
        "",
        "True pairs in the recall sample: "
        + ", ".join(f"{c['n']:,} {c['kind']}: {c['truth_pairs']:,}" for c in cases)
        + ". Wall time per subprocess (build, queries, checks): "
        + ", ".join(
            f"{c['n']:,} {c['kind']} ours {c['ours']['wall_s']:.0f} s"
            + (f", pytx {c['pytx']['wall_s']:.0f} s" if "pytx" in c else "")
            for c in cases
        )
        + ".",
    ]
    if scan is not None:
        files = scan["photos"]
        lines += [
            "",
            "### End-to-end scan (photos-dev)",
            "",
            f"{files} photos of photos-dev (481x321 JPEG) scanned against a list of "
            f"{scan['listed_photos']} of them (hashed with `takedown hash`'s code) plus "
            f"{scan['filler']:,} random filler items, on one core.",
            "",
            "| path | seconds | files/s |",
            "|---|---|---|",
            f"| in process: query_fingerprint + ListIndex.match | "
            f"{scan['hash_s'] + scan['match_s']:.2f} | "
            f"{files / (scan['hash_s'] + scan['match_s']):,.0f} |",
            f"| of which ListIndex.match | {scan['match_s']:.2f} | "
            f"{files / scan['match_s']:,.0f} |",
            f"| list load + index build (once) | {scan['load_s']:.2f} | |",
            f"| `takedown scan --list L --json photos-dev` subprocess (startup, list load "
            f"included; exit {scan['cli_returncode']}) | {scan['cli_s']:.2f} | "
            f"{files / scan['cli_s']:,.0f} |",
            "",
            f"Photos with a match: {scan['matched']} in process, {scan['cli_matched']} through "
            f"the CLI (listed: {scan['listed_photos']}).",
        ]
    return "\n".join(lines) + "\n"


def _memory_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--datasets", default="random,clustered")
    parser.add_argument("--queries", type=int, default=10_000, help="batch queries, ours")
    parser.add_argument("--pytx-queries", type=int, default=1_000, help="batch queries, pytx")
    parser.add_argument("--single", type=int, default=1_000, help="single queries, ours")
    parser.add_argument("--pytx-single", type=int, default=200, help="single queries, pytx")
    parser.add_argument("--recall-sample", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="batch runs; the median is kept")
    parser.add_argument(
        "--pytx-max", type=int, default=10**9, help="skip pytx above this many hashes"
    )
    parser.add_argument("--scan-filler", type=int, default=100_000)
    parser.add_argument("--no-scan", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--update-docs", action="store_true")
    parser.add_argument(
        "--from-json", type=Path, help="re-render the report of a saved index_bench.json"
    )
    parser.add_argument("--worker", choices=["ours", "pytx"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(
            args.worker,
            args.data,
            args.threads,
            args.single,
            args.queries,
            args.recall_sample,
            args.repeats,
        )
        return
    if args.quick:
        args.sizes, args.queries, args.pytx_queries = "100000", 2000, 300
        args.single, args.pytx_single, args.recall_sample = 300, 100, 100
        args.scan_filler = 10_000
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        for name, value in saved["args"].items():
            setattr(args, name, value)
        text = report(saved["cases"], saved["scan"], args, saved["took"])
        print(text)
        if args.update_docs:
            replace_block("pdq-index", text, section="## PDQ index (bench/index_bench.py)")
        return
    args.command = " ".join(sys.argv[1:])
    args.load = os.getloadavg()
    random.seed(0)
    started = time.perf_counter()
    cases = []
    for n in [int(s) for s in args.sizes.split(",")]:
        for kind in args.datasets.split(","):
            engines = ["ours"] + (["pytx"] if n <= args.pytx_max else [])
            cases.append(run_case(kind, n, args, engines))
    scan = None if args.no_scan else run_scan(args.scan_filler)
    took = time.perf_counter() - started
    args.load_end = os.getloadavg()
    text = report(cases, scan, args, took)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "index_bench.md").write_text(text)
    saved = {name: value for name, value in vars(args).items() if name not in ("data", "worker")}
    saved = {name: value for name, value in saved.items() if name != "from_json"}
    (OUT / "index_bench.json").write_text(
        json.dumps({"cases": cases, "scan": scan, "took": took, "args": saved}, default=str)
    )
    print(text)
    if args.update_docs:
        replace_block("pdq-index", text, section="## PDQ index (bench/index_bench.py)")


if __name__ == "__main__":
    main()
