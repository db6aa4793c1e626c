"""The `takedown` command line. Errors become messages and exit codes here, and only here."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from takedown.errors import TakedownError

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2

app = typer.Typer(
    name="takedown",
    help="Get intimate images removed from participating platforms; only hashes leave the device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Get intimate images removed from participating platforms; only hashes leave the device."""


def _expand(paths: list[Path]) -> Iterator[Path]:
    """Named files as given; directories walked in sorted order, media extensions only."""
    from takedown.hashing.fingerprint import MEDIA_EXTENSIONS

    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden and child.suffix.lower() in MEDIA_EXTENSIONS:
                    yield child
        else:
            yield path


@app.command("hash")
def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Photos, videos or directories (recursed).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file per line.")
    ] = False,
) -> None:
    """Fingerprint photos and videos on this machine; nothing is sent anywhere."""
    from takedown.hashing.fingerprint import fingerprint_file

    files = list(_expand(paths))
    if not files:
        typer.echo("takedown: no photos or videos found under the given paths.", err=True)
        raise typer.Exit(EXIT_USAGE)
    failed = 0
    progress = _progress("hashing", len(files))
    with progress:
        task = progress.add_task("hash", total=len(files))
        for path in files:
            try:
                record = {"path": str(path), **fingerprint_file(path).to_json()}
            except TakedownError as exc:
                failed += 1
                record = {"path": str(path), "error": exc.message, "code": exc.code}
            _print_record(record, as_json)
            progress.advance(task)
    if failed:
        typer.echo(f"takedown: {failed} of {len(files)} files could not be hashed.", err=True)
        raise typer.Exit(EXIT_SOME_FAILED)


def _progress(label: str, total: int) -> Progress:
    """A progress bar on stderr, shown only when there are at least two files."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=total < 2,
    )


def _print_record(record: dict[str, object], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    elif "error" in record:
        sys.stdout.write(f"{record['path']}\terror: {record['error']}\n")
    else:
        signals = record.get("signals") or []
        assert isinstance(signals, list)
        original = next((s for s in signals if s.get("variant") == "original"), None)
        if original is not None:
            detail = f"pdq {original['value']} quality {original['quality']}"
        else:
            frames = record.get("vpdq") or []
            assert isinstance(frames, list)
            detail = f"{len(frames)} vpdq frames"
        sys.stdout.write(
            f"{record['path']}\t{record['kind']}\tsha256 {record['sha256']}\t{detail}\n"
        )
    sys.stdout.flush()


@app.command("scan")
def scan_command(
    paths: Annotated[list[Path], typer.Argument(help="Photos, videos or directories (recursed).")],
    list_file: Annotated[
        Path,
        typer.Option("--list", help="Hash list: JSON Lines as printed by `takedown hash --json`."),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file per line.")
    ] = False,
) -> None:
    """Match photos and videos against a hash list, as a platform would; nothing is sent."""
    from takedown.hashing.fingerprint import query_fingerprint
    from takedown.matching.listfile import read_list
    from takedown.matching.scan import ListIndex

    try:
        index = ListIndex(read_list(list_file))
    except TakedownError as exc:
        typer.echo(f"takedown: cannot use the list: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    files = list(_expand(paths))
    if not files:
        typer.echo("takedown: no photos or videos found under the given paths.", err=True)
        raise typer.Exit(EXIT_USAGE)
    failed = 0
    progress = _progress("scanning", len(files))
    with progress:
        task = progress.add_task("scan", total=len(files))
        for path in files:
            record: dict[str, object]
            try:
                matches = index.match(query_fingerprint(path))
                record = {"path": str(path), "matches": [m.to_json() for m in matches]}
            except TakedownError as exc:
                failed += 1
                record = {"path": str(path), "error": exc.message, "code": exc.code}
            _print_scan_record(record, as_json)
            progress.advance(task)
    if failed:
        typer.echo(f"takedown: {failed} of {len(files)} files could not be scanned.", err=True)
        raise typer.Exit(EXIT_SOME_FAILED)


def _print_scan_record(record: dict[str, object], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    elif "error" in record:
        sys.stdout.write(f"{record['path']}\terror: {record['error']}\n")
    else:
        matches = record["matches"]
        assert isinstance(matches, list)
        if not matches:
            sys.stdout.write(f"{record['path']}\tno match\n")
        else:
            best = matches[0]
            listed = best.get("path", best.get("sha256"))
            detail = f"MATCH {listed} {best['type']} d={best['distance']}"
            if best["variant"] is not None:
                detail += f" {best['variant']}"
            if len(matches) > 1:
                detail += f" (+{len(matches) - 1} more)"
            sys.stdout.write(f"{record['path']}\t{detail}\n")
    sys.stdout.flush()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
