"""Where backfill's batch function runs: `LocalEngine` (a process pool on this machine) or
`RayEngine` (a Ray Data pipeline, on a local Ray or a cluster). Same blocks in, same hits out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, cast

from takedown.errors import ConfigError
from takedown.platform.backfill_batch import Batch, SignalSet, match_batch
from takedown.platform.pool import bounded_map, spawn_pool

__all__ = ["Engine", "LocalEngine", "RayEngine"]


class Engine(Protocol):
    """Runs `match_batch` over blocks; yields the hits of every block (in any order)."""

    name: str

    def run(self, blocks: Iterable[Batch], signals: SignalSet) -> Iterator[Batch]: ...

    def close(self) -> None: ...


_CACHED: dict[str, SignalSet] = {}
"""This worker's signal set (one at a time), kept so its PDQ index is built only once."""


def _match_task(task: tuple[SignalSet, Batch]) -> Batch:
    """Runs in a worker. The set travels with every task (a small pickle for new signals);
    the worker keeps the first copy of each set it sees, with the index it builds."""
    signals, batch = task
    cached = _CACHED.get(signals.token)
    if cached is None:
        _CACHED.clear()
        cached = _CACHED[signals.token] = signals
    return match_batch(batch, cached)


class LocalEngine:
    """A pool of `workers` local processes (in this process when `workers` is 1). The pool
    starts on the first run and stays up for the next ones until `close`: a worker's start
    (Python, numpy, the compiled index kernels) costs seconds, matching a block less."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be 1 or more, got {workers}")
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def run(self, blocks: Iterable[Batch], signals: SignalSet) -> Iterator[Batch]:
        if self.workers == 1:
            for block in blocks:
                yield match_batch(block, signals)
            return
        if self._executor is None:
            self._executor = spawn_pool(self.workers)
        tasks = ((signals, block) for block in blocks)
        yield from bounded_map(self._executor, _match_task, tasks, in_flight=2 * self.workers)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None


class RayEngine:
    """`match_batch` as a Ray Data pipeline: blocks are put in Ray's object store and mapped
    with `map_batches`. Joins the cluster at `address`, else starts a local Ray with
    `workers` CPUs (stopped again by `close`). A Ray already started in this process (by a
    test, a notebook) is used as it is."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray
            import ray.data
        except ImportError:
            raise ConfigError(
                "--engine ray needs Ray, which is not installed: pip install 'takedown[ray]' "
                "(or use the default --engine local)"
            ) from None
        self._started = False
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, log_to_driver=False)
                else:
                    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise ConfigError(f"cannot start {where}: {exc}") from None
            self._started = True

    def run(self, blocks: Iterable[Batch], signals: SignalSet) -> Iterator[Batch]:
        import pyarrow as pa
        import ray
        import ray.data

        refs = [ray.put(pa.table(block)) for block in blocks]
        if not refs:
            return
        # Ray's annotations expect one-argument functions; `fn_kwargs` supplies `signals`.
        hits = ray.data.from_arrow_refs(cast(Any, refs)).map_batches(
            cast(Any, match_batch),
            fn_kwargs={"signals": signals},
            batch_size=None,
            batch_format="numpy",
            zero_copy_batch=True,
        )
        yield from hits.iter_batches(batch_size=None, batch_format="numpy")

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
