"""Reporter endpoints over HTTP: make a case, check it, add to it, withdraw, PIN lockout."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from takedown.api import reporter
from takedown.api.reporter import PIN_WORKERS
from takedown.registry.models import CaseStatus
from tests.api.conftest import Api, image, running_api, video


def test_a_new_case_returns_number_pin_media_ids_and_a_warning(api: Api) -> None:
    body = api.report([image(), video()])

    assert re.fullmatch(
        r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", body["case_number"]
    )
    assert re.fullmatch(r"[0-9]{10}", body["pin"])
    assert len(body["media_ids"]) == 2
    assert "PIN" in body["warning"]


def test_status_shows_the_case_and_each_media_item(api: Api) -> None:
    created = api.report([image(), image()], age_group="minor")

    response = api.client.post(
        f"/v1/cases/{created['case_number']}/status", json={"pin": created["pin"]}
    )

    assert response.status_code == 200
    status = response.json()
    assert status["case_number"] == created["case_number"]
    assert status["age_group"] == "minor"
    assert status["status"] == "active"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", status["created_day"])
    assert [m["media_id"] for m in status["media"]] == created["media_ids"]
    assert all(m["status"] == "pending" and m["seen_by"] == 0 for m in status["media"])


def test_case_numbers_are_accepted_without_dashes_and_in_lower_case(api: Api) -> None:
    created = api.report()
    compact = created["case_number"].replace("-", "").lower()

    response = api.client.post(f"/v1/cases/{compact}/status", json={"pin": created["pin"]})

    assert response.status_code == 200
    assert response.json()["case_number"] == created["case_number"]


def test_the_pin_is_ten_digits_spaces_and_dashes_ignored(api: Api) -> None:
    created = api.report()
    pin, url = created["pin"], f"/v1/cases/{created['case_number']}/status"

    spaced = api.client.post(url, json={"pin": f"{pin[:3]} {pin[3:6]}-{pin[6:]}"})
    short = api.client.post(url, json={"pin": pin[:8]})

    assert spaced.status_code == 200
    assert short.status_code == 422


def test_media_can_be_added_to_a_case(api: Api) -> None:
    created = api.report()

    response = api.client.post(
        f"/v1/cases/{created['case_number']}/media",
        json={"pin": created["pin"], "media": [image(), image()], "pow": api.pow()},
    )

    assert response.status_code == 201
    added = response.json()["media_ids"]
    assert len(added) == 2
    status = api.client.post(
        f"/v1/cases/{created['case_number']}/status", json={"pin": created["pin"]}
    ).json()
    assert {m["media_id"] for m in status["media"]} == set(created["media_ids"] + added)


def test_withdrawing_one_media_item_and_then_the_case(api: Api) -> None:
    created = api.report([image(), image()])
    number, pin = created["case_number"], created["pin"]
    first, second = created["media_ids"]

    one = api.client.post(f"/v1/cases/{number}/media/{first}/withdraw", json={"pin": pin})
    assert one.status_code == 200
    assert one.json() == {"status": "withdrawn"}
    media = api.client.post(f"/v1/cases/{number}/status", json={"pin": pin}).json()["media"]
    assert {m["media_id"]: m["status"] for m in media}[first] == "withdrawn"
    assert {m["media_id"]: m["status"] for m in media}[second] == "pending"

    whole = api.client.post(f"/v1/cases/{number}/withdraw", json={"pin": pin})
    assert whole.status_code == 200
    status = api.client.post(f"/v1/cases/{number}/status", json={"pin": pin}).json()
    assert status["status"] == "withdrawn"


def test_withdrawing_an_unknown_media_item_is_not_found(api: Api) -> None:
    created = api.report()

    response = api.client.post(
        f"/v1/cases/{created['case_number']}/media/{'a' * 16}/withdraw",
        json={"pin": created["pin"]},
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_wrong_pin_is_401_then_the_case_locks_with_retry_after(api: Api) -> None:
    created = api.report()
    number = created["case_number"]
    wrong = "0000000000" if created["pin"] != "0000000000" else "1111111111"

    codes = [
        api.client.post(f"/v1/cases/{number}/status", json={"pin": wrong}).status_code
        for _ in range(api.settings.pin_max_failures)
    ]
    locked = api.client.post(f"/v1/cases/{number}/status", json={"pin": created["pin"]})

    assert codes == [401] * api.settings.pin_max_failures
    assert locked.status_code == 423
    assert locked.json()["error"]["code"] == "locked"
    assert int(locked.headers["retry-after"]) >= 1


def test_unknown_case_and_wrong_pin_look_the_same(api: Api) -> None:
    created = api.report()
    wrong = "0000000000" if created["pin"] != "0000000000" else "1111111111"

    unknown = api.client.post("/v1/cases/2345-6789-ABCD/status", json={"pin": created["pin"]})
    wrong_pin = api.client.post(f"/v1/cases/{created['case_number']}/status", json={"pin": wrong})

    assert unknown.status_code == wrong_pin.status_code == 401
    assert unknown.json() == wrong_pin.json()


def test_the_pin_goes_in_the_body_never_the_url(api: Api) -> None:
    created = api.report()

    response = api.client.get(
        f"/v1/cases/{created['case_number']}/status", params={"pin": created["pin"]}
    )

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_challenge_answers_even_when_proof_of_work_is_off(api: Api) -> None:
    response = api.client.get("/v1/challenge")

    assert response.status_code == 200
    body = response.json()
    assert body["difficulty"] == 0
    assert isinstance(body["challenge"], str)
    assert body["expires"] > 0


def test_a_case_needs_a_valid_proof_of_work(tmp_path: Path) -> None:
    with running_api(tmp_path, pow_difficulty_bits=8) as api:
        challenge = api.client.get("/v1/challenge").json()
        assert challenge["difficulty"] == 8
        request = {"age_group": "adult", "language": "en", "media": [image()]}

        missing = api.client.post("/v1/cases", json=request)
        forged = api.client.post(
            "/v1/cases", json={**request, "pow": {"challenge": "x" * 40, "solution": "1"}}
        )
        solved = api.pow()
        accepted = api.client.post("/v1/cases", json={**request, "pow": solved})
        replayed = api.client.post("/v1/cases", json={**request, "pow": solved})

        assert missing.status_code == 422
        assert "pow" in missing.json()["error"]["message"]
        assert forged.status_code == 422
        assert accepted.status_code == 201
        assert replayed.status_code == 422
        assert replayed.json()["error"]["code"] == "proof_of_work_failed"


def test_pin_work_runs_on_a_bounded_pool(sqlite_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    api = sqlite_api
    created = api.report()
    real = api.registry.case_status
    lock = threading.Lock()
    active, most = 0, 0

    def slow_status(number: str, pin: str) -> CaseStatus:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.3)  # long enough for every worker to be busy at once
        with lock:
            active -= 1
        return real(number, pin)

    monkeypatch.setattr(api.registry, "case_status", slow_status)
    url = f"/v1/cases/{created['case_number']}/status"
    with ThreadPoolExecutor(max_workers=PIN_WORKERS * 3) as pool:
        codes = list(
            pool.map(
                lambda _: api.client.post(url, json={"pin": created["pin"]}).status_code,
                range(PIN_WORKERS * 3),
            )
        )

    assert codes == [200] * (PIN_WORKERS * 3)
    assert most == PIN_WORKERS


def test_a_full_pin_queue_answers_429(sqlite_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    created = sqlite_api.report()
    monkeypatch.setattr(reporter, "PIN_QUEUE", 0)

    response = sqlite_api.client.post(
        f"/v1/cases/{created['case_number']}/status", json={"pin": created["pin"]}
    )

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert response.headers["retry-after"] == "5"
