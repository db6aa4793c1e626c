"""A lean HTTP/1.1 load generator for `bench/registry_load.py`: case reports from several
processes, so that the client is not what limits the measurement.

Each process runs `connections` keep-alive connections on one asyncio loop (uvloop when it is
installed) with plain `asyncio` streams: no HTTP library, requests built from prepared bytes,
responses parsed just enough (status line, Content-Length, body). Every case is what a
reporter's device sends: `GET /v1/challenge`, solve it (`takedown.registry.pow.solve`), then
`POST /v1/cases` with 10 photos x 8 random PDQ hashes. The case bodies (random hashes) are
built before the window opens; the challenge is fetched and solved inside it, so its cost is
counted on both sides.

With pre-solved proofs (`run_load(proofs=...)`) no challenge is fetched: each proof is used
for one case, and the run ends when they are used up.

All processes start at the same wall-clock instant; a case counts when its POST is sent after
the warm-up and answered before the end of the window. Each process reports its statuses,
latencies (of the POST, and of challenge + solve + POST), its own CPU time over the window and
up to `keep` created cases (number, PIN, hash values) for the withdrawal measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from takedown.hashing.fingerprint import IMAGE_VARIANTS
from takedown.registry.pow import solve

__all__ = [
    "IMAGES_PER_CASE",
    "SIGNALS_PER_IMAGE",
    "LoadResult",
    "Proof",
    "case_body",
    "random_values",
    "run_load",
    "solve_all",
]

IMAGES_PER_CASE = 10
SIGNALS_PER_IMAGE = 8


def random_values(count: int) -> list[str]:
    raw = os.urandom(32 * count).hex()
    return [raw[i : i + 64] for i in range(0, len(raw), 64)]


def case_media() -> tuple[list[dict[str, Any]], frozenset[str]]:
    """10 photos x 8 random PDQ hashes (every case adds 80 new signals), and their values."""
    values = random_values(IMAGES_PER_CASE * SIGNALS_PER_IMAGE)
    variants = IMAGE_VARIANTS[:SIGNALS_PER_IMAGE]
    media = [
        {
            "kind": "image",
            "md5": secrets.token_hex(16),
            "sha256": secrets.token_hex(32),
            "signals": [
                {"type": "pdq", "value": value, "quality": 90, "variant": variant}
                for value, variant in zip(
                    values[i * SIGNALS_PER_IMAGE : (i + 1) * SIGNALS_PER_IMAGE],
                    variants,
                    strict=True,
                )
            ],
        }
        for i in range(IMAGES_PER_CASE)
    ]
    return media, frozenset(values)


def case_body(proof: dict[str, str]) -> tuple[bytes, frozenset[str]]:
    """A whole `POST /v1/cases` body with the given proof of work."""
    media, values = case_media()
    body = {
        "age_group": secrets.choice(("minor", "adult")),
        "language": "en",
        "media": media,
        "pow": proof,
    }
    return json.dumps(body, separators=(",", ":")).encode(), values


_POW_SLOT = b'"pow":{"challenge":"'


def _template() -> tuple[bytes, bytes, frozenset[str]]:
    """A case body split around the challenge and solution: head + challenge + middle +
    solution + tail, so that the proof is put in without re-encoding the JSON."""
    media, values = case_media()
    head = json.dumps(
        {"age_group": secrets.choice(("minor", "adult")), "language": "en", "media": media},
        separators=(",", ":"),
    ).encode()
    return head[:-1] + b"," + _POW_SLOT, b'","solution":"', values


@dataclass
class LoadResult:
    """What one process (or, merged, all of them) saw in the window."""

    statuses: Counter[int] = field(default_factory=Counter)
    post_latencies: list[float] = field(default_factory=list)
    case_latencies: list[float] = field(default_factory=list)
    done: int = 0
    """Cases made in the window."""
    first_sent: float = math.inf
    """Wall-clock time the first counted request was sent."""
    last_answered: float = -math.inf
    """Wall-clock time the last counted answer came."""
    made: int = 0
    """Cases made in all (warm-up and stragglers included)."""
    cpu_seconds: float = 0.0
    cases: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def merge(self, other: LoadResult) -> None:
        self.statuses.update(other.statuses)
        self.post_latencies += other.post_latencies
        self.case_latencies += other.case_latencies
        self.done += other.done
        self.first_sent = min(self.first_sent, other.first_sent)
        self.last_answered = max(self.last_answered, other.last_answered)
        self.made += other.made
        self.cpu_seconds += other.cpu_seconds
        self.cases += other.cases
        self.errors += other.errors


class _Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._host_header = f"Host: {host}:{port}\r\n".encode()

    async def request(self, method: bytes, path: bytes, body: bytes = b"") -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        head = b"%s %s HTTP/1.1\r\n%s" % (method, path, self._host_header)
        if body:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self._writer.write(head + b"\r\n" + body)
        header = await self._reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        close = False
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        payload = await self._reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


Proof = tuple[str, str]
"""A solved proof of work: (challenge, solution)."""


async def _run(
    host: str,
    port: int,
    connections: int,
    start_at: float,
    warmup: float,
    duration: float,
    keep: int,
    bodies: list[tuple[bytes, bytes, frozenset[str]]],
    proofs: list[Proof] | None,
) -> LoadResult:
    result = LoadResult()
    counted_from = start_at + warmup
    deadline = counted_from + duration
    # Wait on the wall clock (shared by the processes), then work on the monotonic one.
    await asyncio.sleep(max(0.0, start_at - time.time()))
    offset = time.perf_counter() - time.time()
    counted_from += offset
    deadline += offset
    cpu: dict[str, float] = {}
    next_body = iter(bodies)
    next_proof = iter(proofs or ())

    async def proof_of_work(connection: _Connection) -> Proof | None:
        """A proof for the next case: one of `proofs` (None when they are used up), or a
        fresh challenge, solved here."""
        if proofs is not None:
            return next(next_proof, None)
        status, payload = await connection.request(b"GET", b"/v1/challenge")
        if status != 200:
            result.errors.append(f"challenge: {status} {payload[:200]!r}")
            await asyncio.sleep(0.1)
            return await proof_of_work(connection)
        challenge = json.loads(payload)
        return challenge["challenge"], solve(challenge["challenge"], challenge["difficulty"])

    async def client() -> None:
        connection = _Connection(host, port)
        try:
            while time.perf_counter() < deadline:
                head, middle, values = next(next_body, None) or _template()
                began = time.perf_counter()
                proof = await proof_of_work(connection)
                if proof is None:
                    return
                body = b'%s%s%s%s"}}' % (head, proof[0].encode(), middle, proof[1].encode())
                sent = time.perf_counter()
                status, payload = await connection.request(b"POST", b"/v1/cases", body)
                answered = time.perf_counter()
                if sent >= counted_from and answered <= deadline:
                    result.statuses[status] += 1
                    result.post_latencies.append(answered - sent)
                    result.case_latencies.append(answered - began)
                    result.first_sent = min(result.first_sent, sent - offset)
                    result.last_answered = max(result.last_answered, answered - offset)
                    if status == 201:
                        result.done += 1
                if status == 201:
                    result.made += 1
                    if len(result.cases) < keep:
                        created = json.loads(payload)
                        result.cases.append((created["case_number"], created["pin"], values))
                elif len(result.errors) < 20:
                    result.errors.append(f"case: {status} {payload[:200]!r}")
        finally:
            await connection.close()

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, counted_from - time.perf_counter()))
        cpu["start"] = time.process_time()
        await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
        cpu["end"] = time.process_time()

    clients = asyncio.gather(*(client() for _ in range(connections)))
    sampler = asyncio.ensure_future(sample_cpu())
    await clients
    if not sampler.done():  # the proofs ran out before the window closed
        sampler.cancel()
        cpu.setdefault("start", 0.0)
        cpu["end"] = time.process_time()
    result.cpu_seconds = cpu["end"] - cpu["start"]
    return result


def _process(
    pipe: Connection,
    host: str,
    port: int,
    connections: int,
    start_at: float,
    warmup: float,
    duration: float,
    keep: int,
    cases: int,
    proofs: list[Proof] | None,
) -> None:
    try:
        bodies = [_template() for _ in range(cases)]
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            pass
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            result = runner.run(
                _run(host, port, connections, start_at, warmup, duration, keep, bodies, proofs)
            )
        pipe.send(result)
    except BaseException as exc:
        pipe.send(exc)
        raise


def run_load(
    host: str,
    port: int,
    *,
    processes: int,
    connections: int,
    warmup: float,
    duration: float,
    keep: int,
    start_at: float | None = None,
    proofs: Sequence[Proof] | None = None,
    max_rate: float = 400.0,
) -> LoadResult:
    """Report cases from `processes` processes x `connections` connections: from `start_at`
    (wall clock; by default a few seconds from now, once case bodies for up to `max_rate`
    cases per second are made), counting those sent after `warmup` seconds and answered
    within `duration` more. With `proofs`, each is used for one case instead of getting and
    solving a challenge, and the run ends when they are used up."""
    cases = len(proofs) if proofs is not None else int(max_rate * (warmup + duration + 2))
    per_process = cases // processes + connections
    if start_at is None:
        start_at = time.time() + 3.0 + per_process / 20_000
    # fork: the children need nothing from the parent but the arguments (no threads run here).
    context = multiprocessing.get_context("fork")
    pipes = []
    workers = []
    for index in range(processes):
        receiver, sender = context.Pipe(duplex=False)
        share = None if proofs is None else list(proofs[index::processes])
        worker = context.Process(
            target=_process,
            args=(
                sender,
                host,
                port,
                connections,
                start_at,
                warmup,
                duration,
                keep,
                per_process,
                share,
            ),
            daemon=True,
        )
        worker.start()
        pipes.append(receiver)
        workers.append(worker)
    merged = LoadResult()
    for pipe, worker in zip(pipes, workers, strict=True):
        got = pipe.recv()
        worker.join()
        if isinstance(got, BaseException):
            raise RuntimeError(f"a load process failed: {got!r}")
        merged.merge(got)
    return merged


def _solve_one(challenge: str, difficulty: int) -> Proof:
    return challenge, solve(challenge, difficulty)


def solve_all(challenges: Sequence[tuple[str, int]], processes: int) -> list[Proof]:
    """Solve (challenge, difficulty) pairs with `processes` processes."""
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        return pool.starmap(_solve_one, challenges, chunksize=4)
