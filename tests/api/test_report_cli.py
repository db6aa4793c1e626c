"""`takedown report ...` end to end: the CLI, as a reporter runs it, against a real
`takedown serve` (real proof of work, default PIN hashing), and a platform's feed."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PHOTOS_DEV
from tests.serving import clean_env, start_serve, stop, takedown_command

PHOTOS = sorted(PHOTOS_DEV.glob("*.jpg"))[:3]


@dataclass(frozen=True)
class Registry:
    url: str
    cwd: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    cwd = tmp_path_factory.mktemp("registry")
    env = clean_env(TAKEDOWN_POW_DIFFICULTY_BITS="10")
    served = start_serve(cwd, env)
    try:
        yield Registry(served.url, cwd, env)
    finally:
        stop(served.process)


def report(
    registry: Registry, *args: str, pin: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = clean_env(**({"TAKEDOWN_PIN": pin} if pin else {}))
    return subprocess.run(
        takedown_command("report", *args, "--server", registry.url),
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cases(registry: Registry) -> int:
    counts = httpx.get(f"{registry.url}/v1/transparency", timeout=10).json()
    return sum(counts["active_cases"].values())


def test_report_check_add_and_withdraw_from_the_command_line(
    registry: Registry, tmp_path: Path
) -> None:
    key = subprocess.run(
        takedown_command("admin", "platform", "add", "cli-reader"),
        cwd=registry.cwd,
        env=registry.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    saved = tmp_path / "my-case.txt"

    made = report(
        registry, "new", "--age-group", "adult", "--save", str(saved), *map(str, PHOTOS[:2])
    )

    assert made.returncode == 0, made.stderr
    found = re.fullmatch(
        r"case number: (\w{4}-\w{4}-\w{4})\nPIN: (\d{10})\nfiles: 2\n", made.stdout
    )
    assert found, made.stdout
    number, pin = found.groups()
    assert "shown only once" in made.stderr
    assert saved.read_text().startswith(made.stdout)
    assert saved.stat().st_mode & 0o777 == 0o600

    status = report(registry, "status", number, pin=pin)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].startswith(f"case {number}: active, adult list")
    media_ids = [line.split("\t")[0] for line in lines[1:]]
    assert len(media_ids) == 2
    assert all("\timage\tpending\t" in line for line in lines[1:])

    added = report(registry, "add", number, str(PHOTOS[2]), pin=pin)
    assert added.returncode == 0, added.stderr
    assert len(added.stdout.split()) == 1

    one = report(registry, "withdraw", number, "--media", media_ids[0], "--pin", pin)
    assert one.returncode == 0, one.stderr
    # The PIN typed at the prompt (read from stdin when there is no terminal).
    everything = report(registry, "withdraw", number.lower(), stdin=f"{pin}\n")
    assert everything.returncode == 0, everything.stderr
    after = report(registry, "status", number, pin=pin)
    assert after.stdout.splitlines()[0].startswith(f"case {number}: withdrawn")

    events = httpx.get(
        f"{registry.url}/v1/feed", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).json()["events"]
    adds = {e["value"] for e in events if e["op"] == "add"}
    removes = {e["value"] for e in events if e["op"] == "remove"}
    assert len(adds) > 30  # each photo's fingerprint set
    assert adds == removes


def test_mistakes_get_a_clear_line_and_an_exit_code(registry: Registry, tmp_path: Path) -> None:
    before = cases(registry)
    not_media = tmp_path / "notes.jpg"
    not_media.write_bytes(b"this is not a photo")

    unreadable = report(registry, "new", "--age-group", "adult", str(PHOTOS[0]), str(not_media))
    assert unreadable.returncode == 2
    assert "notes.jpg" in unreadable.stderr
    assert "nothing was sent" in unreadable.stderr
    assert cases(registry) == before

    wrong_age = report(registry, "new", "--age-group", "teen", str(PHOTOS[0]))
    assert wrong_age.returncode == 2
    assert "--age-group must be minor or adult" in wrong_age.stderr

    bad_number = report(registry, "status", "ABC", pin="0123456789")
    assert bad_number.returncode == 2
    assert "is not a case number" in bad_number.stderr

    made = report(registry, "new", "--age-group", "minor", str(PHOTOS[0]))
    number = made.stdout.split()[2]
    pin = made.stdout.split()[4]
    wrong = "0000000000" if pin != "0000000000" else "1111111111"
    refused = report(registry, "status", number, pin=wrong)
    assert refused.returncode == 1
    assert refused.stderr.startswith("takedown: status: ")
    assert "Traceback" not in refused.stderr

    down = subprocess.run(
        takedown_command("report", "status", number, "--server", "http://127.0.0.1:9"),
        env=clean_env(TAKEDOWN_PIN=pin),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert down.returncode == 1
    assert "cannot reach the registry" in down.stderr
