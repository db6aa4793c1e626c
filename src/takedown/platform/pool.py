"""A local process pool that keeps only a bounded number of tasks in flight.

Used by `index-content` (hashing files) and by the local backfill engine (matching blocks), so
memory stays bounded however many files or blocks there are. Workers are spawned, not forked:
the parent may hold database connections or a running Ray client, which a fork would copy.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

__all__ = ["bounded_map", "spawn_pool"]

_In = TypeVar("_In")
_Out = TypeVar("_Out")


def spawn_pool(
    workers: int,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes (each runs `initializer(*initargs)` once)."""
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=initializer,
        initargs=initargs,
    )


def bounded_map(
    executor: ProcessPoolExecutor | None,
    function: Callable[[_In], _Out],
    items: Iterable[_In],
    *,
    in_flight: int,
) -> Iterator[_Out]:
    """`function` over `items`, results in input order, with at most `in_flight` tasks
    submitted ahead of the one being waited for. Without an executor, runs in this process.

    A task's exception is raised here, when its result is reached; the tasks still queued
    are cancelled when the caller stops iterating."""
    if executor is None:
        yield from map(function, items)
        return
    pending: deque[Future[_Out]] = deque()
    try:
        for item in items:
            pending.append(executor.submit(function, item))
            if len(pending) >= in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
