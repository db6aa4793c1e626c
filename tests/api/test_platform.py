"""Platform endpoints over HTTP: keys, list scoping, the feed, the snapshot, feedback, match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from takedown.api import platform
from takedown.registry.models import FeedEvent
from takedown.registry.ratelimit import Rate
from tests.api.conftest import Api, generous_limits, image, random_hex, running_api

ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/feed", None),
    ("GET", "/v1/feed/snapshot", None),
    (
        "POST",
        "/v1/feedback",
        {"items": [{"verdict": "blocked", "type": "pdq", "value": "ab" * 32}]},
    ),
    ("POST", "/v1/match", {"signals": [{"type": "pdq", "value": "ab" * 32, "quality": 90}]}),
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def feed(api: Api, key: str, after: int = 0, limit: int = 1000) -> dict[str, Any]:
    response = api.client.get(
        "/v1/feed", params={"after": after, "limit": limit}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def snapshot(api: Api, key: str) -> list[dict[str, Any]]:
    response = api.client.get("/v1/feed/snapshot", headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_platform_endpoint_refuses_missing_wrong_and_revoked_keys(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    revoked = api.platform("gone")
    api.registry.revoke("gone")
    attempts = [
        {},
        bearer("tdk_" + "a" * 52),
        {"X-Api-Key": "tdk_" + "a" * 52},
        {"X-Api-Key": "not-even-a-key"},
        {"Authorization": f"Basic {revoked}"},
        bearer(revoked),
        {"X-Api-Key": revoked},
    ]

    for headers in attempts:
        response = api.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_platform_endpoint_accepts_a_key_in_either_header(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    key = api.platform("example")

    for headers in (bearer(key), {"X-Api-Key": key}):
        response = api.client.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 404), response.text  # 404: unknown hash


def test_rotated_keys_work_until_the_old_ones_are_revoked(api: Api) -> None:
    old = api.platform("example")
    new = api.registry.rotate_key("example")
    assert api.client.get("/v1/feed", headers=bearer(old)).status_code == 200
    assert api.client.get("/v1/feed", headers=bearer(new)).status_code == 200

    api.registry.revoke("example", keep_latest=True)

    assert api.client.get("/v1/feed", headers=bearer(old)).status_code == 401
    assert api.client.get("/v1/feed", headers=bearer(new)).status_code == 200


def test_the_feed_adds_reported_hashes_and_removes_withdrawn_ones(api: Api) -> None:
    key = api.platform("example")
    media = image(signals=2)
    created = api.report([media], age_group="adult")
    listed = {s["value"] for s in media["signals"]}

    added = feed(api, key)
    assert {
        (e["op"], e["list"], e["type"], e["value"], e["quality"], e["variant"])
        for e in added["events"]
    } == {("add", "adult", "pdq", s["value"], s["quality"], s["variant"]) for s in media["signals"]}
    assert {s["variant"] for s in media["signals"]} == {"original", "rot90"}
    assert added["has_more"] is False
    assert added["next"] == max(e["seq"] for e in added["events"])

    api.client.post(
        f"/v1/cases/{created['case_number']}/withdraw", json={"pin": created["pin"]}
    ).raise_for_status()

    removed = feed(api, key, after=added["next"])
    assert {(e["op"], e["value"]) for e in removed["events"]} == {
        ("remove", value) for value in listed
    }
    assert feed(api, key, after=removed["next"])["events"] == []


def test_the_feed_pages_in_seq_order(api: Api) -> None:
    key = api.platform("example")
    api.report([image(signals=5)])

    seen: list[int] = []
    after = 0
    while True:
        page = feed(api, key, after=after, limit=2)
        seen.extend(e["seq"] for e in page["events"])
        after = page["next"]
        if not page["has_more"]:
            break

    assert len(seen) == 5
    assert seen == sorted(seen)
    assert len(set(seen)) == 5


def test_a_platform_without_the_list_sees_none_of_its_events(api: Api) -> None:
    adult_only = api.platform("adult-only", ("adult",))
    both = api.platform("both")
    media = image(signals=3)
    api.report([media], age_group="minor")
    value = media["signals"][0]["value"]

    assert feed(api, adult_only)["events"] == []
    assert snapshot(api, adult_only)[1:] == []
    matched = api.client.post(
        "/v1/match",
        json={"signals": [{"type": "pdq", "value": value, "quality": 90}]},
        headers=bearer(adult_only),
    )
    assert matched.status_code == 200
    assert matched.json()["matches"] == []
    assert len(feed(api, both)["events"]) == 3


def test_the_snapshot_is_a_cursor_then_every_live_signal(api: Api) -> None:
    key = api.platform("example")
    kept = image(signals=2)
    api.report([kept], age_group="minor")
    gone = api.report([image(signals=2)], age_group="adult")
    api.client.post(
        f"/v1/cases/{gone['case_number']}/withdraw", json={"pin": gone["pin"]}
    ).raise_for_status()

    lines = snapshot(api, key)

    cursor = lines[0]["cursor"]
    assert cursor == feed(api, key)["next"]
    assert sorted(lines[1:], key=lambda line: line["value"]) == sorted(
        (
            {
                "list": "minor",
                "type": "pdq",
                "value": s["value"],
                "quality": s["quality"],
                "variant": s["variant"],
            }
            for s in kept["signals"]
        ),
        key=lambda line: line["value"],
    )
    assert feed(api, key, after=cursor)["events"] == []


def test_feedback_is_counted_and_shows_in_the_reporters_status(api: Api) -> None:
    key = api.platform("example")
    media = image(signals=2)
    created = api.report([media])
    value = media["signals"][0]["value"]

    response = api.client.post(
        "/v1/feedback",
        json={
            "items": [
                {"verdict": "blocked", "type": "pdq", "value": value},
                {"verdict": "pending_review", "media_id": created["media_ids"][0]},
            ]
        },
        headers=bearer(key),
    )

    assert response.status_code == 200
    assert response.json() == {"accepted": 2}
    status = api.client.post(
        f"/v1/cases/{created['case_number']}/status", json={"pin": created["pin"]}
    ).json()
    assert status["media"][0]["removed_by"] == 1
    assert status["media"][0]["status"] == "removed"


def test_feedback_on_an_unknown_hash_is_not_found(api: Api) -> None:
    key = api.platform("example")

    response = api.client.post(
        "/v1/feedback",
        json={"items": [{"verdict": "blocked", "type": "pdq", "value": random_hex(64)}]},
        headers=bearer(key),
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_feedback_items_name_a_signal_or_a_media_item_not_both(api: Api) -> None:
    key = api.platform("example")
    both = {"verdict": "blocked", "type": "pdq", "value": random_hex(64), "media_id": "a" * 16}

    for item in (both, {"verdict": "blocked"}, {"verdict": "blocked", "type": "pdq"}):
        response = api.client.post("/v1/feedback", json={"items": [item]}, headers=bearer(key))
        assert response.status_code == 422, item
        assert response.json()["error"]["code"] == "invalid_request"


def test_match_finds_a_listed_hash_a_few_bits_away(api: Api) -> None:
    key = api.platform("example")
    media = image(signals=1)
    api.report([media], age_group="adult")
    listed = media["signals"][0]["value"]
    nearby = f"{int(listed, 16) ^ 0b10110:064x}"  # three bits flipped

    response = api.client.post(
        "/v1/match",
        json={"signals": [{"type": "pdq", "value": nearby, "quality": 90}]},
        headers=bearer(key),
    )

    assert response.status_code == 200
    assert response.json()["matches"] == [
        {"list": "adult", "type": "pdq", "value": listed, "quality": 90, "distance": 3}
    ]


def test_match_is_rate_limited_per_platform(tmp_path: Path) -> None:
    slow = generous_limits(match=Rate(per_second=0.001, burst=2))
    with running_api(tmp_path, limits=slow) as api:
        busy, other = api.platform("busy"), api.platform("other")
        body = {"signals": [{"type": "pdq", "value": random_hex(64), "quality": 90}]}

        codes = [
            api.client.post("/v1/match", json=body, headers=bearer(busy)).status_code
            for _ in range(3)
        ]
        limited = api.client.post("/v1/match", json=body, headers=bearer(busy))
        elsewhere = api.client.post("/v1/match", json=body, headers=bearer(other))

        assert codes == [200, 200, 429]
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert elsewhere.status_code == 200


def test_match_takes_at_most_the_configured_number_of_signals(api: Api) -> None:
    key = api.platform("example")
    signals = [
        {"type": "pdq", "value": random_hex(64), "quality": 90}
        for _ in range(api.settings.max_match_signals + 1)
    ]

    response = api.client.post("/v1/match", json={"signals": signals}, headers=bearer(key))

    assert response.status_code == 422
    assert "signals" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 10_001},
        {"limit": 10**30},
        {"limit": 0},
        {"after": -1},
        {"after": 2**70},
        {"after": "abc"},
        {"limit": "1.5"},
    ],
)
def test_feed_parameters_out_of_range_are_refused(api: Api, params: dict[str, Any]) -> None:
    key = api.platform("example")

    response = api.client.get("/v1/feed", params=params, headers=bearer(key))

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert next(iter(params)) in error["message"]


def test_feed_events_and_snapshot_lines_have_the_documented_fields_in_order() -> None:
    assert FeedEvent._fields == platform.EVENT_FIELDS
    assert FeedEvent._fields[2:] == platform.LINE_FIELDS
    assert FeedEvent._fields[-1] == "variant"
