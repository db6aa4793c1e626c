"""The StopNCII-compatible API: FetchHashes shapes, paging, checkpoints and withdrawals,
SubmitFeedback as verdicts, the two key headers, and no case number in any answer."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from takedown.api import create_app
from takedown.registry.pow import ProofOfWork
from takedown.registry.service import Registry
from takedown.store.engine import create_engine
from tests.api.conftest import (
    Api,
    generous_limits,
    image,
    make_settings,
    random_hex,
    running_api,
    video,
)
from tests.registry.backends import BACKENDS, FakeClock, database_url

BASE = "/compat/stopncii/v1"
FETCH = f"{BASE}/FetchHashes"
FEEDBACK = f"{BASE}/SubmitFeedback"
DAY = 86_400


def keys(key: str) -> dict[str, str]:
    """Both headers, as python-threatexchange's StopNCII client sends them."""
    return {"Ocp-Apim-Subscription-Key": key, "x-functions-key": key}


def fetch(
    api: Api, key: str, start: int = 10, page_size: int = 800, token: str | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {"startTimestamp": start, "pageSize": page_size}
    if token:
        params["nextPageToken"] = token
    response = api.client.get(FETCH, params=params, headers=keys(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def fetch_all(api: Api, key: str, start: int = 10, page_size: int = 800) -> list[dict[str, Any]]:
    """Every page, as `StopNCIIAPI.fetch_hashes_iter` walks them."""
    pages = []
    token = None
    while True:
        page = fetch(api, key, start, page_size, token)
        pages.append(page)
        token = page["nextPageToken"]
        if not page["hasMoreRecords"]:
            return pages


def states(pages: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """The client's view: later records replace earlier ones."""
    return {
        (record["signalType"], record["hashValue"]): record["hashStatus"]
        for page in pages
        for record in page["hashRecords"]
    }


def withdraw(api: Api, created: dict[str, Any]) -> None:
    api.client.post(
        f"/v1/cases/{created['case_number']}/withdraw", json={"pin": created["pin"]}
    ).raise_for_status()


def midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@pytest.fixture(params=BACKENDS)
def clocked(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Api, FakeClock]]:
    """The API over a registry whose clock the test moves (days matter here)."""
    clock = FakeClock()
    with database_url(request.param, tmp_path) as url:
        settings = make_settings(tmp_path / "data", database_url=url)
        registry = Registry(create_engine(url), settings, clock=clock)
        proof = ProofOfWork(secrets.token_bytes(32), 0)
        app = create_app(settings, registry, proof_of_work=proof, limits=generous_limits())
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                yield Api(client=client, registry=registry, settings=settings, app=app), clock
        finally:
            registry.close()


def test_fetch_hashes_answers_in_stopnciis_shape(clocked: tuple[Api, FakeClock]) -> None:
    api, clock = clocked
    key = api.platform("example")
    photo, film = image(signals=3), video(frames=2)
    api.report([photo, film])
    today = midnight(clock.now.date())

    page = fetch(api, key)

    assert set(page) == {
        "count",
        "nextPageToken",
        "nextSetTimestamp",
        "hasMoreRecords",
        "hashRecords",
    }
    assert page["count"] == len(page["hashRecords"]) == 3 + 2 + 1
    assert page["hasMoreRecords"] is False
    assert page["nextSetTimestamp"] == today
    assert isinstance(page["nextPageToken"], str)
    expected = {("ImagePDQ", s["value"]) for s in photo["signals"]}
    expected |= {("ImagePDQ", line.split(",")[0]) for line in film["vpdq"]}  # frames are PDQ
    expected.add(("VideoMD5", film["md5"]))
    assert {(r["signalType"], r["hashValue"]) for r in page["hashRecords"]} == expected
    for record in page["hashRecords"]:
        assert set(record) == {
            "lastModtimestamp",
            "signalType",
            "hashValue",
            "hashStatus",
            "caseNumbers",
            "CSPFeedbacks",
        }
        assert record["lastModtimestamp"] == today
        assert record["hashStatus"] == "Active"
        assert record["CSPFeedbacks"] == []
        [(case_id, status)] = record["caseNumbers"].items()
        assert status == "Active"
        assert case_id.startswith("td-")
    assert len({next(iter(r["caseNumbers"])) for r in page["hashRecords"]}) == 6


def test_pages_cover_every_hash_exactly_once(clocked: tuple[Api, FakeClock]) -> None:
    api, clock = clocked
    key = api.platform("example")
    media = [image(signals=6) for _ in range(3)]
    api.report(media[:2])
    clock.advance(DAY)
    api.report(media[2:])
    listed = {s["value"] for m in media for s in m["signals"]}

    pages = fetch_all(api, key, page_size=4)

    values = [r["hashValue"] for page in pages for r in page["hashRecords"]]
    assert len(pages) == 5
    assert [page["count"] for page in pages] == [4, 4, 4, 4, 2]
    assert all(page["hasMoreRecords"] for page in pages[:-1])
    assert len(values) == len(set(values)) == 18
    assert set(values) == listed
    stamps = [r["lastModtimestamp"] for page in pages for r in page["hashRecords"]]
    assert stamps == sorted(stamps)
    assert pages[-1]["nextSetTimestamp"] == midnight(clock.now.date())


def test_a_hash_that_changes_while_paging_moves_to_a_later_page(api: Api) -> None:
    key = api.platform("example")
    first, second = image(signals=3), image(signals=3)
    created = api.report([first])
    api.report([second])

    page = fetch(api, key, page_size=3)
    assert {r["hashValue"] for r in page["hashRecords"]} == {s["value"] for s in first["signals"]}
    withdraw(api, created)
    rest = fetch_all_from(api, key, page["nextPageToken"], page_size=2)

    seen = states([page, *rest])
    assert len(seen) == 6
    assert {seen[("ImagePDQ", s["value"])] for s in first["signals"]} == {"Withdrawn"}
    assert {seen[("ImagePDQ", s["value"])] for s in second["signals"]} == {"Active"}


def fetch_all_from(api: Api, key: str, token: str, page_size: int) -> list[dict[str, Any]]:
    pages = []
    while True:
        page = fetch(api, key, page_size=page_size, token=token)
        pages.append(page)
        token = page["nextPageToken"]
        if not page["hasMoreRecords"]:
            return pages


def test_withdrawn_hashes_come_back_withdrawn_from_the_checkpoint(
    clocked: tuple[Api, FakeClock],
) -> None:
    api, clock = clocked
    key = api.platform("example")
    shared = image(signals=1)["signals"][0]
    gone_media, kept_media = image(signals=2), image(signals=2)
    gone_media["signals"].append(shared)
    kept_media["signals"].append(shared)
    gone = api.report([gone_media])
    api.report([kept_media])
    first = fetch_all(api, key)
    checkpoint = first[-1]["nextSetTimestamp"]

    clock.advance(3 * DAY)
    withdraw(api, gone)
    later = fetch_all(api, key, start=checkpoint)

    assert states(later) == {
        **{("ImagePDQ", s["value"]): "Withdrawn" for s in gone_media["signals"][:2]},
        **{("ImagePDQ", s["value"]): "Active" for s in kept_media["signals"]},  # unchanged day
    }
    withdrawn = [r for page in later for r in page["hashRecords"] if r["hashStatus"] != "Active"]
    assert {r["lastModtimestamp"] for r in withdrawn} == {midnight(clock.now.date())}
    assert all(r["caseNumbers"] == {next(iter(r["caseNumbers"])): "Withdrawn"} for r in withdrawn)
    # From the new checkpoint only the day of the withdrawal is fetched again.
    assert set(states(fetch_all(api, key, start=later[-1]["nextSetTimestamp"]))) == {
        ("ImagePDQ", s["value"]) for s in gone_media["signals"][:2]
    }


def test_start_timestamp_keeps_changes_of_that_day_and_later(
    clocked: tuple[Api, FakeClock],
) -> None:
    api, clock = clocked
    key = api.platform("example")
    old, new = image(signals=2), image(signals=2)
    day_one = clock.now.date()
    api.report([old])
    clock.advance(DAY)
    api.report([new])
    day_two = clock.now.date()

    def fetched(start: int) -> set[str]:
        return {v for _, v in states(fetch_all(api, key, start=start))}

    both = {s["value"] for s in old["signals"] + new["signals"]}
    assert fetched(0) == both
    assert fetched(midnight(day_one)) == both
    assert fetched(midnight(day_one) + 1) == {s["value"] for s in new["signals"]}
    assert fetched(midnight(day_two)) == {s["value"] for s in new["signals"]}
    empty = fetch(api, key, start=midnight(day_two) + 1)
    assert empty["hashRecords"] == []
    assert empty["hasMoreRecords"] is False
    assert empty["nextSetTimestamp"] == midnight(day_two) + 1  # the checkpoint stays


def test_a_platform_sees_only_its_lists_and_a_hash_in_both_is_one_record(api: Api) -> None:
    adult_only = api.platform("adult-only", ("adult",))
    both = api.platform("both")
    common = image(signals=1)
    minor_media = image(signals=2)
    minor_media["signals"] += common["signals"]
    adult_media = image(signals=2)
    adult_media["signals"] += common["signals"]
    api.report([minor_media], age_group="minor")
    api.report([adult_media], age_group="adult")

    adult_view = states(fetch_all(api, adult_only))
    both_view = fetch_all(api, both)

    assert set(adult_view) == {("ImagePDQ", s["value"]) for s in adult_media["signals"]}
    values = [r["hashValue"] for page in both_view for r in page["hashRecords"]]
    assert len(values) == len(set(values)) == 5
    minor_value = minor_media["signals"][0]["value"]
    answer = api.client.post(
        FEEDBACK,
        json={
            "count": 1,
            "hashFeedbacks": [{"feedbackValue": "Blocked", "hashValue": minor_value}],
        },
        headers=keys(adult_only),
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["message"].startswith("body.hashFeedbacks[0]:")


def test_page_size_is_capped_and_bad_parameters_are_refused(tmp_path: Path) -> None:
    with running_api(tmp_path, feed_page_max=5, feed_page_default=5) as api:
        key = api.platform("example")
        api.report([image(signals=8)])

        assert fetch(api, key, page_size=800)["count"] == 5
        for params in (
            {"pageSize": 0},
            {"startTimestamp": -1},
            {"startTimestamp": "yesterday"},
            {"nextPageToken": "not-a-token"},
            {"nextPageToken": "MA"},  # base64 of "0": well-formed, not ours
        ):
            response = api.client.get(FETCH, params=params, headers=keys(key))
            assert response.status_code == 422, (params, response.text)
            assert response.json()["error"]["code"] == "invalid_request"


def test_submit_feedback_records_verdicts(api: Api) -> None:
    key = api.platform("example")
    other = api.platform("other")
    photo, film = image(signals=2), video(frames=1)
    created = api.report([photo, film])
    disputed = photo["signals"][1]["value"]

    body = {
        "count": 2,
        "hashFeedbacks": [
            {
                "tags": ["reviewed"],
                "feedbackValue": "Blocked",
                "hashValue": photo["signals"][0]["value"],
            },
            {"tags": [], "feedbackValue": "PendingReview", "hashValue": film["md5"]},
        ],
    }
    response = api.client.post(FEEDBACK, json=body, headers=keys(key))

    assert response.status_code == 200, response.text
    assert response.json() == {"count": 2, "accepted": 2}
    status = api.client.post(
        f"/v1/cases/{created['case_number']}/status", json={"pin": created["pin"]}
    ).json()
    assert [(m["status"], m["removed_by"], m["seen_by"]) for m in status["media"]] == [
        ("removed", 1, 1),
        ("seen", 0, 1),
    ]
    # Two platforms answering NotBlocked put the hash on hold: it is Withdrawn for everyone.
    for who in (key, other):
        answer = api.client.post(
            FEEDBACK,
            json={"hashFeedbacks": [{"feedbackValue": "NotBlocked", "hashValue": disputed}]},
            headers=keys(who),
        )
        assert answer.status_code == 200, answer.text
    assert states(fetch_all(api, key))[("ImagePDQ", disputed)] == "Withdrawn"


@pytest.mark.parametrize(
    ("item", "count"),
    [
        ({"feedbackValue": "None"}, 1),
        ({"feedbackValue": "Withdrawn"}, 1),
        ({"feedbackValue": "blocked"}, 1),
        ({"feedbackValue": "Blocked", "signalType": "VideoMD5"}, 1),
        ({"feedbackValue": "Blocked", "extra": 1}, 1),
        ({"feedbackValue": "Blocked"}, 2),
        ({"feedbackValue": "Blocked", "hashValue": "AB" * 32}, 1),
    ],
)
def test_submit_feedback_refuses_what_is_not_a_verdict_on_a_hash(
    sqlite_api: Api, item: dict[str, Any], count: int
) -> None:
    api = sqlite_api
    key = api.platform("example")
    photo = image(signals=1)
    api.report([photo])

    feedback = {"hashValue": photo["signals"][0]["value"], **item}
    response = api.client.post(
        FEEDBACK, json={"count": count, "hashFeedbacks": [feedback]}, headers=keys(key)
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


def test_submit_feedback_on_an_unknown_hash_names_the_item(api: Api) -> None:
    key = api.platform("example")
    photo = image(signals=1)
    api.report([photo])

    response = api.client.post(
        FEEDBACK,
        json={
            "hashFeedbacks": [
                {"feedbackValue": "Blocked", "hashValue": photo["signals"][0]["value"]},
                {"feedbackValue": "Blocked", "hashValue": random_hex(64)},
            ]
        },
        headers=keys(key),
    )

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "body.hashFeedbacks[1]: no such signal in your lists",
    }
    status = api.registry.transparency()["feedback"]
    assert status == {"pending_review": 0, "blocked": 0, "not_blocked": 0}  # all or none


@pytest.mark.parametrize(("method", "path"), [("GET", FETCH), ("POST", FEEDBACK)])
def test_keys_missing_wrong_revoked_or_of_two_platforms_are_refused(
    api: Api, method: str, path: str
) -> None:
    key = api.platform("example")
    other = api.platform("other")
    revoked = api.platform("gone")
    api.registry.revoke("gone")
    made_up = "tdk_" + "a" * 52
    body = {"hashFeedbacks": [{"feedbackValue": "Blocked", "hashValue": random_hex(64)}]}

    def call(headers: dict[str, str]) -> httpx.Response:
        response: httpx.Response = api.client.request(method, path, json=body, headers=headers)
        return response

    unauthorised = [
        {},
        {"Ocp-Apim-Subscription-Key": made_up},
        {"x-functions-key": "not-even-a-key"},
        keys(revoked),
        {"Ocp-Apim-Subscription-Key": key, "x-functions-key": made_up},
        {"Ocp-Apim-Subscription-Key": revoked, "x-functions-key": key},
        {"Authorization": f"Bearer {key}"},  # the StopNCII headers only
    ]
    for headers in unauthorised:
        response = call(headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
    mixed = call({"Ocp-Apim-Subscription-Key": key, "x-functions-key": other})
    assert mixed.status_code == 403
    assert mixed.json()["error"]["code"] == "forbidden"
    for headers in (
        {"Ocp-Apim-Subscription-Key": key},
        {"x-functions-key": key},
        keys(key),
        {"Ocp-Apim-Subscription-Key": key, "x-functions-key": api.registry.rotate_key("example")},
    ):
        assert call(headers).status_code in (200, 404), headers  # 404: the made-up hash


def test_no_answer_ever_contains_a_case_number_pin_or_media_id(api: Api) -> None:
    key = api.platform("example")
    created = api.report([image(signals=3), video(frames=2)])
    number = created["case_number"]
    secrets_ = {
        number,
        number.replace("-", ""),
        number.replace("-", "").lower(),
        created["pin"],
        *created["media_ids"],
    }
    texts = [api.client.get(FETCH, params={"startTimestamp": 10}, headers=keys(key)).text]
    value = fetch(api, key)["hashRecords"][0]["hashValue"]
    texts.append(
        api.client.post(
            FEEDBACK,
            json={"hashFeedbacks": [{"feedbackValue": "Blocked", "hashValue": value}]},
            headers=keys(key),
        ).text
    )
    withdraw(api, created)
    texts += [json.dumps(page) for page in fetch_all(api, key, page_size=2)]
    texts.append(api.client.get(FETCH, params={"nextPageToken": "x"}, headers=keys(key)).text)
    token_pages = fetch_all(api, key, page_size=1)
    texts += [str(page["nextPageToken"]) for page in token_pages]

    for text in texts:
        for secret in secrets_:
            assert secret not in text


def test_answers_are_never_cached(sqlite_api: Api) -> None:
    key = sqlite_api.platform("example")

    for response in (
        sqlite_api.client.get(FETCH, headers=keys(key)),
        sqlite_api.client.get(FETCH),
    ):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_timestamps_are_days_not_times(clocked: tuple[Api, FakeClock]) -> None:
    api, clock = clocked
    clock.now = datetime(2025, 3, 1, 23, 59, 58, tzinfo=UTC)
    key = api.platform("example")
    api.report([image(signals=1)])

    [record] = fetch(api, key)["hashRecords"]

    assert record["lastModtimestamp"] == midnight(date(2025, 3, 1))
    assert record["lastModtimestamp"] % DAY == 0
    assert datetime.fromtimestamp(record["lastModtimestamp"], UTC) == datetime(
        2025, 3, 1, tzinfo=UTC
    )
