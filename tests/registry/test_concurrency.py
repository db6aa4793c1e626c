"""Many writers at once: every case is stored, and the feed has no gaps and no reordering."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

from takedown.registry.models import CreatedCase
from takedown.registry.service import Registry
from tests.registry import factories as f

THREADS = 8
CASES_PER_THREAD = 4


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
