"""Backfill: stored content hashes re-matched against new signals, by both engines for real.

The corpus is made up (random PDQ hashes with planted near-copies at known distances), so the
expected matches are known exactly; an independent reference matcher below checks them.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from takedown.matching import rules
from takedown.platform import backfill as backfill_module
from takedown.platform import review
from takedown.platform.backfill import (
    HIT_COLUMNS,
    WATERMARK_KEY,
    BackfillMatch,
    BackfillReport,
    Batch,
    LocalEngine,
    RayEngine,
    SignalSet,
    backfill,
    match_batch,
    variant_class,
)
from takedown.platform.store import open_store
from takedown.platform.tables import agent_meta, content, content_signal, review_item, signal

Row = tuple[str, str, str, int]
"""(type, variant, value, quality) of one stored hash."""
Key = tuple[str, str, str, str]
"""(ref, list, type, value) of one match."""


# --- corpus helpers -------------------------------------------------------------------------


def pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def flip(value: str, bits: int, rng: random.Random) -> str:
    """`value` with exactly `bits` bits flipped."""
    number = int(value, 16)
    for position in rng.sample(range(256), bits):
        number ^= 1 << position
    return f"{number:064x}"


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def add_content(
    engine: sa.Engine,
    ref: str,
    rows: Iterable[Row],
    *,
    kind: str = "image",
    backfilled: int | None = None,
) -> int:
    """A content item as `index-content` records it (with its md5 row among `rows`)."""
    rows = list(rows)
    md5 = next((value for type_, _, value, _ in rows if type_ == "md5"), secrets.token_hex(16))
    with engine.begin() as connection:
        content_id: int = connection.execute(
            content.insert()
            .values(
                ref=ref,
                kind=kind,
                md5=md5,
                sha256=secrets.token_hex(32),
                indexed_at=datetime.now(UTC),
                backfilled_seq=backfilled,
            )
            .returning(content.c.id)
        ).scalar_one()
        connection.execute(
            content_signal.insert(),
            [
                {"content_id": content_id, "type": t, "variant": v, "value": x, "quality": q}
                for t, v, x, q in rows
            ],
        )
    return content_id


def add_signal(
    engine: sa.Engine,
    value: str,
    seq: int,
    *,
    variant: str = "original",
    list_: str = "adult",
    type_: str = "pdq",
    quality: int = 90,
) -> int:
    """A listed signal as sync stores an `add` event."""
    with engine.begin() as connection:
        signal_id: int = connection.execute(
            signal.insert()
            .values(
                list=list_,
                type=type_,
                value=value,
                quality=quality,
                variant=variant,
                added_seq=seq,
            )
            .returning(signal.c.id)
        ).scalar_one()
    return signal_id


def remove_signal(engine: sa.Engine, signal_id: int) -> None:
    """What sync does with a `remove` event."""
    with engine.begin() as connection:
        connection.execute(signal.delete().where(signal.c.id == signal_id))


def image_rows(rng: random.Random, *, quality: int = 90, patches: int = 6) -> list[Row]:
    return [
        ("md5", "file", f"{rng.getrandbits(128):032x}", 100),
        ("pdq", "original", pdq(rng), quality),
        *(("pdq", "patch", pdq(rng), quality) for _ in range(patches)),
    ]


def keys(report: BackfillReport) -> set[Key]:
    return {(m.ref, m.list, m.type, m.value) for m in report.matches}


def review_keys(engine: sa.Engine) -> set[Key]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                review_item.c.ref, review_item.c.list, review_item.c.type, review_item.c.value
            )
        ).all()
    return {(r.ref, r.list, r.type, r.value) for r in rows}


def watermark(engine: sa.Engine) -> int | None:
    with engine.connect() as connection:
        value = connection.execute(
            sa.select(agent_meta.c.value).where(agent_meta.c.key == WATERMARK_KEY)
        ).scalar_one_or_none()
    return None if value is None else int(value)


@dataclass
class Corpus:
    """A store with made-up content and signals, and the matches a correct backfill finds."""

    expected_first: set[Key]
    expected_second: set[Key]
    hashes: int


def build_corpus(engine: sa.Engine, seed: int, images: int = 120) -> Corpus:
    """Content never backfilled, signals at seq 1..10 (the first run's), and a second batch
    of signals at seq 11..20 (added between the runs by `second_batch`)."""
    rng = random.Random(seed)
    stored: dict[str, list[Row]] = {}
    for i in range(images):
        rows = image_rows(rng, quality=40 if i % 17 == 3 else 90)
        stored[f"/media/{i:04d}.jpg"] = rows
        add_content(engine, f"/media/{i:04d}.jpg", rows)
    listed: list[tuple[str, str, str, str, int]] = []  # list, type, value, variant, quality
    for i, (_ref, rows) in enumerate(stored.items()):
        original, patch = rows[1][2], rows[2][2]
        plan = i % 10
        if plan == 0:  # near-copies of the whole image at 0..31 bits: match
            listed.append(("adult", "pdq", flip(original, (i * 7) % 32, rng), "rot90", 90))
        elif plan == 1:  # one bit too far: no match
            listed.append(("adult", "pdq", flip(original, 32, rng), "original", 90))
        elif plan == 2:  # a patch near a listed patch: match
            listed.append(("minor", "pdq", flip(patch, 20, rng), "patch", 90))
        elif plan == 3:  # a whole-image hash near a patch: never compared
            listed.append(("adult", "pdq", flip(patch, 2, rng), "original", 90))
        elif plan == 4:  # the same file (MD5): match
            listed.append(("adult", "md5", rows[0][2], "file", 100))
        elif plan == 5:  # a listed hash of low quality: no match
            listed.append(("adult", "pdq", flip(original, 1, rng), "original", 30))
        elif plan == 6:  # in both lists: two matches
            near = flip(original, 9, rng)
            listed.append(("adult", "pdq", near, "original", 90))
            listed.append(("minor", "pdq", near, "original", 90))
    for position, (list_, type_, value, variant, quality) in enumerate(listed):
        add_signal(
            engine,
            value,
            1 + position % 10,
            variant=variant,
            list_=list_,
            type_=type_,
            quality=quality,
        )
    expected = reference_matches(stored, listed)
    return Corpus(expected, set(), sum(len(rows) for rows in stored.values()))


def reference_matches(
    stored: dict[str, list[Row]], listed: Iterable[tuple[str, str, str, str, int]]
) -> set[Key]:
    """The match rule, written out plainly: PDQ by `rules`, MD5 by equality."""
    found: set[Key] = set()
    for list_, type_, value, variant, quality in listed:
        for ref, rows in stored.items():
            for row_type, row_variant, row_value, row_quality in rows:
                if row_type != type_:
                    continue
                if type_ == "md5":
                    hit = row_value == value
                else:
                    usable = min(quality, row_quality) >= rules.MIN_QUALITY
                    limit = rules.pair_threshold(row_variant, variant)
                    hit = usable and distance(row_value, value) <= limit
                if hit:
                    found.add((ref, list_, type_, value))
    return found


def second_batch(engine: sa.Engine, seed: int) -> set[Key]:
    """New signals (seq 11..) near old content: what the second run must find."""
    rng = random.Random(seed + 1)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(content.c.ref, content_signal.c.value)
            .join(content_signal, content_signal.c.content_id == content.c.id)
            .where(content_signal.c.variant == "original", content_signal.c.quality >= 50)
            .order_by(content.c.id)
        ).all()
    expected: set[Key] = set()
    for i, (ref, original) in enumerate(rows[::9]):
        near = flip(original, 1 + i % 25, rng)
        add_signal(engine, near, 11 + i % 5, variant="flip_h")
        expected.add((ref, "adult", "pdq", near))
    add_signal(engine, pdq(rng), 16)  # matches nothing
    return expected


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def store(agent_store: str) -> Iterator[sa.Engine]:
    """The agent's local store, on SQLite and on PostgreSQL in turn."""
    engine = open_store(None, agent_store)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local Ray for this module, as CI runs it: 2 CPUs, no dashboard."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def sqlite_store(path: Path) -> sa.Engine:
    return open_store(path, None)


# --- the pure batch function -----------------------------------------------------------------


def batch_of(rows: list[tuple[int, str, str, str, int]]) -> Batch:
    """A block as the engines receive it, from (content, type, variant, value, quality)."""
    words = np.array(
        [
            np.frombuffer(bytes.fromhex(v if t == "pdq" else v + "0" * 32), dtype=">u8")
            for _, t, _, v, _ in rows
        ],
        dtype=np.uint64,
    ).reshape(len(rows), 4)
    variants = sorted({v for _, _, v, _, _ in rows})
    return {
        "row": np.arange(len(rows), dtype=np.int64),
        "content": np.array([c for c, *_ in rows], dtype=np.int64),
        "kind": np.array([0 if t == "pdq" else 1 for _, t, *_ in rows], dtype=np.int8),
        "variant": np.array([variants.index(v) for _, _, v, _, _ in rows], dtype=np.int16),
        "vclass": np.array([variant_class(v) for _, _, v, _, _ in rows], dtype=np.int8),
        "quality": np.array([q for *_, q in rows], dtype=np.int16),
        **{f"w{k}": np.ascontiguousarray(words[:, k]) for k in range(4)},
    }


def signal_set(listed: list[tuple[str, str, str]]) -> SignalSet:
    """(type, variant, value) as the workers receive them."""
    return SignalSet(
        words=np.array(
            [
                np.frombuffer(bytes.fromhex(v if t == "pdq" else v + "0" * 32), dtype=">u8")
                for t, _, v in listed
            ],
            dtype=np.uint64,
        ).reshape(len(listed), 4),
        kinds=np.array([0 if t == "pdq" else 1 for t, _, _ in listed], dtype=np.int8),
        classes=np.array([variant_class(v) for _, v, _ in listed], dtype=np.int8),
    )


def test_match_batch_applies_the_rule_pair_by_pair() -> None:
    rng = random.Random(7)
    a, b, c, frame = pdq(rng), pdq(rng), pdq(rng), pdq(rng)
    md5 = secrets.token_hex(16)
    block = batch_of(
        [
            (1, "pdq", "original", a, 90),
            (1, "pdq", "patch", b, 90),
            (1, "md5", "file", md5, 100),
            (2, "pdq", "original", c, 49),  # too weak to match anything
            (3, "pdq", "frame", frame, 80),
        ]
    )
    listed = signal_set(
        [
            ("pdq", "rot180", flip(a, 31, rng)),  # 0: whole vs whole at 31: match
            ("pdq", "original", flip(a, 32, rng)),  # 1: 32 bits: no
            ("pdq", "patch", flip(b, 3, rng)),  # 2: patch vs patch: match
            ("pdq", "original", flip(b, 3, rng)),  # 3: whole vs patch: never
            ("md5", "file", md5),  # 4: equal: match
            ("pdq", "original", flip(c, 0, rng)),  # 5: query quality 49: no
            ("pdq", "frame", flip(frame, 10, rng)),  # 6: frame vs frame: a hit
            ("pdq", "original", flip(frame, 1, rng)),  # 7: a video frame vs a photo: never
        ]
    )
    hits = match_batch(block, listed)
    assert set(hits) == set(HIT_COLUMNS)
    found = {
        (row, position, d)
        for row, position, d in zip(
            hits["row"].tolist(), hits["signal"].tolist(), hits["distance"].tolist(), strict=True
        )
    }
    assert found == {(0, 0, 31), (1, 2, 3), (2, 4, 0), (4, 6, 10)}
    assert hits["content"].tolist() == [block["content"][r] for r in hits["row"].tolist()]
    # Pure: the same inputs give the same output, array for array.
    again = match_batch(block, listed)
    assert all(np.array_equal(hits[name], again[name]) for name in HIT_COLUMNS)


def test_match_batch_with_nothing_to_compare_returns_typed_empty_columns() -> None:
    rng = random.Random(8)
    block = batch_of([(1, "pdq", "original", pdq(rng), 90)])
    hits = match_batch(block, signal_set([("md5", "file", secrets.token_hex(16))]))
    assert {name: len(column) for name, column in hits.items()} == dict.fromkeys(HIT_COLUMNS, 0)
    assert hits["row"].dtype == np.int64
    assert hits["distance"].dtype == np.int16


# --- both engines ----------------------------------------------------------------------------


def run_twice(engine: sa.Engine, runner: Any, seed: int) -> tuple[BackfillReport, BackfillReport]:
    corpus = build_corpus(engine, seed)
    first = backfill(engine, runner, block_rows=200)
    assert keys(first) == corpus.expected_first
    expected_second = second_batch(engine, seed)
    second = backfill(engine, runner, block_rows=200)
    assert keys(second) == expected_second
    assert first.hashes_checked == second.hashes_checked == corpus.hashes
    return first, second


@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")
def test_local_and_ray_engines_find_the_same_matches(tmp_path: Path, ray_cluster: None) -> None:
    local_store, ray_store = sqlite_store(tmp_path / "local"), sqlite_store(tmp_path / "ray")
    pool = LocalEngine(workers=2)
    local = run_twice(local_store, pool, seed=11)
    pool.close()
    ray_engine = RayEngine()
    ray_runs = run_twice(ray_store, ray_engine, seed=11)
    ray_engine.close()  # a Ray it did not start is left running
    import ray

    assert ray.is_initialized()
    for by_local, by_ray in zip(local, ray_runs, strict=True):
        assert by_ray.engine == "ray"
        assert by_local.engine == "local"
        # Refs are the same; only content ids and sha256 were random, and matches carry
        # neither, so the matches must be equal field by field.
        assert [_fields(m) for m in by_local.matches] == [_fields(m) for m in by_ray.matches]
    assert review_keys(local_store) == review_keys(ray_store) == keys(local[0]) | keys(local[1])
    assert local[0].matches, "the corpus plants matches"
    local_store.dispose()
    ray_store.dispose()


def _fields(match: Any) -> tuple[Any, ...]:
    return (
        match.ref,
        match.list,
        match.type,
        match.value,
        match.query_variant,
        match.listed_variant,
        match.distance,
    )


def test_one_worker_and_a_pool_of_two_agree(store: sa.Engine, tmp_path: Path) -> None:
    inline = run_twice(store, LocalEngine(workers=1), seed=5)
    other = sqlite_store(tmp_path / "pool")
    pool = LocalEngine(workers=2)
    pooled = run_twice(other, pool, seed=5)  # the second run reuses the pool's workers
    pool.close()
    for a, b in zip(inline, pooled, strict=True):
        assert [_fields(m) for m in a.matches] == [_fields(m) for m in b.matches]
    other.dispose()


# --- the watermark ---------------------------------------------------------------------------


def test_the_watermark_moves_to_the_newest_signal_and_a_rerun_finds_nothing(
    store: sa.Engine,
) -> None:
    corpus = build_corpus(store, seed=1)
    assert watermark(store) is None
    first = backfill(store, LocalEngine())
    assert (first.watermark_before, first.watermark_after) == (0, 10)
    assert watermark(store) == 10
    assert review_keys(store) == corpus.expected_first
    again = backfill(store, LocalEngine())
    assert (again.watermark_before, again.watermark_after) == (10, 10)
    assert again.new_signals == 0
    assert again.fresh_content == 0
    assert again.hashes_checked == 0
    assert again.matches == ()
    assert review_keys(store) == corpus.expected_first


def test_a_new_signal_matches_old_content_and_old_signals_are_not_compared_again(
    store: sa.Engine,
) -> None:
    rng = random.Random(3)
    rows = image_rows(rng)
    add_content(store, "/media/old.jpg", rows)
    old = add_signal(store, flip(rows[1][2], 4, rng), seq=5)
    first = backfill(store, LocalEngine())
    assert [(m.ref, m.signal_id, m.distance) for m in first.matches] == [("/media/old.jpg", old, 4)]
    # The reviewer rejects it; a new signal of the same photo arrives.
    (item,) = review.list_items(store)
    review.decide(store, item.id, confirmed=False, reviewer="ana")
    new_value = flip(rows[1][2], 12, rng)
    new = add_signal(store, new_value, seq=9, variant="rot270")
    second = backfill(store, LocalEngine())
    assert second.new_signals == 1
    assert second.fresh_content == 0
    assert second.hashes_checked == len(rows)
    assert [(m.signal_id, m.distance, m.listed_variant) for m in second.matches] == [
        (new, 12, "rot270")
    ]
    statuses = {i.value: i.status for i in review.list_items(store, status=None)}
    assert statuses == {first.matches[0].value: "rejected", new_value: "pending"}


def test_a_removed_signal_is_not_matched(store: sa.Engine) -> None:
    rng = random.Random(4)
    rows = image_rows(rng)
    add_content(store, "/media/a.jpg", rows, backfilled=0)
    withdrawn = add_signal(store, flip(rows[1][2], 1, rng), seq=3)
    kept = add_signal(store, flip(rows[2][2], 2, rng), seq=4, variant="patch")
    remove_signal(store, withdrawn)
    report = backfill(store, LocalEngine())
    assert [m.signal_id for m in report.matches] == [kept]
    assert report.watermark_after == 4


class RemovingDuringTheRun:
    """An engine during whose run sync removes a signal (after backfill read its snapshot)."""

    name = "local"

    def __init__(self, engine: sa.Engine, signal_id: int) -> None:
        self._engine = engine
        self._signal_id = signal_id

    def run(self, blocks: Iterable[Batch], signals: SignalSet) -> Iterator[Batch]:
        remove_signal(self._engine, self._signal_id)
        for block in blocks:
            yield match_batch(block, signals)

    def close(self) -> None:
        return None


def test_a_signal_removed_while_backfill_runs_is_not_recorded(store: sa.Engine) -> None:
    rng = random.Random(5)
    rows = image_rows(rng)
    add_content(store, "/media/a.jpg", rows, backfilled=0)
    going = add_signal(store, flip(rows[1][2], 1, rng), seq=3)
    staying = add_signal(store, flip(rows[3][2], 1, rng), seq=3, variant="patch")
    report = backfill(store, RemovingDuringTheRun(store, going))
    assert {m.signal_id for m in report.matches} == {going, staying}
    assert report.gone == 1
    assert report.recorded == 1
    assert {i.value for i in review.list_items(store)} == {_value(store, staying)}


def _value(engine: sa.Engine, signal_id: int) -> str:
    with engine.connect() as connection:
        value: str = connection.execute(
            sa.select(signal.c.value).where(signal.c.id == signal_id)
        ).scalar_one()
    return value


# --- interruption ----------------------------------------------------------------------------


class Interrupted:
    """An engine stopped by Ctrl-C after its first block."""

    name = "local"

    def run(self, blocks: Iterable[Batch], signals: SignalSet) -> Iterator[Batch]:
        for number, block in enumerate(blocks):
            if number == 1:
                raise KeyboardInterrupt
            yield match_batch(block, signals)

    def close(self) -> None:
        return None


def test_an_interrupted_match_changes_nothing_and_a_rerun_completes(store: sa.Engine) -> None:
    corpus = build_corpus(store, seed=2, images=60)
    with pytest.raises(KeyboardInterrupt):
        backfill(store, Interrupted(), block_rows=50)
    assert watermark(store) is None
    assert review_keys(store) == set()
    report = backfill(store, LocalEngine(), block_rows=50)
    assert keys(report) == corpus.expected_first == review_keys(store)
    assert watermark(store) == 10


def test_an_interruption_while_recording_is_completed_by_a_rerun(
    store: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = build_corpus(store, seed=3, images=60)
    assert len(corpus.expected_first) > 4
    real = review.record_matches
    calls = 0

    def stops_after_one_chunk(*args: Any, **kwargs: Any) -> list[review.ReviewItem | None]:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    # Matches are recorded 3 per transaction; the second transaction is interrupted.
    monkeypatch.setattr(backfill_module, "_CHUNK", 3)
    monkeypatch.setattr(review, "record_matches", stops_after_one_chunk)
    with pytest.raises(KeyboardInterrupt):
        backfill(store, LocalEngine())
    assert len(review_keys(store)) == 3
    assert watermark(store) is None  # not advanced: the next run matches everything again
    monkeypatch.setattr(review, "record_matches", real)
    report = backfill(store, LocalEngine())
    assert keys(report) == corpus.expected_first == review_keys(store)
    assert report.recorded == len(corpus.expected_first) - 3
    with store.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(review_item)).scalar()
    assert count == len(corpus.expected_first)  # nothing recorded twice
    assert watermark(store) == 10


PLAIN = ("original", "original", 0)
"""query variant, listed variant, distance"""


def test_matches_are_recorded_per_chunk_and_a_malformed_one_refuses_only_itself(
    store: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(11)
    values = [pdq(rng) for _ in range(5)]
    ids = [add_signal(store, value, seq=seq) for seq, value in enumerate(values, 1)]
    gone = BackfillMatch("/media/gone.jpg", max(ids) + 1, "adult", "pdq", pdq(rng), *PLAIN)
    matches = [
        BackfillMatch(f"/media/{i}.jpg", sid, "adult", "pdq", value, *PLAIN)
        for i, (sid, value) in enumerate(zip(ids, values, strict=True))
    ]
    matches[3] = BackfillMatch("", ids[3], "adult", "pdq", values[3], *PLAIN)  # no ref
    commits: list[object] = []
    sa.event.listen(store, "commit", commits.append)
    monkeypatch.setattr(backfill_module, "_CHUNK", 3)

    recorded, gone_count, refused = backfill_module._record(store, [*matches, gone])

    assert (recorded, gone_count) == (4, 1)
    assert refused == [": ref must be a non-empty string of at most 1000 characters"]
    assert review_keys(store) == {
        (m.ref, "adult", "pdq", m.value) for i, m in enumerate(matches) if i != 3
    }
    # The first chunk in one transaction; the second, refused whole, match by match (one
    # of which is refused before its transaction).
    assert len(commits) == 2


# --- fresh content ---------------------------------------------------------------------------


def test_content_indexed_after_a_backfill_is_matched_against_every_live_signal(
    store: sa.Engine,
) -> None:
    rng = random.Random(6)
    first_rows = image_rows(rng)
    add_content(store, "/media/first.jpg", first_rows)
    listed_early = flip(pdq(rng), 0, rng)
    add_signal(store, listed_early, seq=2)
    assert backfill(store, LocalEngine()).matches == ()
    # A photo indexed now matches the signal listed before the last backfill.
    late_rows = image_rows(rng)
    late_rows[1] = ("pdq", "original", flip(listed_early, 6, rng), 90)
    add_content(store, "/media/late.jpg", late_rows)
    report = backfill(store, LocalEngine())
    assert report.new_signals == 0
    assert report.fresh_content == 1
    assert report.hashes_checked == len(late_rows)  # the old content is not read again
    assert keys(report) == {("/media/late.jpg", "adult", "pdq", listed_early)}
    with store.connect() as connection:
        marks = connection.execute(sa.select(content.c.backfilled_seq)).scalars().all()
    assert marks == [2, 2]


# --- videos ----------------------------------------------------------------------------------


def video_rows(rng: random.Random, usable: int = 10, weak: int = 2) -> list[Row]:
    return [
        ("md5", "file", f"{rng.getrandbits(128):032x}", 100),
        *(("pdq", "frame", pdq(rng), 80) for _ in range(usable)),
        *(("pdq", "frame", pdq(rng), 10) for _ in range(weak)),
    ]


def list_frames(
    engine: sa.Engine, frames: list[str], seq: int, rng: random.Random, list_: str = "adult"
) -> list[str]:
    values = [flip(frame, 5 + i, rng) for i, frame in enumerate(frames)]
    for value in values:
        add_signal(engine, value, seq, variant="frame", list_=list_)
    return values


def test_a_video_matches_when_80_percent_of_its_usable_frames_match(store: sa.Engine) -> None:
    rng = random.Random(9)
    eight, seven = video_rows(rng), video_rows(rng)
    add_content(store, "/media/eight.mp4", eight, kind="video")
    add_content(store, "/media/seven.mp4", seven, kind="video")
    listed = list_frames(store, [r[2] for r in eight[1:9]], 3, rng)
    list_frames(store, [r[2] for r in seven[1:8]], 3, rng)
    report = backfill(store, LocalEngine())
    assert [(m.ref, m.type, m.query_variant, m.listed_variant) for m in report.matches] == [
        ("/media/eight.mp4", "pdq", "frame", "frame")
    ]
    (match,) = report.matches
    assert match.value == listed[0]  # the nearest listed frame (5 bits)
    # Median over the 10 usable frames (distances 5..12, then two without a near frame).
    assert match.distance == sorted([*range(5, 13), 1 << 30, 1 << 30])[4]


def test_a_video_counts_old_and_new_frames_of_one_list_together(store: sa.Engine) -> None:
    rng = random.Random(10)
    rows = video_rows(rng)
    frames = [r[2] for r in rows[1:11]]
    add_content(store, "/media/v.mp4", rows, kind="video")
    list_frames(store, frames[:5], 2, rng)  # 5 of 10: not yet
    list_frames(store, frames[5:7], 2, rng, list_="minor")  # another list does not count
    assert backfill(store, LocalEngine()).matches == ()
    new = list_frames(store, frames[7:10], 6, rng)  # 5 + 3 = 8 of 10 in "adult"
    report = backfill(store, LocalEngine())
    assert [(m.list, m.value) for m in report.matches] == [("adult", new[0])]


def test_a_video_matches_a_listed_file_md5(store: sa.Engine) -> None:
    rng = random.Random(12)
    rows = video_rows(rng)
    add_content(store, "/media/same.mp4", rows, kind="video")
    add_signal(store, rows[0][2], 4, type_="md5", variant="file", quality=100)
    report = backfill(store, LocalEngine())
    assert keys(report) == {("/media/same.mp4", "adult", "md5", rows[0][2])}
