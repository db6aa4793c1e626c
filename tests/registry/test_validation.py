"""Every input is checked: anything malformed is an InvalidRequestError naming its field,
never another exception, and nothing is written."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.errors import InvalidRequestError
from takedown.registry.models import CreatedCase, FeedbackIn, MediaIn, Platform, SignalIn
from takedown.registry.service import Registry
from tests.registry import factories as f

RNG = random.Random(20)
PDQ = f.pdq(RNG)
MD5 = f.md5(RNG)
SHA = f.sha256(RNG)
GOOD_SIGNAL = SignalIn("pdq", PDQ, 90, "original")


def image(**changes: Any) -> MediaIn:
    fields: dict[str, Any] = {"kind": "image", "md5": MD5, "sha256": SHA, "signals": (GOOD_SIGNAL,)}
    fields.update(changes)
    return MediaIn(**fields)


def with_signal(**changes: Any) -> MediaIn:
    fields: dict[str, Any] = {"type": "pdq", "value": PDQ, "quality": 90, "variant": "original"}
    fields.update(changes)
    return image(signals=(GOOD_SIGNAL,) * 5 + (SignalIn(**fields),))


BAD_MEDIA: list[tuple[object, str]] = [
    ([], "media: expected 1 to 50 media items, got 0"),
    ("image", "media: expected a list of media items, got str"),
    ([image()] * 51, "media: expected 1 to 50 media items, got 51"),
    ([image(), {"kind": "image"}], "media[1]: expected a media item, got dict"),
    ([image(kind="gif")], "media[0].kind: expected 'image' or 'video'"),
    ([image(md5=MD5.upper())], "media[0].md5: expected 32 lowercase hex characters"),
    ([image(md5=MD5[:-1])], "media[0].md5: expected 32 lowercase hex characters"),
    ([image(md5=None)], "media[0].md5: expected a string, got NoneType"),
    ([image(sha256="g" * 64)], "media[0].sha256: expected 64 lowercase hex characters"),
    ([image(signals=(GOOD_SIGNAL,) * 65)], "media[0].signals: expected 0 to 64 PDQ signals"),
    ([image(vpdq=(f"{PDQ},90,0.000",))], "media[0].vpdq: only videos carry vPDQ frames"),
    ([with_signal(value=PDQ[:63])], "media[0].signals[5].value: expected 64 lowercase hex"),
    ([with_signal(value=PDQ.upper())], "media[0].signals[5].value: expected 64 lowercase hex"),
    ([with_signal(type="md5")], "media[0].signals[5].type: expected 'pdq'"),
    ([with_signal(quality=101)], "media[0].signals[5].quality: expected an integer 0-100"),
    ([with_signal(quality=-1)], "media[0].signals[5].quality: expected an integer 0-100"),
    ([with_signal(quality=True)], "media[0].signals[5].quality: expected an integer 0-100"),
    ([with_signal(quality=90.0)], "media[0].signals[5].quality: expected an integer 0-100"),
    ([with_signal(quality="90")], "media[0].signals[5].quality: expected an integer 0-100"),
    ([with_signal(variant="frame")], "media[0].signals[5].variant: expected one of original"),
    ([with_signal(variant=["original"])], "media[0].signals[5].variant: expected one of"),
    ([image(), image(signals=("x",))], "media[1].signals[0]: expected a signal, got str"),
    (
        [MediaIn("video", MD5, SHA, (GOOD_SIGNAL,), ())],
        "media[0].signals: a video's frames go in vpdq",
    ),
    ([MediaIn("video", MD5, SHA, (), (f"{PDQ},90",))], "media[0].vpdq[0]: a vPDQ line is"),
    ([MediaIn("video", MD5, SHA, (), (f"{PDQ},101,0",))], "media[0].vpdq[0]: vPDQ quality"),
    ([MediaIn("video", MD5, SHA, (), (f"{PDQ},90,-1",))], "media[0].vpdq[0]: vPDQ timestamp"),
    ([MediaIn("video", MD5, SHA, (), (f"{PDQ},90,nan",))], "media[0].vpdq[0]: vPDQ timestamp"),
    ([MediaIn("video", MD5, SHA, (), ("x" * 10_000,))], "media[0].vpdq[0]: expected '<64 hex>"),
    ([MediaIn("video", MD5, SHA, (), (5,))], "media[0].vpdq[0]: expected a string, got int"),  # type: ignore[arg-type]
    (
        [MediaIn("video", MD5, SHA, (), (f"{PDQ},90,0.000",) * 3601)],
        "media[0].vpdq: expected 0 to 3600 vPDQ frames, got 3601",
    ),
]


def test_bad_media_are_refused_with_the_field_named(registry: Registry) -> None:
    for media, message in BAD_MEDIA:
        with pytest.raises(InvalidRequestError) as refused:
            registry.create_case("adult", "en", media)  # type: ignore[arg-type]
        assert str(refused.value).startswith(message), (media, str(refused.value))
    assert registry.transparency()["active_media"] == {"image": 0, "video": 0}


def test_bad_case_fields_are_refused(registry: Registry) -> None:
    for age_group, language, field in [
        ("child", "en", "age_group"),
        (None, "en", "age_group"),
        ("adult", "english-language-x", "language"),
        ("adult", "e", "language"),
        ("adult", "en_US", "language"),
        ("adult", 7, "language"),
    ]:
        with pytest.raises(InvalidRequestError, match=f"^{field}: "):
            registry.create_case(age_group, language, [image()])  # type: ignore[arg-type]


def test_bad_platform_requests_are_refused(registry: Registry) -> None:
    platform, _key = registry.add_platform("acme", ["adult"])
    bad_calls: list[tuple[Callable[[], object], str]] = [
        (lambda: registry.add_platform("Acme Inc", ["adult"]), "name: "),
        (lambda: registry.add_platform("x", []), "lists: expected 1 to 2"),
        (lambda: registry.add_platform("x", ["adult", "adult"]), "lists: a list is named twice"),
        (lambda: registry.add_platform("x", ["kids"]), "lists[0]: expected one of"),
        (lambda: registry.add_platform("x", ["adult"], "a\nb"), "contact: "),
        (lambda: registry.feed(platform, -1, 10), "after: "),
        (lambda: registry.feed(platform, 0, 0), "limit: expected an integer 1-10000"),
        (lambda: registry.feed(platform, 0, 10_001), "limit: "),
        (lambda: registry.feed(platform, "0", 10), "after: "),  # type: ignore[arg-type]
        (lambda: registry.feed(platform, 2**63, 10), "after: expected an integer 0-"),
        (lambda: registry.match(platform, []), "signals: expected 1 to 8 signals"),
        (lambda: registry.match(platform, [GOOD_SIGNAL] * 9), "signals: expected 1 to 8"),
        (
            lambda: registry.match(platform, [SignalIn("sha256", SHA, 100, "file")]),
            "signals[0].type: ",
        ),
        (
            lambda: registry.match(platform, [GOOD_SIGNAL, SignalIn("md5", MD5, 100, "rot90")]),
            "signals[1].variant: expected one of file",
        ),
        (
            lambda: registry.match(platform, [SignalIn("pdq", PDQ, 90, "sticker")]),
            "signals[0].variant: ",
        ),
        (lambda: registry.submit_feedback(platform, []), "items: expected 1 to 1000"),
        (
            lambda: registry.submit_feedback(platform, [FeedbackIn("maybe", "pdq", PDQ)]),
            "items[0].verdict: ",
        ),
        (
            lambda: registry.submit_feedback(platform, [FeedbackIn("blocked")]),
            "items[0]: name either a signal",
        ),
        (
            lambda: registry.submit_feedback(
                platform, [FeedbackIn("blocked", "pdq", PDQ, "abcdefghijklmnop")]
            ),
            "items[0]: name either a signal",
        ),
        (
            lambda: registry.submit_feedback(platform, [FeedbackIn("blocked", "pdq", MD5)]),
            "items[0].value: expected 64 lowercase hex",
        ),
        (
            lambda: registry.submit_feedback(platform, [FeedbackIn("blocked", media_id="x")]),
            "items[0].media_id: ",
        ),
        (lambda: registry.restore("pdq", "zz"), "value: expected 64 lowercase hex"),
        (lambda: registry.confirm("sha1", PDQ), "type: expected 'pdq' or 'md5'"),
    ]
    for call, message in bad_calls:
        with pytest.raises(InvalidRequestError) as refused:
            call()
        assert str(refused.value).startswith(message), (message, str(refused.value))
    assert [p.name for p in registry.platforms()] == ["acme"]
    assert isinstance(platform, Platform)


HEXISH = st.text(alphabet="0123456789abcdefABCDEFxyz-, ", max_size=70)
ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    HEXISH,
    st.lists(st.integers(), max_size=2),
)
SIGNALS = st.builds(
    SignalIn,
    type=st.one_of(st.sampled_from(["pdq", "md5", "PDQ"]), ANYTHING),
    value=st.one_of(HEXISH, st.just(PDQ), ANYTHING),
    quality=st.one_of(st.integers(-5, 105), ANYTHING),
    variant=st.one_of(st.sampled_from(["original", "patch", "frame", "rot90"]), ANYTHING),
)
MEDIA = st.builds(
    MediaIn,
    kind=st.one_of(st.sampled_from(["image", "video"]), ANYTHING),
    md5=st.one_of(st.just(MD5), HEXISH, ANYTHING),
    sha256=st.one_of(st.just(SHA), HEXISH, ANYTHING),
    signals=st.one_of(st.lists(SIGNALS, max_size=3).map(tuple), ANYTHING),
    vpdq=st.one_of(
        st.lists(st.one_of(HEXISH, st.just(f"{PDQ},90,1.000"), ANYTHING), max_size=3).map(tuple),
        ANYTHING,
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(media=st.lists(MEDIA, min_size=1, max_size=3))
def test_fuzzed_media_are_accepted_or_refused_but_never_crash(
    registry: Registry, media: list[MediaIn]
) -> None:
    outcome: object
    try:
        outcome = registry.create_case("adult", "en", media)
    except InvalidRequestError as exc:
        outcome = exc
    if isinstance(outcome, InvalidRequestError):
        assert str(outcome).startswith("media[")
    else:
        assert isinstance(outcome, CreatedCase)
        assert len(outcome.media_ids) == len(media)
