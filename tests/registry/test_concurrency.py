"""Many writers at once: every case is stored, and the feed has no gaps and no reordering."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from takedown.registry import secrets
from takedown.registry.models import CreatedCase
from takedown.registry.service import Registry
from takedown.registry.settings import Settings
from takedown.store import transactions
from takedown.store.engine import create_engine
from tests.registry import factories as f
from tests.registry.backends import FakeClock

THREADS = 8
CASES_PER_THREAD = 4
ROUNDS = 6


def test_concurrent_cases_all_land_and_the_feed_stays_gap_free(registry: Registry) -> None:
    reader, _ = registry.add_platform("reader", ["minor", "adult"])

    def report(thread: int) -> list[tuple[CreatedCase, set[str]]]:
        rng = random.Random(1000 + thread)
        made = []
        for i in range(CASES_PER_THREAD):
            values = [f.pdq(rng) for _ in range(3)]
            group = ("minor", "adult")[(thread + i) % 2]
            made.append((registry.create_case(group, "en", [f.image(rng, values)]), set(values)))
        return made

    with ThreadPoolExecutor(THREADS) as pool:
        results = [c for batch in pool.map(report, range(THREADS)) for c in batch]

    page = registry.feed(reader, 0, 10_000)
    seqs = [e.seq for e in page.events]
    assert seqs == list(range(1, THREADS * CASES_PER_THREAD * 3 + 1))
    listed = {e.value for e in page.events if e.op == "add"}
    for created, values in results:
        assert values <= listed
        assert registry.case_status(created.case_number, created.pin).status == "active"
    assert len({created.case_number for created, _ in results}) == THREADS * CASES_PER_THREAD


def test_readers_never_see_a_later_event_before_an_earlier_one(registry: Registry) -> None:
    reader, _ = registry.add_platform("reader", ["adult"])
    writers_done = False

    def write(thread: int) -> None:
        rng = random.Random(2000 + thread)
        for _ in range(CASES_PER_THREAD):
            registry.create_case("adult", "en", [f.image(rng, count=2)])

    def read() -> list[list[int]]:
        pages = []
        while not writers_done:
            pages.append([e.seq for e in registry.feed(reader, 0, 10_000).events])
        return pages

    with ThreadPoolExecutor(THREADS + 1) as pool:
        observed = pool.submit(read)
        list(pool.map(write, range(THREADS)))
        writers_done = True
        pages = observed.result()

    assert pages
    for seqs in pages:  # every view of the feed is a gap-free prefix
        assert seqs == list(range(1, len(seqs) + 1))
    assert len(registry.feed(reader, 0, 10_000).events) == THREADS * CASES_PER_THREAD * 2


def _taken_first(real: Callable[[], str], value: str, times: int) -> Callable[[], str]:
    """A generator of random ids that returns `value` for its first `times` calls, which
    all wait for one another (so that no retry can come before the last of them)."""
    calls = itertools.count()
    lock = threading.Lock()
    together = threading.Barrier(times)

    def draw() -> str:
        with lock:
            first = next(calls) < times
        if not first:
            return real()
        together.wait(timeout=30)
        return value

    return draw


def test_cases_drawing_a_taken_case_number_are_stored_under_fresh_ones(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, _ = registry.add_platform("reader", ["adult"])
    same = "23456789ABCD"
    monkeypatch.setattr(
        secrets, "new_case_number", _taken_first(secrets.new_case_number, same, THREADS)
    )

    def report(thread: int) -> tuple[CreatedCase, set[str]]:
        rng = random.Random(3000 + thread)
        values = [f.pdq(rng) for _ in range(2)]
        return registry.create_case("adult", "en", [f.image(rng, values)]), set(values)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(report, range(THREADS)))

    numbers = [created.case_number for created, _ in results]
    assert len(set(numbers)) == THREADS
    assert numbers.count("2345-6789-ABCD") == 1
    for created, _values in results:
        assert registry.case_status(created.case_number, created.pin).status == "active"
    page = registry.feed(reader, 0, 10_000)
    assert [e.seq for e in page.events] == list(range(1, 2 * THREADS + 1))
    assert {e.value for e in page.events} == set().union(*(values for _, values in results))


def test_a_case_drawing_a_taken_media_id_is_stored_under_a_fresh_one(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(3100)
    same = "abcdefghijklmnop"
    real = secrets.new_media_ids
    draws = itertools.count()

    def first_id_taken(count: int) -> list[str]:
        ids = real(count)
        return [same, *ids[1:]] if next(draws) < 2 else ids

    monkeypatch.setattr(secrets, "new_media_ids", first_id_taken)

    first = registry.create_case("adult", "en", [f.image(rng)])
    second = registry.create_case("adult", "en", [f.image(rng), f.image(rng)])

    assert first.media_ids == (same,)
    assert same not in second.media_ids
    assert len(set(second.media_ids)) == 2
    status = registry.case_status(second.case_number, second.pin)
    assert [m.media_id for m in status.media] == list(second.media_ids)


def test_a_case_written_again_takes_the_writers_lock_once_per_transaction(
    registry: Registry, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second case draws a taken media id, so it is written twice: as a batch of one,
    refused at its media row, then again with fresh ids. On PostgreSQL the refused one
    ended before it needed the writers' advisory lock, and the second takes it exactly once
    (SQLite has none: its transactions are serialised from BEGIN)."""
    rng = random.Random(3150)
    same = "abcdefghijklmnop"
    real = secrets.new_media_ids
    draws = itertools.count()
    monkeypatch.setattr(
        secrets, "new_media_ids", lambda count: [same] if next(draws) < 2 else real(count)
    )
    registry.create_case("adult", "en", [f.image(rng)])
    transactions_seen: list[list[str]] = []

    def begin(_connection: sa.Connection) -> None:
        transactions_seen.append([])

    def execute(*args: object) -> None:
        if transactions_seen:
            transactions_seen[-1].append(str(args[2]))

    sa.event.listen(registry.engine, "begin", begin)
    sa.event.listen(registry.engine, "before_cursor_execute", execute)
    second = registry.create_case("adult", "en", [f.image(rng)])

    assert second.media_ids != (same,)
    locks = [sum("pg_advisory_xact_lock" in s for s in sql) for sql in transactions_seen]
    assert locks == {"postgresql": [0, 1], "sqlite": [0, 0]}[backend]


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert condition()


def _inserting_backends(engine: sa.Engine) -> set[int]:
    """PostgreSQL backends (other than ours) holding a row-insert lock on `case`."""
    with engine.connect() as connection:
        return set(
            connection.execute(
                sa.text(
                    "SELECT pid FROM pg_locks WHERE relation = 'case'::regclass "
                    "AND mode = 'RowExclusiveLock' AND granted AND pid <> pg_backend_pid()"
                )
            ).scalars()
        )


def _waiting_for_the_feed_lock(engine: sa.Engine) -> set[int]:
    with engine.connect() as connection:
        return set(
            connection.execute(
                sa.text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalars()
        )


def test_new_cases_while_another_writer_holds_the_lock(registry: Registry, backend: str) -> None:
    """SQLite: the cases reported while the first one's writer waits for the lock join its
    transaction. PostgreSQL: the first case's rows are inserted while the lock is held by
    another writer, and its writer waits only to write the feed. Either way every case
    lands and the feed stays gap-free."""
    reader, _ = registry.add_platform("reader", ["adult"])
    group = registry._new_cases
    commits: list[object] = []
    sa.event.listen(registry.engine, "commit", commits.append)
    rng = random.Random(3200)
    media = [[f.image(rng, count=2)] for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        # Another transaction holds the write lock.
        with transactions.write(registry.engine):
            first = pool.submit(registry.create_case, "adult", "en", media[0])
            _wait_for(lambda: group._leading and not group._queue)
            if backend == "postgresql":
                engine = registry.engine
                _wait_for(lambda: bool(_waiting_for_the_feed_lock(engine)))
                # The backend waiting for the lock has inserted the case's rows already.
                assert _waiting_for_the_feed_lock(engine) <= _inserting_backends(engine)
            later = [pool.submit(registry.create_case, "adult", "en", m) for m in media[1:]]
            _wait_for(lambda: len(group._queue) == 2)
            before = len(commits)
            assert not first.done()
        made = [first.result(timeout=30), *(f.result(timeout=30) for f in later)]
    if backend == "sqlite":
        # Two commits: the lock holder's, then one transaction with all three cases.
        assert len(commits) - before == 2
    else:
        # The lock holder's, the first case's, then one with the two that queued meanwhile.
        assert len(commits) - before == 3
    for created in made:
        assert registry.case_status(created.case_number, created.pin).status == "active"
    assert [e.seq for e in registry.feed(reader, 0, 100).events] == list(range(1, 7))


def test_the_same_new_hash_reported_at_once_is_stored_and_listed_once(
    registry: Registry, settings: Settings, clock: FakeClock
) -> None:
    """Writers of two registries (as of two server processes) racing to insert one new
    signal, round after round (on PostgreSQL they insert before taking the lock: a loser's
    insert fails on the unique hash and its cases are written again)."""
    reader, _ = registry.add_platform("reader", ["minor", "adult"])
    other = Registry(create_engine(settings.database_url), settings, clock=clock)
    rng = random.Random(77)
    shared = [f.pdq(rng) for _ in range(ROUNDS)]
    start = threading.Barrier(THREADS)

    def report(thread: int) -> list[CreatedCase]:
        own = random.Random(thread)
        group = ("minor", "adult")[thread % 2]
        registries = (registry, other)
        made = []
        for value in shared:
            start.wait()
            media = [f.image(own, [value, f.pdq(own)])]
            made.append(registries[thread % 2].create_case(group, "en", media))
        return made

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            made = [c for cases in pool.map(report, range(THREADS)) for c in cases]
    finally:
        other.close()
    for created in made:
        assert registry.case_status(created.case_number, created.pin).status == "active"
    events = registry.feed(reader, 0, 10_000).events
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for value in shared:
        adds = sorted((e.list, e.value) for e in events if e.op == "add" and e.value == value)
        assert adds == [("adult", value), ("minor", value)]
    # Each shared hash on each list, and one hash of each case's own.
    assert len(events) == ROUNDS * (2 + THREADS)
    with registry.engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT value, count(*) FROM signal GROUP BY value HAVING count(*) > 1")
        ).all()
    assert stored == []
