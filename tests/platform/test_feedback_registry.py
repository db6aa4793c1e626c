"""Review decisions reach a real `takedown serve`: the reporter's status shows the platform
seeing and removing the media, resends count once, and two rejecting platforms take a hash
off the list (the registry's quarantine). Driven through the `takedown platform` CLI."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from takedown.cli import app
from takedown.platform.feedback import flush_outbox, registry_client
from takedown.platform.outbox import RetryPolicy
from takedown.platform.review import Match, list_items, record_match
from takedown.platform.store import open_store
from takedown.platform.tables import feedback_outbox
from tests.platform.conftest import Case, RegistryServer

runner = CliRunner()


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    return result


def media_status(registry: RegistryServer, case: Case) -> dict[str, Any]:
    with registry.client() as client:
        response = client.post(f"/v1/cases/{case.number}/status", json={"pin": case.pin})
    assert response.status_code == 200, response.text
    (media,) = response.json()["media"]
    return {k: media[k] for k in ("status", "seen_by", "removed_by")}


def first_signal(case: Case) -> str:
    value: str = case.media[0]["signals"][0]["value"]
    return value


def test_match_then_confirm_shows_seen_then_removed(
    registry_server: RegistryServer, tmp_path: Path
) -> None:
    key = registry_server.add_platform()
    case = registry_server.report()
    state = str(tmp_path / "state")
    assert media_status(registry_server, case) == {
        "status": "pending",
        "seen_by": 0,
        "removed_by": 0,
    }

    engine = open_store(tmp_path / "state", None)
    try:
        match = Match("adult", "pdq", first_signal(case), "original", "original", 2)
        item = record_match(engine, "uploads/u1.jpg", match, "scan")
        assert item is not None
    finally:
        engine.dispose()

    sent = cli(
        "platform",
        "feedback",
        "send",
        "--server",
        registry_server.url,
        "--key",
        key,
        "--state",
        state,
    )
    assert sent.exit_code == 0, sent.output
    assert "sent 1 verdicts" in sent.output
    assert media_status(registry_server, case) == {"status": "seen", "seen_by": 1, "removed_by": 0}

    listed = cli("platform", "review", "--state", state, "list", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["id"], row["ref"], row["status"]) == (item.id, "uploads/u1.jpg", "pending")

    confirmed = cli(
        "platform", "review", "confirm", str(item.id), "--state", state, "--reviewer", "alice"
    )
    assert confirmed.exit_code == 0, confirmed.output
    again = cli(
        "platform", "review", "confirm", str(item.id), "--state", state, "--reviewer", "bob"
    )
    assert again.exit_code == 1
    assert "already confirmed by alice" in again.output

    sent = cli(
        "platform",
        "feedback",
        "send",
        "--server",
        registry_server.url,
        "--key",
        key,
        "--state",
        state,
    )
    assert sent.exit_code == 0, sent.output
    assert media_status(registry_server, case) == {
        "status": "removed",
        "seen_by": 1,
        "removed_by": 1,
    }


def test_resent_verdicts_are_counted_once(registry_server: RegistryServer, tmp_path: Path) -> None:
    """What a crash between the registry's answer and marking the rows sent looks like:
    the same verdicts again. The reporter still sees one platform."""
    key = registry_server.add_platform()
    case = registry_server.report()
    engine = open_store(tmp_path / "state", None)
    try:
        record_match(
            engine,
            "u1",
            Match("adult", "pdq", first_signal(case), "original", "original", 0),
            "scan",
        )
        for _ in range(3):
            with engine.begin() as connection:
                connection.execute(feedback_outbox.update().values(sent_at=None))
            with registry_client(registry_server.url, key) as client:
                report = flush_outbox(engine, client)
            assert (report.sent, report.failed, report.error) == (1, [], None)
    finally:
        engine.dispose()
    assert media_status(registry_server, case) == {"status": "seen", "seen_by": 1, "removed_by": 0}


def test_a_hash_the_registry_does_not_list_fails_without_blocking_the_rest(
    registry_server: RegistryServer, tmp_path: Path
) -> None:
    key = registry_server.add_platform(lists="adult")
    adult = registry_server.report(age_group="adult")
    minor = registry_server.report(age_group="minor")
    engine = open_store(tmp_path / "state", None)
    try:
        unknown = secrets.token_hex(32)
        record_match(
            engine, "u0", Match("adult", "pdq", unknown, "original", "original", 0), "scan"
        )
        # A hash of a list this platform was not given: the registry says it does not exist.
        record_match(
            engine,
            "u1",
            Match("minor", "pdq", first_signal(minor), "original", "original", 0),
            "scan",
        )
        record_match(
            engine,
            "u2",
            Match("adult", "pdq", first_signal(adult), "original", "original", 0),
            "scan",
        )
        with registry_client(registry_server.url, key) as client:
            report = flush_outbox(engine, client)
    finally:
        engine.dispose()
    assert report.sent == 1
    assert [f.value for f in report.failed] == [unknown, first_signal(minor)]
    assert all("HTTP 404 not_found: items[0]: no such signal" in f.error for f in report.failed)
    assert media_status(registry_server, adult)["seen_by"] == 1

    status = cli("platform", "feedback", "status", "--state", str(tmp_path / "state"))
    assert status.exit_code == 0, status.output
    assert "0 waiting, 1 sent, 2 refused" in status.output


def test_two_platforms_rejecting_a_hash_take_it_off_the_list(
    registry_server: RegistryServer, tmp_path: Path
) -> None:
    keys = [registry_server.add_platform() for _ in range(2)]
    case = registry_server.report()
    value = first_signal(case)
    assert ("adult", "pdq", value) in registry_server.live(keys[0])
    for n, key in enumerate(keys):
        state = tmp_path / f"state{n}"
        engine = open_store(state, None)
        try:
            item = record_match(
                engine, "u1", Match("adult", "pdq", value, "original", "original", 30), "scan"
            )
            assert item is not None
        finally:
            engine.dispose()
        rejected = cli(
            "platform", "review", "reject", str(item.id), "--state", str(state), "--reviewer", "r"
        )
        assert rejected.exit_code == 0, rejected.output
        sent = cli(
            "platform",
            "feedback",
            "send",
            "--server",
            registry_server.url,
            "--key",
            key,
            "--state",
            str(state),
        )
        assert sent.exit_code == 0, sent.output
    assert ("adult", "pdq", value) not in registry_server.live(keys[0])


def test_send_reports_an_unreachable_registry(tmp_path: Path) -> None:
    state = tmp_path / "state"
    engine = open_store(state, None)
    try:
        record_match(
            engine,
            "u1",
            Match("adult", "pdq", secrets.token_hex(32), "original", "original", 1),
            "scan",
        )
        with sa.create_engine(f"sqlite:///{state / 'agent.db'}").connect() as connection:
            assert (
                connection.execute(sa.select(sa.func.count()).select_from(feedback_outbox)).scalar()
                == 1
            )
        # A port nothing listens on, tried once.
        with registry_client("http://127.0.0.1:9", "tdk_" + "x" * 40, timeout=2) as client:
            report = flush_outbox(engine, client, policy=RetryPolicy(attempts=1))
        assert report.error is not None
        assert "cannot reach the registry" in report.error
        assert report.waiting == 1
        assert [i.status for i in list_items(engine)] == ["pending"]
    finally:
        engine.dispose()


def test_cli_errors_are_one_line_and_an_exit_code(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    missing = cli("platform", "review", "confirm", "7", "--state", state, "--reviewer", "a")
    assert missing.exit_code == 1
    assert "no review item 7" in missing.output
    nowhere = cli("platform", "review", "list")
    assert nowhere.exit_code == 2
    assert "--state DIR" in nowhere.output
    bad = cli(
        "platform",
        "feedback",
        "send",
        "--server",
        "ftp://x",
        "--key",
        "tdk_" + "k" * 20,
        "--state",
        state,
    )
    assert bad.exit_code == 2
    assert "http" in bad.output
    status = cli("platform", "review", "list", "--status", "maybe", "--state", state)
    assert status.exit_code == 2
    empty = cli("platform", "review", "list", "--state", state)
    assert empty.exit_code == 0, empty.output
    assert "0 pending" in empty.output


def test_send_defaults_to_the_registry_the_store_syncs_from(
    registry_server: RegistryServer, tmp_path: Path
) -> None:
    key = registry_server.add_platform()
    case = registry_server.report()
    state = str(tmp_path / "state")
    never = cli("platform", "feedback", "send", "--key", key, "--state", state)
    assert never.exit_code == 2
    assert "never synced" in never.output
    synced = cli(
        "platform", "sync", "--server", registry_server.url, "--key", key, "--state", state
    )
    assert synced.exit_code == 0, synced.output
    engine = open_store(tmp_path / "state", None)
    try:
        match = Match("adult", "pdq", first_signal(case), "original", "original", 0)
        assert record_match(engine, "u1", match, "scan") is not None
    finally:
        engine.dispose()
    sent = cli("platform", "feedback", "send", "--key", key, "--state", state)
    assert sent.exit_code == 0, sent.output
    assert media_status(registry_server, case)["seen_by"] == 1


def test_sync_sends_the_waiting_verdicts(registry_server: RegistryServer, tmp_path: Path) -> None:
    """A match recorded between two syncs reaches the registry with the next sync: the
    reporter's status shows the platform has seen the media."""
    key = registry_server.add_platform()
    case = registry_server.report()
    state = tmp_path / "state"
    synced = cli(
        "platform", "sync", "--server", registry_server.url, "--key", key, "--state", str(state)
    )
    assert synced.exit_code == 0, synced.output
    engine = open_store(state, None)
    try:
        match = Match("adult", "pdq", first_signal(case), "original", "original", 0)
        assert record_match(engine, "uploads/u9.jpg", match, "scan") is not None
    finally:
        engine.dispose()
    assert media_status(registry_server, case)["seen_by"] == 0

    synced = cli(
        "platform", "sync", "--server", registry_server.url, "--key", key, "--state", str(state)
    )
    assert synced.exit_code == 0, synced.output
    assert "feedback: 1 sent, 0 waiting" in synced.output
    assert media_status(registry_server, case) == {
        "status": "seen",
        "seen_by": 1,
        "removed_by": 0,
    }
