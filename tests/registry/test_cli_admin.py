"""`takedown db upgrade` and `takedown admin ...`, run in-process on both databases."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from takedown.cli import app
from takedown.errors import AuthError
from takedown.registry.models import FeedbackIn
from takedown.registry.service import Registry
from takedown.store import migrate
from tests.registry import factories as f

KEY = re.compile(r"tdk_[a-z2-7]{52}")


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TAKEDOWN_DATABASE_URL": db_url,
        "TAKEDOWN_DATA_DIR": str(tmp_path / "data"),
        "TAKEDOWN_ARGON2_TIME_COST": "1",
        "TAKEDOWN_ARGON2_MEMORY_KIB": "8192",
        "TAKEDOWN_ARGON2_PARALLELISM": "1",
    }


def test_db_upgrade_creates_the_database_in_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    result = run({"TAKEDOWN_DATA_DIR": str(data), "TAKEDOWN_DATABASE_URL": ""}, "db", "upgrade")

    assert result.exit_code == 0, result.stderr
    assert (data / "takedown.db").is_file()
    assert f"is at revision {migrate.head_revision()}" in result.stdout


def test_admin_commands_refuse_a_database_that_was_not_upgraded(tmp_path: Path) -> None:
    result = run(
        {"TAKEDOWN_DATA_DIR": str(tmp_path), "TAKEDOWN_DATABASE_URL": ""},
        "admin",
        "platform",
        "list",
    )

    assert result.exit_code == 2
    assert "takedown db upgrade" in result.stderr


def test_bad_settings_are_a_usage_error(tmp_path: Path) -> None:
    result = run({"TAKEDOWN_DATABASE_URL": "mysql://x/y"}, "db", "upgrade")

    assert result.exit_code == 2
    assert "TAKEDOWN_DATABASE_URL" in result.stderr


def test_platform_keys_are_printed_once_and_can_be_rotated_and_revoked(
    env: dict[str, str], registry: Registry
) -> None:
    added = run(env, "admin", "platform", "add", "acme", "--lists", "adult", "--contact", "x@y.z")
    assert added.exit_code == 0, added.stderr
    first = added.stdout.strip()
    assert KEY.fullmatch(first)
    assert "cannot be shown again" in added.stderr
    assert registry.authenticate(first).lists == ("adult",)

    listed = run(env, "admin", "platform", "list")
    assert listed.stdout.splitlines() == ["acme\tadult\tactive"]
    assert first not in listed.stdout

    rotated = run(env, "admin", "platform", "rotate", "acme")
    second = rotated.stdout.strip()
    assert KEY.fullmatch(second)
    assert "cannot be shown again" in rotated.stderr

    assert run(env, "admin", "platform", "revoke", "acme", "--keep-latest").exit_code == 0
    assert registry.authenticate(second).name == "acme"
    with pytest.raises(AuthError):
        registry.authenticate(first)

    assert run(env, "admin", "platform", "revoke", "acme").exit_code == 0
    with pytest.raises(AuthError):
        registry.authenticate(second)
    assert run(env, "admin", "platform", "list").stdout.splitlines() == ["acme\tadult\trevoked"]


def test_refused_admin_actions_exit_1_and_bad_arguments_exit_2(env: dict[str, str]) -> None:
    assert run(env, "admin", "platform", "add", "acme").exit_code == 0

    duplicate = run(env, "admin", "platform", "add", "acme")
    unknown = run(env, "admin", "platform", "rotate", "nobody")
    bad_name = run(env, "admin", "platform", "add", "Acme Inc")
    bad_list = run(env, "admin", "platform", "add", "other", "--lists", "kids")

    assert (duplicate.exit_code, unknown.exit_code) == (1, 1)
    assert "exists already" in duplicate.stderr
    assert "no platform named 'nobody'" in unknown.stderr
    assert (bad_name.exit_code, bad_list.exit_code) == (2, 2)
    assert "lists[0]: expected one of minor, adult" in bad_list.stderr


def test_quarantine_can_be_listed_restored_and_confirmed(
    env: dict[str, str], registry: Registry
) -> None:
    rng = random.Random(80)
    a, b = (registry.add_platform(name, ["adult"])[0] for name in ("a", "b"))
    first, second = f.pdq(rng), f.pdq(rng)
    registry.create_case("adult", "en", [f.image(rng, [first, second])])
    for platform in (a, b):
        registry.submit_feedback(
            platform,
            [FeedbackIn("not_blocked", "pdq", first), FeedbackIn("not_blocked", "pdq", second)],
        )

    listed = run(env, "admin", "quarantine", "list")
    assert listed.exit_code == 0, listed.stderr
    assert sorted(line.split("\t")[1] for line in listed.stdout.splitlines()) == sorted(
        [first, second]
    )
    for line in listed.stdout.splitlines():
        _type, _value, _quality, _variant, state, _day, not_blocked_by = line.split("\t")
        assert (state, not_blocked_by) == ("quarantined", "2")

    assert run(env, "admin", "quarantine", "restore", "pdq", first).exit_code == 0
    assert run(env, "admin", "quarantine", "confirm", "pdq", second).exit_code == 0
    again = run(env, "admin", "quarantine", "restore", "pdq", first)

    assert again.exit_code == 1
    assert "no quarantined signal" in again.stderr
    assert [(q.value, q.state) for q in registry.quarantined()] == [(second, "confirmed")]
    assert run(env, "admin", "quarantine", "restore", "pdq", "XYZ").exit_code == 2
