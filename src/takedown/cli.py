"""The `takedown` command line. Errors become messages and exit codes in the commands (the codes
and `edge` are in `cli_edge`), never below them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from takedown import agent_cli, report_cli
from takedown.cli_edge import EXIT_FAILED, EXIT_USAGE
from takedown.errors import TakedownError

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
    """Named files as given; directories walked (`fingerprint.media_files`)."""
    from takedown.hashing.fingerprint import media_files

    return media_files(paths)


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
        raise typer.Exit(EXIT_FAILED)


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
        Path | None,
        typer.Option("--list", help="Hash list: JSON Lines as printed by `takedown hash --json`."),
    ] = None,
    snapshot: Annotated[
        Path | None,
        typer.Option("--snapshot", help="A saved `/v1/feed/snapshot` export (NDJSON)."),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option("--state", help="The platform agent's local store (`platform sync`)."),
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="The agent's local store in PostgreSQL, by URL.")
    ] = None,
    review: Annotated[
        bool,
        typer.Option(help="Record matches against --state/--db as review items."),
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file per line.")
    ] = False,
) -> None:
    """Match photos and videos against a hash list, a snapshot export or the platform agent's
    synced local store, as a platform would; nothing is sent."""
    from takedown.agent_cli.scan import open_scanner
    from takedown.hashing.fingerprint import query_fingerprint

    try:
        scanner = open_scanner(list_file, snapshot, state, db, review=review)
    except TakedownError as exc:
        typer.echo(f"takedown: cannot use the list: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    files = list(_expand(paths))
    if not files:
        scanner.close()
        typer.echo("takedown: no photos or videos found under the given paths.", err=True)
        raise typer.Exit(EXIT_USAGE)
    failed = 0
    progress = _progress("scanning", len(files))
    with progress:
        task = progress.add_task("scan", total=len(files))
        for path in files:
            record: dict[str, object]
            try:
                matches = scanner.match(path, query_fingerprint(path))
                record = {"path": str(path), "matches": matches}
            except TakedownError as exc:
                failed += 1
                record = {"path": str(path), "error": exc.message, "code": exc.code}
            _print_scan_record(record, as_json)
            progress.advance(task)
    scanner.close()
    if failed:
        typer.echo(f"takedown: {failed} of {len(files)} files could not be scanned.", err=True)
        raise typer.Exit(EXIT_FAILED)


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
            if "list" in best:  # matched against synced lists: no path, the list names it
                listed = f"{best['list']}:{best['value']}"
            detail = f"MATCH {listed} {best['type']} d={best['distance']}"
            if best["variant"] is not None:
                detail += f" {best['variant']}"
            if len(matches) > 1:
                detail += f" (+{len(matches) - 1} more)"
            sys.stdout.write(f"{record['path']}\t{detail}\n")
    sys.stdout.flush()


@app.command("serve")
def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on (a reverse proxy in front for TLS).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
) -> None:
    """Run the registry's HTTP API (migrates the database first). Configured by TAKEDOWN_*
    variables; with none set, the data lives in SQLite under ./data. Keeps no IP addresses."""
    from takedown.api.server import serve
    from takedown.registry.ratelimit import Limits
    from takedown.registry.settings import Settings

    try:
        settings = Settings.from_env()
        limits = Limits.from_env()
        serve(settings, host, port, limits)
    except TakedownError as exc:
        typer.echo(f"takedown: cannot serve: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


db_app = typer.Typer(
    help="The registry database (TAKEDOWN_DATABASE_URL, default SQLite in TAKEDOWN_DATA_DIR).",
    no_args_is_help=True,
)
admin_app = typer.Typer(
    help="Operate the registry: platforms and their keys, quarantined signals.",
    no_args_is_help=True,
)
platform_app = typer.Typer(help="Platforms that read the lists, and their API keys.")
quarantine_app = typer.Typer(help="Signals held out of the feed after platforms disputed them.")
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
admin_app.add_typer(platform_app, name="platform", no_args_is_help=True)
admin_app.add_typer(quarantine_app, name="quarantine", no_args_is_help=True)
app.add_typer(agent_cli.app, name="platform")
app.add_typer(report_cli.app, name="report")

_KEY_WARNING = "Store this API key now: it is shown only once and cannot be shown again."


def _admin_error(exc: TakedownError) -> typer.Exit:
    """Print the error; usage and configuration problems exit 2, refused actions 1."""
    from takedown.errors import ConfigError, InputError

    typer.echo(f"takedown: {exc}", err=True)
    return typer.Exit(EXIT_USAGE if isinstance(exc, InputError | ConfigError) else 1)


@db_app.command("upgrade")
def db_upgrade_command() -> None:
    """Create or migrate the database to the newest schema (the server does this at start)."""
    from sqlalchemy.engine import make_url

    from takedown.registry.settings import Settings
    from takedown.store.migrate import upgrade

    try:
        settings = Settings.from_env()
        revision = upgrade(settings.database_url)
    except TakedownError as exc:
        raise _admin_error(exc) from None
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    typer.echo(f"database {shown} is at revision {revision}")


@platform_app.command("add")
def platform_add_command(
    name: Annotated[str, typer.Argument(help="Short name: a-z, 0-9, '.', '_', '-'.")],
    lists: Annotated[
        str, typer.Option(help="Lists it may read, comma-separated: minor, adult.")
    ] = "minor,adult",
    contact: Annotated[str | None, typer.Option(help="Who to contact at the platform.")] = None,
) -> None:
    """Add a platform and print its first API key (once)."""
    from takedown.registry.service import open_migrated
    from takedown.registry.settings import Settings

    try:
        with open_migrated(Settings.from_env()) as registry:
            names = [part.strip() for part in lists.split(",") if part.strip()]
            added, key = registry.add_platform(name, names, contact)
    except TakedownError as exc:
        raise _admin_error(exc) from None
    typer.echo(f"platform {added.name} added (lists: {', '.join(added.lists)}).", err=True)
    typer.echo(_KEY_WARNING, err=True)
    typer.echo(key)


@platform_app.command("list")
def platform_list_command() -> None:
    """Every platform: name, lists, status."""
    from takedown.registry.service import open_migrated
    from takedown.registry.settings import Settings

    try:
        with open_migrated(Settings.from_env()) as registry:
            platforms = registry.platforms()
    except TakedownError as exc:
        raise _admin_error(exc) from None
    for each in platforms:
        typer.echo(f"{each.name}\t{','.join(each.lists)}\t{each.status}")


@platform_app.command("rotate")
def platform_rotate_command(
    name: Annotated[str, typer.Argument(help="The platform.")],
) -> None:
    """Issue a new API key; older keys work until `revoke NAME --keep-latest`."""
    from takedown.registry.service import open_migrated
    from takedown.registry.settings import Settings

    try:
        with open_migrated(Settings.from_env()) as registry:
            key = registry.rotate_key(name)
    except TakedownError as exc:
        raise _admin_error(exc) from None
    typer.echo(f"new key for {name}; revoke the old ones with", err=True)
    typer.echo(f"  takedown admin platform revoke {name} --keep-latest", err=True)
    typer.echo(_KEY_WARNING, err=True)
    typer.echo(key)


@platform_app.command("revoke")
def platform_revoke_command(
    name: Annotated[str, typer.Argument(help="The platform.")],
    keep_latest: Annotated[
        bool,
        typer.Option("--keep-latest", help="Revoke only the older keys, keep the newest."),
    ] = False,
) -> None:
    """Revoke a platform and all its keys (or, with --keep-latest, its older keys)."""
    from takedown.registry.service import open_migrated
    from takedown.registry.settings import Settings

    try:
        with open_migrated(Settings.from_env()) as registry:
            registry.revoke(name, keep_latest=keep_latest)
    except TakedownError as exc:
        raise _admin_error(exc) from None
    done = "older keys revoked" if keep_latest else "platform and all its keys revoked"
    typer.echo(f"{name}: {done}.")


@quarantine_app.command("list")
def quarantine_list_command() -> None:
    """Quarantined signals (awaiting review first): type, value, quality, variant, state, day,
    platforms saying `not_blocked`."""
    from takedown.registry.service import open_migrated
    from takedown.registry.settings import Settings

    try:
        with open_migrated(Settings.from_env()) as registry:
            held = registry.quarantined()
    except TakedownError as exc:
        raise _admin_error(exc) from None
    for item in held:
        typer.echo(
            f"{item.type}\t{item.value}\t{item.quality}\t{item.variant}\t{item.state}\t"
            f"{item.day.isoformat()}\t{item.not_blocked_by}"
        )


@quarantine_app.command("restore")
def quarantine_restore_command(
    type_: Annotated[str, typer.Argument(metavar="TYPE", help="pdq or md5.")],
    value: Annotated[str, typer.Argument(help="The hash, lowercase hex.")],
) -> None:
    """Put a quarantined signal back in the feed."""
    from takedown.registry.service import open_migrated
    from takedown.registry.settings import Settings

    try:
        with open_migrated(Settings.from_env()) as registry:
            registry.restore(type_, value)
    except TakedownError as exc:
        raise _admin_error(exc) from None
    typer.echo(f"{type_}:{value} restored.")


@quarantine_app.command("confirm")
def quarantine_confirm_command(
    type_: Annotated[str, typer.Argument(metavar="TYPE", help="pdq or md5.")],
    value: Annotated[str, typer.Argument(help="The hash, lowercase hex.")],
) -> None:
    """Keep a quarantined signal out of the feed for good."""
    from takedown.registry.service import open_migrated
    from takedown.registry.settings import Settings

    try:
        with open_migrated(Settings.from_env()) as registry:
            registry.confirm(type_, value)
    except TakedownError as exc:
        raise _admin_error(exc) from None
    typer.echo(f"{type_}:{value} confirmed: it stays out of the feed.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
