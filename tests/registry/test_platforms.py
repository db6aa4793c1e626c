"""Platforms and their API keys: shown once, stored hashed, rotatable, revocable."""

from __future__ import annotations

import random
import re

import pytest
import sqlalchemy as sa

from takedown.errors import AuthError, ConflictError, NotFoundError
from takedown.registry.models import FeedbackIn, Platform, SignalIn
from takedown.registry.service import Registry
from takedown.store.schema import api_key, audit
from tests.registry import factories as f


def test_a_new_platform_gets_a_key_that_authenticates_it(registry: Registry) -> None:
    platform, key = registry.add_platform("acme", ["adult", "minor"], "abuse@acme.example")

    assert re.fullmatch(r"tdk_[a-z2-7]{52}", key)
    assert platform == Platform(platform.id, "acme", ("minor", "adult"), "active")
    assert registry.authenticate(key) == platform
    assert registry.platforms() == (platform,)


def test_keys_are_stored_only_as_hashes(registry: Registry) -> None:
    _platform, key = registry.add_platform("acme", ["adult"])

    with registry.engine.connect() as connection:
        stored = connection.execute(sa.select(api_key)).one()
    assert key not in [str(value) for value in stored]
    assert len(stored.key_hash) == 64


@pytest.mark.parametrize(
    "presented",
    ["", "tdk_", "Bearer x", "tdk_" + "a" * 52, "tdk_" + "A" * 52, None, 42],
)
def test_missing_malformed_or_unknown_keys_are_refused(
    registry: Registry, presented: object
) -> None:
    registry.add_platform("acme", ["adult"])
    with pytest.raises(AuthError, match="missing, unknown or revoked API key"):
        registry.authenticate(presented)  # type: ignore[arg-type]


def test_a_rotated_key_works_alongside_the_old_until_old_keys_are_revoked(
    registry: Registry,
) -> None:
    platform, old = registry.add_platform("acme", ["adult"])

    new = registry.rotate_key("acme")
    assert new != old
    assert registry.authenticate(old) == registry.authenticate(new) == platform

    registry.revoke("acme", keep_latest=True)
    assert registry.authenticate(new) == platform
    with pytest.raises(AuthError):
        registry.authenticate(old)


def test_revoking_a_platform_refuses_all_its_keys(registry: Registry) -> None:
    _platform, old = registry.add_platform("acme", ["adult"])
    new = registry.rotate_key("acme")
    other, other_key = registry.add_platform("other", ["minor"])

    registry.revoke("acme")

    for key in (old, new):
        with pytest.raises(AuthError):
            registry.authenticate(key)
    assert registry.authenticate(other_key) == other
    assert [(p.name, p.status) for p in registry.platforms()] == [
        ("acme", "revoked"),
        ("other", "active"),
    ]
    with pytest.raises(ConflictError, match="revoked"):
        registry.rotate_key("acme")


def test_names_are_unique_and_unknown_names_are_not_found(registry: Registry) -> None:
    registry.add_platform("acme", ["adult"])
    with pytest.raises(ConflictError, match="exists already"):
        registry.add_platform("acme", ["minor"])
    for call in (
        lambda: registry.rotate_key("nobody"),
        lambda: registry.revoke("nobody"),
        lambda: registry.revoke("nobody", keep_latest=True),
    ):
        with pytest.raises(NotFoundError, match="no platform named 'nobody'"):
            call()


def test_a_platform_cannot_act_on_another_list(registry: Registry) -> None:
    rng = random.Random(50)
    minors, _ = registry.add_platform("minors", ["minor"])
    adult_hash = f.pdq(rng)
    created = registry.create_case("adult", "en", [f.image(rng, [adult_hash])])

    assert registry.feed(minors, 0, 100).events == ()
    _cursor, stream = registry.snapshot(minors)
    assert list(stream) == []
    assert registry.match(minors, [SignalIn("pdq", adult_hash, 90, "original")]) == ()
    with pytest.raises(NotFoundError, match=r"items\[0\]: no such signal in your lists"):
        registry.submit_feedback(minors, [FeedbackIn("not_blocked", "pdq", adult_hash)])
    with pytest.raises(NotFoundError, match=r"items\[0\]: no such media item in your lists"):
        registry.submit_feedback(minors, [FeedbackIn("blocked", media_id=created.media_ids[0])])


def test_operator_and_platform_actions_are_audited_without_reporters(registry: Registry) -> None:
    rng = random.Random(51)
    platform, _ = registry.add_platform("acme", ["adult"])
    registry.rotate_key("acme")
    listed = f.pdq(rng)
    created = registry.create_case("adult", "en", [f.image(rng, [listed])])
    registry.submit_feedback(platform, [FeedbackIn("blocked", "pdq", listed)])
    registry.revoke("acme", keep_latest=True)

    with registry.engine.connect() as connection:
        rows = connection.execute(sa.select(audit).order_by(audit.c.id)).all()

    assert [(row.actor, row.action, row.object) for row in rows] == [
        ("operator", "platform.add", "acme"),
        ("operator", "key.rotate", "acme"),
        ("acme", "feedback", "verdicts: 1"),
        ("operator", "key.revoke_old", "acme"),
    ]
    assert not any(created.case_number.replace("-", "") in str(row) for row in rows)
