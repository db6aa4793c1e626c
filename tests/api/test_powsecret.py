"""The proof-of-work secret every server process shares: from the environment or a 0600 file."""

from __future__ import annotations

import stat
from pathlib import Path

from takedown.api.powsecret import FILE_NAME, pow_secret
from takedown.registry.pow import ProofOfWork
from takedown.registry.settings import Settings


def test_the_secret_is_made_once_with_mode_0600_and_then_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")

    first = pow_secret(settings, {})
    second = pow_secret(settings, {})

    path = tmp_path / "data" / FILE_NAME
    assert first == second
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_environment_variable_wins_over_the_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    from_env = pow_secret(settings, {"TAKEDOWN_POW_SECRET": "correct horse"})

    assert from_env == pow_secret(settings, {"TAKEDOWN_POW_SECRET": "correct horse"})
    assert from_env != pow_secret(settings, {})
    assert not (tmp_path / FILE_NAME).exists() or from_env != (tmp_path / FILE_NAME).read_bytes()


def test_a_challenge_from_one_process_verifies_in_another(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    issuer = ProofOfWork(pow_secret(settings, {}), 0)
    checker = ProofOfWork(pow_secret(settings, {}), 0)

    challenge = issuer.issue()["challenge"]

    checker.verify(challenge, "0")  # raises if the signature does not match
