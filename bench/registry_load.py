"""Registry load: a real `takedown serve` on this machine, on SQLite and on PostgreSQL.

    .venv/bin/python bench/registry_load.py [--db sqlite|postgres|both] [--quick] [--update-docs]

For each database, on a fresh one (an SQLite file in a temporary directory; a new PostgreSQL
database `takedown_bench_<random>` on TAKEDOWN_BENCH_POSTGRES_URL's server, dropped at the end),
migrated with `takedown db upgrade`, with one platform reading both lists:

(b) A platform's first sync of 1,000,000 live signals: the database is filled with bulk SQL
    in the registry's own schema (see `populate`), then timed: `GET /v1/feed/snapshot` read to
    the end and every line parsed, and the paged `GET /v1/feed?limit=10000` from 0 to the end.
(a) Case submissions per second, on that database, by `bench/http_load.py` (2 processes, 16
    keep-alive connections, plain asyncio streams): each client gets a challenge, solves it and
    posts a case of 10 photos x 8 PDQ hashes, back to back for a fixed time after a warm-up.
    The server runs with its shipped settings (`TAKEDOWN_WORKERS`, argon2id cost, ...) except:
    rate limits raised, and proof of work at `LOAD_POW_BITS` (8) instead of 18, because at 18
    the load generator, on the server's own 2 CPUs, would spend ~0.25 s of CPU per case
    solving. Three runs: that; the same with PIN hashing at its minimum cost (argon2id 1 pass,
    8 KiB: the HTTP and database path alone); and a burst with every default, 18 bits
    included, whose proofs are solved by every CPU before it starts. The server's check of a
    proof costs the same at 8 and 18 bits (`measure_pow_verify` times both), and what solving
    costs a client at 18 bits is measured too (`measure_pow`). Then `Registry.create_case` runs
    in this process without HTTP, one case at a time, to show where a case's time goes.
(c) Withdrawal to `remove`: a client polls `GET /v1/feed` every 10 ms from the end of the
    feed; for cases made in (a) at the default PIN cost, the time from sending the withdrawal
    to the poll that returns the case's `remove` events; median and max.

CPU seconds of the server's processes, of PostgreSQL's processes (all of them on the machine),
of the load generator and of everything else on the machine are recorded per phase: the
machine may be shared, and CPU per case says more than a rate measured while other work runs.
Writes bench/out/registry_load.md and prints it; with --update-docs also the section between
the registry-load markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import argon2
import httpx
import orjson
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.docs_block import replace_block  # noqa: E402
from bench.http_load import (  # noqa: E402
    IMAGES_PER_CASE,
    SIGNALS_PER_IMAGE,
    LoadResult,
    case_body,
    random_values,
    run_load,
    solve_all,
)
from bench.machine import cpu_model, load_average, memory_state  # noqa: E402
from takedown.api.reporter import PIN_WORKERS  # noqa: E402
from takedown.hashing.fingerprint import IMAGE_VARIANTS  # noqa: E402
from takedown.registry import secrets as registry_secrets  # noqa: E402
from takedown.registry.pow import ProofOfWork, solve  # noqa: E402
from takedown.registry.service import MediaIn, Registry, SignalIn  # noqa: E402
from takedown.registry.settings import Settings  # noqa: E402

OUT = ROOT / "bench" / "out"
MARKER = "registry-load"
HEADING = "## Registry load (bench/registry_load.py)"
HOST = "127.0.0.1"
POSTGRES_URL = os.environ.get(
    "TAKEDOWN_BENCH_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)

GOAL_CASES_PER_S = 200.0
GOAL_SYNC_S = 20.0
GOAL_WITHDRAW_S = 1.0

POLL_INTERVAL_S = 0.01
LOAD_POW_BITS = 8
"""Proof of work for the throughput runs: the load generator shares this machine with the
server, and at the default difficulty solving costs it ~0.25 s of CPU per case. The server's
check is the same at any difficulty (one HMAC, one SHA-256); `measure_default_burst` shows
the default."""
LOAD_PROCESSES = 2
DEFAULT_POW_BITS = Settings().pow_difficulty_bits
GENEROUS = "1000000"
RAISED_RATES = {
    f"TAKEDOWN_RATE_{name}_{unit}": GENEROUS
    for name in ("CREATE", "CASE", "FEED", "MATCH")
    for unit in ("PER_S", "BURST")
}
ARGON2_MINIMUM = {
    "TAKEDOWN_ARGON2_TIME_COST": "1",
    "TAKEDOWN_ARGON2_MEMORY_KIB": "8",
    "TAKEDOWN_ARGON2_PARALLELISM": "1",
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DEFAULTS = Settings()


@dataclass(frozen=True)
class Config:
    duration: float
    warmup: float
    clients: int
    signals: int
    withdrawals: int
    pow_cases: int
    inprocess_cases: int
    default_burst: int


FULL = Config(
    duration=20,
    warmup=3,
    clients=16,
    signals=1_000_000,
    withdrawals=50,
    pow_cases=20,
    inprocess_cases=200,
    default_burst=600,
)
QUICK = Config(
    duration=3,
    warmup=1,
    clients=8,
    signals=20_000,
    withdrawals=5,
    pow_cases=3,
    inprocess_cases=30,
    default_burst=40,
)


# ---- processes and CPU accounting --------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _group_cpu_seconds(pgid: int) -> float:
    """CPU seconds of the live processes of one process group (the server and its workers)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds per PostgreSQL process on this machine (backends and helpers)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError, IndexError):
                if Path(f"/proc/{entry}/stat").read_text().split("(", 1)[1].startswith("postgres"):
                    found[int(entry)] = _cpu_seconds(int(entry))
    return found


def _machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (steal not counted)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields)
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


@dataclass
class CpuUse:
    """CPU seconds spent during one phase: the server's processes, PostgreSQL's processes (a
    process that exits during the phase is not counted), this (client) process, and the rest
    of the machine (other work, kernel threads)."""

    server: float = 0.0
    database: float = 0.0
    client: float = 0.0
    rest: float = 0.0

    def per(self, count: int) -> str:
        """ms of CPU per unit."""
        if not count:
            return "-"
        parts = [f"server {1000 * self.server / count:.1f}"]
        if self.database:
            parts.append(f"PostgreSQL {1000 * self.database / count:.1f}")
        parts.append(f"client {1000 * self.client / count:.1f}")
        return ", ".join(parts)

    def rest_share(self, seconds: float) -> str:
        """How busy the rest of the machine was: other work shares the CPUs."""
        return f"{100 * self.rest / ((os.cpu_count() or 1) * seconds):.0f}%"

    def total(self) -> str:
        parts = [f"server {self.server:.1f}"]
        if self.database:
            parts.append(f"PostgreSQL {self.database:.1f}")
        parts.append(f"client {self.client:.1f}")
        return ", ".join(parts)


@dataclass(frozen=True)
class CpuSnapshot:
    server: float
    database: dict[int, float]
    client: float
    machine: float


def cpu_snapshot(server_pid: int | None, postgres: bool) -> CpuSnapshot:
    return CpuSnapshot(
        _group_cpu_seconds(server_pid) if server_pid else 0.0,
        _postgres_cpu() if postgres else {},
        time.process_time(),
        _machine_busy_seconds(),
    )


def cpu_between(start: CpuSnapshot, end: CpuSnapshot) -> CpuUse:
    server = end.server - start.server
    database = sum(seconds - start.database.get(pid, 0.0) for pid, seconds in end.database.items())
    client = end.client - start.client
    rest = end.machine - start.machine - server - database - client
    return CpuUse(server, database, client, max(0.0, rest))


@contextmanager
def cpu_use(server_pid: int | None, postgres: bool) -> Iterator[CpuUse]:
    use = CpuUse()
    start = cpu_snapshot(server_pid, postgres)
    yield use
    measured = cpu_between(start, cpu_snapshot(server_pid, postgres))
    use.server, use.database = measured.server, measured.database
    use.client, use.rest = measured.client, measured.rest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _takedown(*args: str) -> list[str]:
    return [sys.executable, "-m", "takedown.cli", *args]


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" or "postgres"
    url: str
    workdir: Path

    @property
    def label(self) -> str:
        return "SQLite" if self.kind == "sqlite" else "PostgreSQL"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
        env.update(RAISED_RATES)
        env["TAKEDOWN_DATA_DIR"] = str(self.workdir / "data")
        env["TAKEDOWN_DATABASE_URL"] = self.url
        env.update(overrides)
        return env


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_database(kind: str) -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="takedown-load-") as tmp:
        workdir = Path(tmp)
        if kind == "sqlite":
            yield Database(
                kind, f"sqlite:///{(workdir / 'data' / 'takedown.db').as_posix()}", workdir
            )
            return
        name = f"takedown_bench_{secrets.token_hex(4)}"
        try:
            with psycopg.connect(_libpq(POSTGRES_URL), autocommit=True, connect_timeout=5) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as exc:
            raise SystemExit(
                f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc}); start it, set "
                "TAKEDOWN_BENCH_POSTGRES_URL, or run with --db sqlite"
            ) from None
        try:
            url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
            yield Database(kind, url, workdir)
        finally:
            with psycopg.connect(_libpq(POSTGRES_URL), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    url: str
    pid: int


@contextmanager
def running_server(db: Database, name: str, **env: str) -> Iterator[Server]:
    """`takedown serve` on `db` with the given TAKEDOWN_* overrides; SIGTERM at the end."""
    port = _free_port()
    log = db.workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _takedown("serve", "--host", HOST, "--port", str(port)),
            cwd=db.workdir,
            env=db.env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: the server and its worker processes
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"takedown serve exited:\n{log.read_text()}")
            with suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"takedown serve did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield Server(url, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # workers left behind, if any


# ---- (a) case submissions --------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A case this run made: enough to withdraw it and recognise its `remove` events."""

    number: str
    pin: str
    values: frozenset[str]


@dataclass
class Throughput:
    label: str
    clients: int
    pow_bits: int
    seconds: float
    done: int
    statuses: Counter[int]
    latencies: list[float]
    """Of each `POST /v1/cases`."""
    case_latencies: list[float]
    """Of each case: `GET /v1/challenge`, solving it, and the POST."""
    cpu: CpuUse
    cases: list[Case] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


JSON = {"Content-Type": "application/json"}


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def _window_cpu(server: Server, postgres: bool, start: float, end: float) -> Callable[[], CpuUse]:
    """Samples the CPU counters at wall-clock `start` and `end` in a thread; the returned
    function waits for the second sample and gives the CPU used in between."""
    samples: list[CpuSnapshot] = []

    def sample() -> None:
        for moment in (start, end):
            time.sleep(max(0.0, moment - time.time()))
            samples.append(cpu_snapshot(server.pid, postgres))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()

    def result() -> CpuUse:
        thread.join()
        return cpu_between(samples[0], samples[1])

    return result


def _with_load_cpu(cpu: CpuUse, load: LoadResult) -> CpuUse:
    """`cpu` with the load generator's processes as the client (this process only waited)."""
    rest = max(0.0, cpu.rest + cpu.client - load.cpu_seconds)
    return CpuUse(cpu.server, cpu.database, load.cpu_seconds, rest)


def _throughput(
    label: str, clients: int, bits: int, seconds: float, load: LoadResult
) -> Throughput:
    return Throughput(
        label,
        clients,
        bits,
        seconds,
        load.done,
        load.statuses,
        load.post_latencies,
        load.case_latencies,
        CpuUse(),
        [Case(number, pin, values) for number, pin, values in load.cases],
        load.errors,
    )


def measure_submissions(server: Server, db: Database, config: Config, label: str) -> Throughput:
    """Cases per second over the window (`bench/http_load.py`); CPU is sampled at the
    window's edges. The server must run with proof of work at `LOAD_POW_BITS`."""
    start_at = time.time() + 4.0
    window = (start_at + config.warmup, start_at + config.warmup + config.duration)
    cpu = _window_cpu(server, db.kind == "postgres", *window)
    load = run_load(
        HOST,
        _port(server),
        processes=LOAD_PROCESSES,
        connections=config.clients // LOAD_PROCESSES,
        warmup=config.warmup,
        duration=config.duration,
        keep=config.withdrawals,
        start_at=start_at,
    )
    result = _throughput(label, config.clients, LOAD_POW_BITS, config.duration, load)
    result.cpu = _with_load_cpu(cpu(), load)
    return result


def measure_default_burst(server: Server, db: Database, config: Config) -> tuple[Throughput, float]:
    """Everything at the shipped defaults (proof of work included): challenges are fetched
    and solved first (by all CPUs, not timed), then the cases are posted by the clients as
    fast as the server answers. Rate = cases / (last answer - first request). Also returns
    the CPU seconds the solving took."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        issued = [client.get("/v1/challenge").json() for _ in range(config.default_burst)]
    solving = time.perf_counter()
    proofs = solve_all(
        [(c["challenge"], c["difficulty"]) for c in issued], processes=os.cpu_count() or 1
    )
    solve_seconds = time.perf_counter() - solving
    bits = issued[0]["difficulty"]
    with cpu_use(server.pid, db.kind == "postgres") as cpu:
        load = run_load(
            HOST,
            _port(server),
            processes=LOAD_PROCESSES,
            connections=config.clients // LOAD_PROCESSES,
            warmup=0.0,
            duration=600.0,
            keep=0,
            proofs=proofs,
        )
    seconds = load.last_answered - load.first_sent
    result = _throughput("all defaults", config.clients, bits, seconds, load)
    result.cpu = _with_load_cpu(cpu, load)
    return result, solve_seconds


@dataclass
class PowCost:
    difficulty: int
    solve_seconds: list[float]
    hashes: list[int]
    post_seconds: list[float]


def measure_pow(server: Server, cases: int) -> PowCost:
    """Sequential reports as a client does them: challenge, solve (reference solver), post."""
    cost = PowCost(0, [], [], [])
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for _ in range(cases):
            challenge = client.get("/v1/challenge").json()
            cost.difficulty = challenge["difficulty"]
            started = time.perf_counter()
            solution = solve(challenge["challenge"], challenge["difficulty"])
            solved = time.perf_counter()
            body, _values = case_body({"challenge": challenge["challenge"], "solution": solution})
            posted = time.perf_counter()
            response = client.post("/v1/cases", content=body, headers=JSON)
            answered = time.perf_counter()
            if response.status_code != 201:
                raise RuntimeError(f"report with proof of work refused: {response.text}")
            cost.solve_seconds.append(solved - started)
            cost.hashes.append(int(solution) + 1)
            cost.post_seconds.append(answered - posted)
    return cost


# ---- (b) a first sync of many signals ----------------------------------------------------------


@dataclass
class Populated:
    seconds: float
    cases: int
    media: int
    signals: int
    live: int
    events: int


def _max(cursor: Any, table: str, column: str) -> int:
    cursor.execute(f'SELECT COALESCE(MAX({column}), 0) FROM "{table}"')
    return int(cursor.fetchone()[0])


def populate(db: Database, signals: int) -> Populated:
    """Add `signals` live signals straight into the registry's tables, as `create_case` would
    leave them: cases of 10 photos x 8 PDQ hashes (half `minor`, half `adult`), one `media`
    row per photo, one `signal`, `media_signal` and `listing` row per hash, and one `add`
    `feed_event` per hash with the next seqs. One shared argon2 hash stands in for the PINs
    (these cases are never opened). SQLite: executemany in one transaction; PostgreSQL: COPY
    in one transaction, sequences moved past the new ids, then VACUUM ANALYZE (what autovacuum
    would do after such a load). Run while no server writes."""
    started = time.perf_counter()
    per_case = IMAGES_PER_CASE * SIGNALS_PER_IMAGE
    cases = math.ceil(signals / per_case)
    pin_hash = argon2.PasswordHasher().hash(registry_secrets.new_pin())
    today = datetime.now(UTC).date()
    sqlite = db.kind == "sqlite"
    connection: Any
    if sqlite:
        connection = sqlite3.connect(str(make_url(db.url).database), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
    else:
        connection = psycopg.connect(_libpq(db.url))
    cursor = connection.cursor()

    usable: Any = 1 if sqlite else True  # SQLAlchemy's Boolean is an integer in SQLite

    def day(value: date) -> Any:
        return value.isoformat() if sqlite else value

    def write(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        names = ", ".join(columns)
        if sqlite:
            marks = ", ".join("?" * len(columns))
            cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
        else:
            with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)

    case_id = _max(cursor, "case", "id")
    media_id = _max(cursor, "media", "id")
    signal_id = _max(cursor, "signal", "id")
    seq = _max(cursor, "feed_event", "seq")
    numbers: set[str] = set()
    public_ids: set[str] = set()
    variants = IMAGE_VARIANTS[:SIGNALS_PER_IMAGE]
    made = 0
    chunk = 1000
    while made < cases:
        batch = min(chunk, cases - made)
        case_rows, media_rows, signal_rows, link_rows, listing_rows, event_rows = (
            [] for _ in range(6)
        )
        values = random_values(batch * per_case)
        for c in range(batch):
            case_id += 1
            group = ("minor", "adult")[(made + c) % 2]
            number = registry_secrets.new_case_number()
            while number in numbers:
                number = registry_secrets.new_case_number()
            numbers.add(number)
            case_rows.append(
                (case_id, number, pin_hash, group, "en", "active", day(today), day(today), 0)
            )
            for i in range(IMAGES_PER_CASE):
                media_id += 1
                public_id = registry_secrets.new_media_id()
                while public_id in public_ids:
                    public_id = registry_secrets.new_media_id()
                public_ids.add(public_id)
                media_rows.append(
                    (
                        media_id,
                        public_id,
                        case_id,
                        "image",
                        secrets.token_hex(16),
                        secrets.token_hex(32),
                        "active",
                        day(today),
                    )
                )
                for j, variant in enumerate(variants):
                    value = values[(c * IMAGES_PER_CASE + i) * SIGNALS_PER_IMAGE + j]
                    signal_id += 1
                    seq += 1
                    signal_rows.append((signal_id, "pdq", value, 90, usable, variant))
                    link_rows.append((media_id, signal_id))
                    listing_rows.append((signal_id, group))
                    event_rows.append((seq, "add", group, signal_id, day(today)))
        write("case", _CASE_COLUMNS, case_rows)
        write("media", _MEDIA_COLUMNS, media_rows)
        write("signal", ("id", "type", "value", "quality", "usable", "variant"), signal_rows)
        write("media_signal", ("media_id", "signal_id"), link_rows)
        write("listing", ("signal_id", "list"), listing_rows)
        write("feed_event", _EVENT_COLUMNS, event_rows)
        made += batch
    cursor.execute(
        "INSERT INTO feed_day (day, first_seq) SELECT created_day, MIN(seq) FROM feed_event "
        "GROUP BY created_day ON CONFLICT (day) DO NOTHING"
    )
    if sqlite:
        connection.execute("COMMIT")
    else:
        for table in ("case", "media", "signal"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT MAX(id) FROM "{table}"))'
            )
        connection.commit()
        connection.autocommit = True
        cursor.execute("VACUUM ANALYZE")
    cursor.execute('SELECT COUNT(*) FROM "listing"')
    live = int(cursor.fetchone()[0])
    events = _max(cursor, "feed_event", "seq")
    connection.close()
    return Populated(
        time.perf_counter() - started,
        cases,
        cases * IMAGES_PER_CASE,
        cases * per_case,
        live,
        events,
    )


_CASE_COLUMNS = (
    "id",
    "number",
    "pin_hash",
    "age_group",
    "language",
    "status",
    "created_day",
    "updated_day",
    "failed_pin_count",
)
_MEDIA_COLUMNS = ("id", "public_id", "case_id", "kind", "md5", "sha256", "status", "created_day")
_EVENT_COLUMNS = ("seq", "op", "list", "signal_id", "created_day")


@dataclass
class Sync:
    how: str
    seconds: float
    items: int
    megabytes: float
    requests: int
    cursor: int
    cpu: CpuUse


def measure_snapshot(server: Server, db: Database, key: str) -> Sync:
    """`GET /v1/feed/snapshot` read to the end, every line parsed."""
    lines = 0
    size = 0
    cursor = -1
    with (
        cpu_use(server.pid, db.kind == "postgres") as use,
        httpx.Client(base_url=server.url, timeout=600) as client,
    ):
        started = time.perf_counter()
        with client.stream("GET", "/v1/feed/snapshot", headers=_auth(key)) as response:
            if response.status_code != 200:
                raise RuntimeError(f"snapshot failed: {response.status_code}")
            rest = b""
            for chunk in response.iter_bytes():
                size += len(chunk)
                *complete, rest = (rest + chunk).split(b"\n")
                for line in complete:
                    item = orjson.loads(line)
                    if cursor < 0:
                        cursor = item["cursor"]
                    else:
                        lines += 1
        seconds = time.perf_counter() - started
    return Sync("snapshot", seconds, lines, size / 1e6, 1, cursor, use)


def measure_paged(server: Server, db: Database, key: str, limit: int) -> Sync:
    """`GET /v1/feed?after=..&limit=..` from 0 until `has_more` is false, every page parsed."""
    events = 0
    size = 0
    pages = 0
    after = 0
    with (
        cpu_use(server.pid, db.kind == "postgres") as use,
        httpx.Client(base_url=server.url, timeout=600) as client,
    ):
        started = time.perf_counter()
        while True:
            response = client.get(
                "/v1/feed", params={"after": after, "limit": limit}, headers=_auth(key)
            )
            if response.status_code != 200:
                raise RuntimeError(f"feed page failed: {response.status_code} {response.text}")
            size += len(response.content)
            pages += 1
            page = orjson.loads(response.content)
            if page["events"] and page["events"][0]["seq"] != after + 1:
                raise RuntimeError(f"feed gap after {after}")
            events += len(page["events"])
            after = page["next"]
            if not page["has_more"]:
                break
        seconds = time.perf_counter() - started
    return Sync(f"paged, limit={limit}", seconds, events, size / 1e6, pages, after, use)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ---- (c) withdrawal to `remove` ----------------------------------------------------------------


class FeedWatcher(threading.Thread):
    """A platform polling the feed: records when each `remove` event is first returned."""

    def __init__(self, url: str, key: str, after: int, interval: float) -> None:
        super().__init__(daemon=True)
        self._url, self._key, self._after, self._interval = url, key, after, interval
        self._removed: dict[str, float] = {}
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self.caught_up = threading.Event()
        self.polls = 0
        self.poll_seconds: list[float] = []

    def run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=60) as client:
            while not self._stopping.is_set():
                started = time.perf_counter()
                response = client.get(
                    "/v1/feed",
                    params={"after": self._after, "limit": 10_000},
                    headers=_auth(self._key),
                )
                now = time.perf_counter()
                self.polls += 1
                self.poll_seconds.append(now - started)
                page = response.json()
                with self._changed:
                    for event in page["events"]:
                        if event["op"] == "remove":
                            self._removed.setdefault(event["value"], now)
                    self._after = page["next"]
                    self._changed.notify_all()
                if not page["has_more"]:
                    self.caught_up.set()
                    time.sleep(self._interval)

    def seen(self, values: frozenset[str], timeout: float) -> float | None:
        """When the last of `values` was first returned as `remove` (None: not in time)."""
        deadline = time.perf_counter() + timeout
        with self._changed:
            while not values <= self._removed.keys():
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self._changed.wait(left)
            return max(self._removed[v] for v in values)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)


@dataclass
class Withdrawals:
    request_seconds: list[float]
    visible_seconds: list[float]
    polls: int
    poll_seconds: list[float]
    cpu: CpuUse


def measure_withdrawals(
    server: Server, db: Database, key: str, cases: Sequence[Case], after: int
) -> Withdrawals:
    watcher = FeedWatcher(server.url, key, after, POLL_INTERVAL_S)
    watcher.start()
    if not watcher.caught_up.wait(timeout=600):
        raise RuntimeError("the feed poller did not reach the end of the feed")
    result = Withdrawals([], [], 0, [], CpuUse())
    with (
        cpu_use(server.pid, db.kind == "postgres") as use,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        for case in cases:
            time.sleep(0.05 + secrets.randbelow(50) / 1000)  # not in step with the polls
            sent = time.perf_counter()
            response = client.post(f"/v1/cases/{case.number}/withdraw", json={"pin": case.pin})
            answered = time.perf_counter()
            if response.status_code != 200:
                raise RuntimeError(f"withdrawal refused: {response.status_code} {response.text}")
            seen = watcher.seen(case.values, timeout=30)
            if seen is None:
                raise RuntimeError(f"no remove events for case {case.number} within 30 s")
            result.request_seconds.append(answered - sent)
            result.visible_seconds.append(seen - sent)
    watcher.stop()
    result.polls, result.poll_seconds, result.cpu = watcher.polls, watcher.poll_seconds, use
    return result


# ---- where the time of a case goes ---------------------------------------------------------


@dataclass
class InProcess:
    """`Registry.create_case` called in this process, one case at a time, without HTTP."""

    cases: int
    seconds: float
    cpu: float
    database_cpu: float
    statements: int
    rows: int
    driver_seconds: float
    commit_seconds: float


def _media_in() -> list[MediaIn]:
    values = random_values(IMAGES_PER_CASE * SIGNALS_PER_IMAGE)
    variants = IMAGE_VARIANTS[:SIGNALS_PER_IMAGE]
    return [
        MediaIn(
            "image",
            secrets.token_hex(16),
            secrets.token_hex(32),
            tuple(
                SignalIn("pdq", values[i * SIGNALS_PER_IMAGE + j], 90, variant)
                for j, variant in enumerate(variants)
            ),
        )
        for i in range(IMAGES_PER_CASE)
    ]


def measure_inprocess(db: Database, cases: int) -> InProcess:
    """Where a case's time goes without HTTP: statements sent, time in the database driver
    (execute and executemany, which includes the database's own work and the round trips),
    time in commits, and the rest (Python: validation, SQLAlchemy, building rows). PIN
    hashing at its minimum cost."""
    settings = Settings(
        data_dir=db.workdir / "data",
        database_url=db.url,
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
        pow_difficulty_bits=0,
    )
    registry = Registry.from_settings(settings)
    result = InProcess(cases, 0.0, 0.0, 0.0, 0, 0, 0.0, 0.0)
    counting = False
    started_at: dict[int, float] = {}

    def before(conn: Any, _cursor: Any, _sql: str, params: Any, _ctx: Any, many: bool) -> None:
        started_at[id(conn)] = time.perf_counter()

    def after(conn: Any, _cursor: Any, _sql: str, params: Any, _ctx: Any, many: bool) -> None:
        if counting:
            result.driver_seconds += time.perf_counter() - started_at[id(conn)]
            result.statements += 1
            result.rows += len(params) if many else 1

    commit = registry.engine.dialect.do_commit

    def timed_commit(dbapi_connection: Any) -> None:
        begun = time.perf_counter()
        commit(dbapi_connection)
        if counting:
            result.commit_seconds += time.perf_counter() - begun

    registry.engine.dialect.do_commit = timed_commit  # type: ignore[method-assign]
    event.listen(registry.engine, "before_cursor_execute", before)
    event.listen(registry.engine, "after_cursor_execute", after)
    try:
        for _ in range(10):  # warm the statement caches
            registry.create_case("adult", "en", _media_in())
        bodies = [_media_in() for _ in range(cases)]
        counting = True
        with cpu_use(None, db.kind == "postgres") as use:
            begun = time.perf_counter()
            for media in bodies:
                registry.create_case("adult", "en", media)
            result.seconds = time.perf_counter() - begun
        result.cpu, result.database_cpu = use.client, use.database
    finally:
        registry.close()
    return result


@dataclass
class VerifyCost:
    """`ProofOfWork.verify` of one valid solution, in µs: at the load runs' difficulty and at
    the default."""

    low_us: float
    default_us: float


def measure_pow_verify(count: int) -> VerifyCost:
    """Solve `count` challenges at each difficulty, then time their checks (solving at the
    default takes ~0.25 s each)."""
    out = []
    for bits in (LOAD_POW_BITS, DEFAULT_POW_BITS):
        checker = ProofOfWork(secrets.token_bytes(32), bits)
        issued = [checker.issue()["challenge"] for _ in range(count)]
        proofs = solve_all([(c, bits) for c in issued], processes=os.cpu_count() or 1)
        started = time.perf_counter()
        for challenge, solution in proofs:
            checker.verify(challenge, solution)
        out.append(1e6 * (time.perf_counter() - started) / count)
    return VerifyCost(out[0], out[1])


@dataclass
class PinCost:
    """One argon2id PIN hash at the shipped default cost, alone on the machine."""

    wall: float
    cpu: float
    lanes: int


def measure_pin_hash(repeats: int) -> PinCost:
    defaults = Settings()
    hasher = registry_secrets.PinHasher(
        time_cost=defaults.argon2_time_cost,
        memory_kib=defaults.argon2_memory_kib,
        parallelism=defaults.argon2_parallelism,
    )
    hasher.hash(registry_secrets.new_pin())
    cpu0, begun = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        hasher.hash(registry_secrets.new_pin())
    wall = (time.perf_counter() - begun) / repeats
    return PinCost(wall, (time.process_time() - cpu0) / repeats, defaults.argon2_parallelism)


# ---- one database ----------------------------------------------------------------------------


@dataclass
class BackendResult:
    label: str
    fast: Throughput
    default: Throughput
    burst: Throughput
    burst_solve_seconds: float
    pow: PowCost
    populated: Populated
    syncs: list[Sync]
    withdrawals: Withdrawals
    inprocess: InProcess
    seconds: float = 0.0


def prepare(db: Database) -> str:
    """Migrate the new database and add the platform that syncs (its API key)."""
    for args in (
        ("db", "upgrade"),
        ("admin", "platform", "add", "bench", "--lists", "minor,adult"),
    ):
        result = subprocess.run(
            _takedown(*args),
            cwd=db.workdir,
            env=db.env(),
            capture_output=True,
            check=True,
            timeout=120,
        )
    return result.stdout.decode().strip()


def run_backend(kind: str, config: Config, log: Callable[[str], None]) -> BackendResult:
    started = time.perf_counter()
    with fresh_database(kind) as db:
        key = prepare(db)
        log(f"{db.label}: (b) populating {config.signals:,} signals")
        populated = populate(db, config.signals)
        log(f"  populated in {populated.seconds:.0f} s; syncing")
        with running_server(db, "sync") as s:
            snapshot = measure_snapshot(s, db, key)
            log(f"  snapshot {snapshot.seconds:.1f} s")
            paged = measure_paged(s, db, key, 10_000)
            log(f"  paged {paged.seconds:.1f} s")
        for sync, expected in ((snapshot, populated.live), (paged, populated.events)):
            if sync.items != expected:
                raise RuntimeError(f"{sync.how} returned {sync.items}, expected {expected}")
        log("  (a) submissions, PIN hashing at the minimum cost")
        bits = str(LOAD_POW_BITS)
        with running_server(db, "fast", TAKEDOWN_POW_DIFFICULTY_BITS=bits, **ARGON2_MINIMUM) as s:
            fast = measure_submissions(s, db, config, "argon2id at its minimum cost")
        log(f"  {fast.rate:.1f} cases/s; now at the default PIN cost")
        with running_server(db, "default", TAKEDOWN_POW_DIFFICULTY_BITS=bits) as s:
            default = measure_submissions(s, db, config, "argon2id at the default cost")
            log(f"  {default.rate:.1f} cases/s; (c) withdrawals")
            if len(default.cases) < config.withdrawals:
                raise RuntimeError(
                    f"only {len(default.cases)} cases at the default PIN cost; need "
                    f"{config.withdrawals} for the withdrawals (run longer)"
                )
            cases = default.cases[: config.withdrawals]
            withdrawn = measure_withdrawals(s, db, key, cases, after=paged.cursor)
        log(f"  visible after {statistics.median(withdrawn.visible_seconds):.2f} s; defaults")
        with running_server(db, "defaults") as s:
            burst, solve_seconds = measure_default_burst(s, db, config)
            log(f"  {burst.rate:.1f} cases/s with every default; proof of work for a client")
            cost = measure_pow(s, config.pow_cases)
        log("  in-process create_case")
        inprocess = measure_inprocess(db, config.inprocess_cases)
    return BackendResult(
        db.label,
        fast,
        default,
        burst,
        solve_seconds,
        cost,
        populated,
        [snapshot, paged],
        withdrawn,
        inprocess,
        time.perf_counter() - started,
    )


# ---- report ----------------------------------------------------------------------------------


def nearest_rank(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f} ms"


def _verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def _fsync_ms() -> float:
    """Median time of a 4 KiB write + fsync in the temporary directory (the SQLite disk)."""
    times = []
    with tempfile.NamedTemporaryFile() as handle:
        for _ in range(50):
            started = time.perf_counter()
            os.write(handle.fileno(), b"\0" * 4096)
            os.fsync(handle.fileno())
            times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def _postgres_facts() -> str:
    with psycopg.connect(_libpq(POSTGRES_URL), connect_timeout=5) as connection:
        settings = {
            name: connection.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("server_version", "synchronous_commit", "fsync", "shared_buffers")
        }
    return (
        f"PostgreSQL {settings['server_version']} on the same machine (synchronous_commit="
        f"{settings['synchronous_commit']}, fsync={settings['fsync']}, shared_buffers="
        f"{settings['shared_buffers']})"
    )


def machine_section(kinds: Sequence[str]) -> str:
    load = load_average()
    libs = [
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
        f"SQLAlchemy {version('sqlalchemy')}",
        f"psycopg {version('psycopg')}",
        f"FastAPI {version('fastapi')}",
        f"uvicorn {version('uvicorn')}",
        f"httpx {version('httpx')}",
    ]
    lines = [
        f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs), {platform.machine()}, "
        f"Linux {platform.release()}; server, database and clients share it.",
        f"- {', '.join(libs)}.",
        f"- Disk: a 4 KiB write + fsync takes {_fsync_ms():.1f} ms (median of 50).",
    ]
    if "postgres" in kinds:
        lines.append(f"- {_postgres_facts()}.")
    lines.append(f"- Load average at the start (1/5/15 min): {load}.")
    lines.append(f"- Memory at the start (`bench/machine.memory_state`): {memory_state()}.")
    return "\n".join(lines)


def where_the_time_goes(
    results: Sequence[BackendResult], pin: PinCost, verify: VerifyCost
) -> list[str]:
    """The findings the measurements support, with their numbers."""
    cpus = os.cpu_count() or 1
    lines = [
        f"- **PIN hashing.** One argon2id hash at the default cost takes {_ms(pin.wall)} "
        f"({_ms(pin.cpu)} of CPU over {pin.lanes} lane(s)), timed alone in the benchmark's "
        f"process: {GOAL_CASES_PER_S:.0f} cases/s need {GOAL_CASES_PER_S * pin.cpu:.1f} "
        f"CPUs of PIN hashing (this machine has {cpus}). At the default cost the server "
        f"reached "
        + ", ".join(f"{r.default.rate:.1f}/s on {r.label}" for r in results)
        + "; at the minimum cost "
        + ", ".join(f"{r.fast.rate:.1f}/s" for r in results)
        + ".",
        f"- **Proof of work.** The server's check of a solution (`ProofOfWork.verify`: HMAC, "
        f"one SHA-256, the spent set) takes {verify.low_us:.0f} µs at {LOAD_POW_BITS} bits and "
        f"{verify.default_us:.0f} µs at the default {DEFAULT_POW_BITS} bits (timed in-process): "
        f"the same work. The reporter's device pays the difference: ~2^{DEFAULT_POW_BITS} "
        f"SHA-256 per case (table below), which is why the load generator, on the server's "
        f"own 2 CPUs, cannot keep up at the default and the timed runs use {LOAD_POW_BITS} "
        f"bits; the all-defaults burst solves its proofs before it starts.",
    ]
    for r in results:
        t = r.default
        database_per_case = t.cpu.database / max(1, t.done)
        total = (t.cpu.server + t.cpu.database + t.cpu.client) / max(1, t.done)
        lines.append(
            f"- **{r.label}: CPU per case.** At the default settings each case cost "
            f"{_ms(t.cpu.server / max(1, t.done))} of server CPU (HTTP, checks, argon2id, "
            "the writer)"
            + (f", {_ms(database_per_case)} of PostgreSQL" if database_per_case else "")
            + f" and {_ms(t.cpu.client / max(1, t.done))} of the load generator: "
            f"{_ms(total)} in all, so the {cpus} CPUs could do at most "
            f"{cpus / total:.0f} cases/s with nothing else running; {t.rate:.1f}/s were "
            f"reached while other work took {t.cpu.rest_share(t.seconds)} of the machine. "
            f"Writing alone (in-process, table below) takes "
            f"{_ms(r.inprocess.seconds / r.inprocess.cases)} per case one at a time; the "
            "server writes the cases waiting at the same moment in one transaction."
        )
    for r in results:
        snapshot, paged = r.syncs
        database = (
            f"; PostgreSQL used {snapshot.cpu.database:.1f} s and {paged.cpu.database:.1f} s of CPU"
            if snapshot.cpu.database or paged.cpu.database
            else ""
        )
        lines.append(
            f"- **{r.label}: sync.** Server CPU: "
            f"{1e6 * snapshot.cpu.server / snapshot.items:.1f} µs per signal for the snapshot, "
            f"{1e6 * paged.cpu.server / paged.items:.1f} µs per event for the paged feed (a row, "
            f"a tuple, a dict, orjson){database}; the client's parsing (orjson) took "
            f"{snapshot.cpu.client:.1f} s and {paged.cpu.client:.1f} s."
        )
    return lines


def report(
    results: Sequence[BackendResult],
    config: Config,
    pin: PinCost,
    verify: VerifyCost,
    machine: str,
    command: str,
    took: float,
) -> str:
    labels = [r.label for r in results]

    def row(name: str, goal: str, cell: Callable[[BackendResult], str]) -> list[str]:
        return [name, goal, *(cell(r) for r in results)]

    def rate_cell(t: Throughput) -> str:
        ratio = t.rate / GOAL_CASES_PER_S
        return f"{t.rate:.1f}/s ({ratio:.2f}x goal, {_verdict(ratio >= 1)})"

    def time_cell(seconds: float, goal: float) -> str:
        return f"{seconds:.2f} s ({seconds / goal:.2f}x goal, {_verdict(seconds <= goal)})"

    summary = markdown_table(
        ["measure", "goal", *labels],
        [
            row(
                f"case submissions/s over {config.duration:.0f} s: default settings, proof of "
                f"work at {LOAD_POW_BITS} bits",
                f">= {GOAL_CASES_PER_S:.0f}/s",
                lambda r: rate_cell(r.default),
            ),
            row(
                f"case submissions/s, every default (a burst of {config.default_burst} cases "
                "with pre-solved proofs of work)",
                f">= {GOAL_CASES_PER_S:.0f}/s",
                lambda r: rate_cell(r.burst),
            ),
            row(
                f"case submissions/s over {config.duration:.0f} s, PIN hashing at its minimum "
                "cost (not a setting to ship: shows the rest)",
                f">= {GOAL_CASES_PER_S:.0f}/s",
                lambda r: rate_cell(r.fast),
            ),
            row(
                f"full sync of {config.signals:,} signals, snapshot",
                f"<= {GOAL_SYNC_S:.0f} s",
                lambda r: time_cell(r.syncs[0].seconds, GOAL_SYNC_S),
            ),
            row(
                f"full sync of {config.signals:,} signals, paged feed (limit=10000)",
                f"<= {GOAL_SYNC_S:.0f} s",
                lambda r: time_cell(r.syncs[1].seconds, GOAL_SYNC_S),
            ),
            row(
                f"withdrawal -> `remove` seen, median of {config.withdrawals}",
                f"< {GOAL_WITHDRAW_S:.0f} s",
                lambda r: time_cell(
                    statistics.median(r.withdrawals.visible_seconds), GOAL_WITHDRAW_S
                ),
            ),
            row(
                "withdrawal -> `remove` seen, max",
                f"< {GOAL_WITHDRAW_S:.0f} s",
                lambda r: time_cell(max(r.withdrawals.visible_seconds), GOAL_WITHDRAW_S),
            ),
        ],
    )

    throughput_rows = []
    for r in results:
        for t in (r.default, r.burst, r.fast):
            errors = ", ".join(f"{n} x {s}" for s, n in sorted(t.statuses.items()) if s != 201)
            throughput_rows.append(
                [
                    r.label,
                    t.label,
                    f"{t.pow_bits} bits",
                    str(t.clients),
                    f"{t.seconds:.1f} s",
                    str(t.done),
                    f"**{t.rate:.1f}**",
                    _ms(nearest_rank(t.latencies, 0.5)) if t.latencies else "-",
                    _ms(nearest_rank(t.latencies, 0.99)) if t.latencies else "-",
                    errors or "none",
                    t.cpu.per(t.done),
                    t.cpu.rest_share(t.seconds),
                ]
            )
    throughput = markdown_table(
        [
            "database",
            "settings",
            "proof of work",
            "clients",
            "window",
            "cases",
            "cases/s",
            "p50",
            "p99",
            "non-201",
            "CPU ms per case",
            "other work",
        ],
        throughput_rows,
    )

    inprocess_rows = []
    for r in results:
        p = r.inprocess
        rest = p.seconds - p.driver_seconds - p.commit_seconds
        inprocess_rows.append(
            [
                r.label,
                f"{p.cases / p.seconds:.1f}",
                f"{1000 * p.seconds / p.cases:.1f}",
                f"{1000 * p.driver_seconds / p.cases:.1f} ({p.statements / p.cases:.0f} "
                f"statements, {p.rows / p.cases:.0f} rows)",
                f"{1000 * p.commit_seconds / p.cases:.1f}",
                f"{1000 * rest / p.cases:.1f}",
                f"{1000 * p.cpu / p.cases:.1f}"
                + (
                    f" + PostgreSQL {1000 * p.database_cpu / p.cases:.1f}" if p.database_cpu else ""
                ),
            ]
        )
    inprocess = markdown_table(
        [
            "database",
            "cases/s",
            "ms per case",
            "in the driver: ms (per case)",
            "commit ms",
            "rest (Python) ms",
            "CPU ms per case",
        ],
        inprocess_rows,
    )

    pow_rows = []
    for r in results:
        c = r.pow
        pow_rows.append(
            [
                r.label,
                f"{c.difficulty} bits",
                str(len(c.solve_seconds)),
                f"{statistics.fmean(c.hashes):,.0f}",
                f"{statistics.fmean(c.solve_seconds):.2f} s",
                f"{statistics.median(c.solve_seconds):.2f} s",
                f"{nearest_rank(c.solve_seconds, 0.9):.2f} s",
                f"{max(c.solve_seconds):.2f} s",
                _ms(statistics.median(c.post_seconds)),
            ]
        )
    pow_table = markdown_table(
        [
            "database",
            "difficulty",
            "cases",
            "hashes tried (mean)",
            "solve mean",
            "median",
            "p90",
            "max",
            "then POST /v1/cases (median)",
        ],
        pow_rows,
    )

    sync_rows = []
    for r in results:
        for s in r.syncs:
            sync_rows.append(
                [
                    r.label,
                    s.how,
                    f"{s.items:,}",
                    str(s.requests),
                    f"{s.megabytes:.0f} MB",
                    f"**{s.seconds:.2f} s**",
                    f"{s.items / s.seconds:,.0f}",
                    s.cpu.total(),
                    s.cpu.rest_share(s.seconds),
                ]
            )
    sync_table = markdown_table(
        ["database", "how", "items", "requests", "size", "time", "items/s", "CPU s", "other work"],
        sync_rows,
    )
    populate_lines = [
        f"- {r.label}: {r.populated.signals:,} signals in {r.populated.cases:,} cases "
        f"({r.populated.media:,} photos) written in {r.populated.seconds:.0f} s."
        for r in results
    ]

    withdraw_rows = []
    for r in results:
        w = r.withdrawals
        withdraw_rows.append(
            [
                r.label,
                str(len(w.visible_seconds)),
                _ms(statistics.median(w.request_seconds)),
                _ms(max(w.request_seconds)),
                f"**{_ms(statistics.median(w.visible_seconds))}**",
                f"**{_ms(max(w.visible_seconds))}**",
                f"{w.polls:,}",
                _ms(statistics.median(w.poll_seconds)),
            ]
        )
    withdraw_table = markdown_table(
        [
            "database",
            "withdrawals",
            "request median",
            "request max",
            "visible median",
            "visible max",
            "polls",
            "poll median",
        ],
        withdraw_rows,
    )

    return "\n".join(
        [
            f"Command: `{command}` (took {took:.0f} s).",
            "",
            machine,
            "",
            "### Goals",
            "",
            summary,
            "",
            "Ratios are measured / goal: at least 1 meets a throughput goal, at most 1 a time "
            "goal. Every run uses the shipped settings except where the row says otherwise, "
            "and except the rate limits, which are raised (by default 50 new cases per second "
            "are accepted; docs/abuse.md): argon2id PIN hashing at "
            f"{DEFAULTS.argon2_time_cost} passes, {DEFAULTS.argon2_memory_kib} KiB, "
            f"{DEFAULTS.argon2_parallelism} lane on a pool of {PIN_WORKERS} threads per server "
            f"process (`api/reporter.py`), {DEFAULTS.server_workers} server process(es) "
            f"(`TAKEDOWN_WORKERS`). Proof of work: {LOAD_POW_BITS} bits in the timed runs "
            f"instead of {DEFAULT_POW_BITS} (see below); the burst has every default.",
            "",
            "### Where the time goes",
            "",
            *where_the_time_goes(results, pin, verify),
            "",
            f"### (b) First sync of {config.signals:,} signals",
            "",
            "The signals are written straight into the registry's tables (`populate` in the "
            "script): the rows `create_case` leaves for cases of 10 photos x 8 hashes (`case`, "
            "`media`, `signal`, `media_signal`, `listing`, and one `add` `feed_event` per hash "
            "with the next seq), half on the `minor` list and half on `adult`; SQLite with "
            "executemany in one transaction, PostgreSQL with COPY in one transaction followed "
            "by `VACUUM ANALYZE` (what autovacuum does after such a load). Both syncs are "
            "checked: the snapshot returns every live signal, the paged feed every event, "
            "without a gap. Timed from the request to the last line or page parsed "
            "(`orjson.loads`) by the client; one run each, the snapshot first, by a platform "
            "reading both lists.",
            "",
            *populate_lines,
            "",
            sync_table,
            "",
            "### (a) Case submissions",
            "",
            f"On the database of (b). Each case: 10 photos x 8 random PDQ hashes (80 new "
            f"signals, about 9 KB of JSON). The load generator (`bench/http_load.py`): "
            f"{LOAD_PROCESSES} processes with {config.clients // LOAD_PROCESSES} keep-alive "
            f"connections each ({config.clients} clients), plain asyncio streams and bodies made "
            f"before the start; each client gets a challenge (`GET /v1/challenge`), solves it "
            f"and posts the case, back to back, for {config.duration:.0f} s after a "
            f"{config.warmup:.0f} s warm-up. The burst posts {config.default_burst} cases whose "
            f"proofs of work at the default difficulty were solved beforehand (by every CPU, "
            f"not timed); its window runs from the first request to the last answer. Latency "
            f"of the POST, nearest-rank percentiles. CPU ms per case over the window: the "
            f"server's processes, PostgreSQL's (every PostgreSQL process on the machine, so "
            f"other databases' work counts too) and the load generator's; 'other work' is the "
            f"share of the machine's CPU time that anything else used meanwhile.",
            "",
            throughput,
            "",
            f"Where a case's time goes, without HTTP: `Registry.create_case` called in the "
            f"benchmark's process on the same database, one case at a time "
            f"({config.inprocess_cases} cases, PIN hashing at its minimum cost). 'In the "
            f"driver' is the time inside the DB-API `execute`/`executemany` calls (the "
            f"database's own work and the round trips; PostgreSQL's COPY goes around these "
            f"counters and lands in the rest); the rest is Python: validation, building rows, "
            f"SQLAlchemy. All of it runs inside the one serialised write transaction "
            f"(`store/transactions.py`); the server shares that transaction among the cases "
            f"that wait for it.",
            "",
            inprocess,
            "",
            "What proof of work at the default difficulty costs a client per case "
            "(`takedown.registry.pow.solve`, pure Python, one core; then the report is posted "
            "to a server at the default settings):",
            "",
            pow_table,
            "",
            "### (c) Withdrawal to `remove`",
            "",
            f"Cases made in (a) at the default PIN cost (80 hashes each) are withdrawn one at "
            f"a time (`POST /v1/cases/{{number}}/withdraw`); a platform client, caught up with "
            f"the feed, polls `GET /v1/feed?after=<next>` every {1000 * POLL_INTERVAL_S:.0f} ms. "
            f"Visible = from sending the withdrawal to the end of the first poll that returned "
            f"all of the case's `remove` events; the request includes the argon2id PIN check "
            f"at the default cost.",
            "",
            withdraw_table,
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--duration", type=float, help="seconds per throughput run")
    parser.add_argument("--clients", type=int, help="concurrent clients for the throughput")
    parser.add_argument("--signals", type=int, help="signals to sync")
    parser.add_argument("--withdrawals", type=int, help="withdrawals to time")
    parser.add_argument(
        "--default-burst",
        type=int,
        help="cases posted with every default setting (their proofs of work are solved first)",
    )
    parser.add_argument("--update-docs", action="store_true")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    config = Config(
        duration=args.duration or base.duration,
        warmup=base.warmup,
        clients=args.clients or base.clients,
        signals=args.signals or base.signals,
        withdrawals=args.withdrawals or base.withdrawals,
        pow_cases=base.pow_cases,
        inprocess_cases=base.inprocess_cases,
        default_burst=args.default_burst if args.default_burst is not None else base.default_burst,
    )
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    command = " ".join(["bench/registry_load.py", *(argv if argv is not None else sys.argv[1:])])
    machine = machine_section(kinds)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    pin = measure_pin_hash(repeats=3 if args.quick else 10)
    verify = measure_pow_verify(count=4 if args.quick else 20)
    results = [run_backend(kind, config, log) for kind in kinds]
    text = report(results, config, pin, verify, machine, command, time.perf_counter() - started)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "registry_load.md").write_text(text + "\n")
    print(text)
    if args.update_docs:
        replace_block(
            MARKER,
            text,
            section=f"{HEADING}\n\n"
            "    .venv/bin/python bench/registry_load.py --update-docs   # both databases\n"
            "    .venv/bin/python bench/registry_load.py --quick          # smoke run\n\n"
            "Load on a real `takedown serve` process: case submissions per second, a "
            "platform's first sync of a million signals, and how soon a withdrawal reaches "
            "the feed. The method is described in the report below and in the script's "
            "docstring.",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
