"""`takedown report ...`: the reporter's command line, the same flow as the reporting page.

    takedown report new --server URL --age-group minor|adult PATH...
    takedown report status --server URL CASE-NUMBER
    takedown report add --server URL CASE-NUMBER PATH...
    takedown report withdraw --server URL CASE-NUMBER [--media MEDIA-ID]

The files are fingerprinted on this machine (`takedown hash`); only the fingerprints are sent
(`report_client`). The PIN is asked for without echo unless `--pin` or TAKEDOWN_PIN gives it;
`new` prints the case number and PIN once, and `--save FILE` also writes them to a new file
only the user can read. Our errors become one line on stderr and an exit code here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from takedown.cli_edge import edge
from takedown.errors import InputError, TakedownError

if TYPE_CHECKING:
    from takedown.report_client import ReporterClient

__all__ = ["app"]

SERVER_ENV = "TAKEDOWN_SERVER"
PIN_ENV = "TAKEDOWN_PIN"

app = typer.Typer(
    help="Report your photos and videos to a registry: only their fingerprints leave this "
    "machine. Then check, add to or withdraw the case with its number and PIN.",
    no_args_is_help=True,
)

ServerOption = Annotated[
    str,
    typer.Option("--server", envvar=SERVER_ENV, help="The registry's URL, e.g. https://..."),
]
PinOption = Annotated[
    str | None,
    typer.Option(
        "--pin", envvar=PIN_ENV, help="The case's PIN (asked for, without echo, if not given)."
    ),
]
CaseArgument = Annotated[str, typer.Argument(help="The case number, e.g. K7QM-93TX-RW4P.")]
PathsArgument = Annotated[
    list[Path], typer.Argument(help="Photos, videos or directories (recursed).")
]


def _fingerprints(paths: list[Path]) -> list[dict[str, Any]]:
    """Every file's fingerprints as the registry takes them; InputError naming the first file
    that cannot be fingerprinted (nothing is sent then)."""
    from takedown.hashing.fingerprint import fingerprint_file, media_files
    from takedown.report_client import report_media

    files = list(media_files(paths))
    if not files:
        raise InputError("no photos or videos found under the given paths")
    media = []
    progress = Progress(
        TextColumn("fingerprinting on this machine"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=len(files) < 2,
    )
    with progress:
        task = progress.add_task("hash", total=len(files))
        for path in files:
            try:
                media.append(report_media(fingerprint_file(path)))
            except TakedownError as exc:
                raise InputError(f"{path}: {exc.message} (nothing was sent)") from None
            progress.advance(task)
    return media


def _ask_pin(pin: str | None) -> str:
    if pin is not None:
        return pin
    answer: str = typer.prompt("PIN", hide_input=True)
    return answer


def _client(server: str) -> ReporterClient:
    from takedown.report_client import ReporterClient

    return ReporterClient(server)


@app.command("new")
def new_command(
    paths: PathsArgument,
    server: ServerOption,
    age_group: Annotated[
        str,
        typer.Option(
            "--age-group",
            help="minor: the person shown was under 18 when it was made; adult: 18 or over.",
        ),
    ],
    language: Annotated[
        str, typer.Option("--language", help="Language for messages about the case.")
    ] = "en",
    save: Annotated[
        Path | None,
        typer.Option("--save", help="Also write the case number and PIN to this new file."),
    ] = None,
) -> None:
    """Make a case from photos and videos on this machine (only fingerprints are sent)."""
    with edge("report"):
        if age_group not in ("minor", "adult"):
            raise InputError("--age-group must be minor or adult")
        if save is not None and save.exists():
            raise InputError(f"--save {save}: the file exists; name a new one")
        media = _fingerprints(paths)
        with _client(server) as client:
            case = client.create_case(age_group, language, media)
        text = f"case number: {case.case_number}\nPIN: {case.pin}\nfiles: {len(case.media_ids)}\n"
        typer.echo(text, nl=False)
        typer.echo(
            "Keep the case number and PIN: they are shown only once and cannot be recovered. "
            "You need both to check, add to or withdraw the case.",
            err=True,
        )
        if save is not None:
            _save(save, f"{text}registry: {server}\n")


def _save(path: Path, text: str) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise InputError(f"--save {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)


@app.command("status")
def status_command(case_number: CaseArgument, server: ServerOption, pin: PinOption = None) -> None:
    """What the participating platforms have done about each file of the case."""
    with edge("status"), _client(server) as client:
        state = client.status(case_number, _ask_pin(pin))
        typer.echo(
            f"case {state.case_number}: {state.status}, {state.age_group} list, "
            f"reported {state.created}"
        )
        for item in state.media:
            typer.echo(
                f"{item.media_id}\t{item.kind}\t{item.status}\t"
                f"seen by {item.seen_by}, removed by {item.removed_by} platforms"
            )


@app.command("add")
def add_command(
    case_number: CaseArgument, paths: PathsArgument, server: ServerOption, pin: PinOption = None
) -> None:
    """Add photos and videos to an active case (only fingerprints are sent)."""
    with edge("add"):
        media = _fingerprints(paths)
        with _client(server) as client:
            ids = client.add_media(case_number, _ask_pin(pin), media)
        for media_id in ids:
            typer.echo(media_id)


@app.command("withdraw")
def withdraw_command(
    case_number: CaseArgument,
    server: ServerOption,
    pin: PinOption = None,
    media_id: Annotated[
        str | None, typer.Option("--media", help="Withdraw only this file (its media id).")
    ] = None,
) -> None:
    """Take the case's fingerprints off the lists (or one file's): platforms drop them."""
    with edge("withdraw"), _client(server) as client:
        client.withdraw(case_number, _ask_pin(pin), media_id)
        typer.echo("withdrawn" if media_id is None else f"{media_id} withdrawn")
