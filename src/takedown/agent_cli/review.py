"""`takedown platform review ...`, `takedown platform feedback ...` and
`takedown platform review-web`: decide matches and send the verdicts to the registry."""

from __future__ import annotations

import getpass
import ipaddress
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from takedown.agent_cli import app
from takedown.agent_cli.store_options import DbUrl, StateDir
from takedown.cli_edge import EXIT_FAILED, edge
from takedown.errors import ConfigError, InputError
from takedown.platform.feed_client import KEY_ENV

TOKEN_ENV = "TAKEDOWN_REVIEWER_TOKEN"  # noqa: S105 (a variable name)
WEBHOOK_ENV = "TAKEDOWN_REVIEW_WEBHOOK"
WEBHOOK_SECRET_ENV = "TAKEDOWN_REVIEW_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
REVIEWER_ENV = "TAKEDOWN_REVIEWER"

review_app = typer.Typer(
    help="The review queue: list the matches and confirm or reject them.",
    no_args_is_help=True,
)
feedback_app = typer.Typer(
    help="Verdicts for the registry: send the outbox, see what is waiting or failed.",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")
app.add_typer(feedback_app, name="feedback")

# Options and arguments that several commands take, declared once.
_ItemIdArgument = Annotated[int, typer.Argument(help="The review item's id.")]
_ReviewerOption = Annotated[
    str | None,
    typer.Option(
        "--reviewer",
        envvar=REVIEWER_ENV,
        help="Who decides (recorded with the decision); default: your login name.",
    ),
]
_NoteOption = Annotated[str | None, typer.Option("--note", help="Why, for the record.")]
_ChangeOption = Annotated[
    bool, typer.Option("--change", help="Revise an item that was already decided.")
]
_WebhookSecretOption = Annotated[
    str | None,
    typer.Option("--webhook-secret", envvar=WEBHOOK_SECRET_ENV, help="Sign webhook bodies (HMAC)."),
]


def _webhook_option(help_text: str) -> Any:
    """`--webhook`: one name and variable, but each command says what it posts there."""
    return typer.Option("--webhook", envvar=WEBHOOK_ENV, help=help_text)


@review_app.callback()
def _review(ctx: typer.Context, state: StateDir = None, db: DbUrl = None) -> None:
    """The review queue: list the matches and confirm or reject them.

    `--state`/`--db` may come here (`review --state DIR list`) or after the command."""
    ctx.obj = {"state": state, "db": db}


@feedback_app.callback()
def _feedback(ctx: typer.Context, state: StateDir = None, db: DbUrl = None) -> None:
    """Verdicts for the registry: send the outbox, see what is waiting or failed."""
    ctx.obj = {"state": state, "db": db}


@contextmanager
def _store(ctx: typer.Context, state: Path | None, db: str | None) -> Iterator[Any]:
    from takedown.platform.store import open_store

    parent = ctx.obj if isinstance(ctx.obj, dict) else {}
    if state is None and db is None:
        state, db = parent.get("state"), parent.get("db")
    engine = open_store(state, db)
    try:
        yield engine
    finally:
        engine.dispose()


def _console() -> Console:
    return Console(soft_wrap=False, highlight=False)


@review_app.command("list")
def list_command(
    ctx: typer.Context,
    status: Annotated[
        str, typer.Option("--status", help="pending, confirmed, rejected or all.")
    ] = "pending",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Items per page.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Items to skip.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    state: StateDir = None,
    db: DbUrl = None,
) -> None:
    """The review items, oldest first (by default the pending ones)."""
    from takedown.platform import review

    with edge("cannot list the review queue"):
        if status not in ("pending", "confirmed", "rejected", "all"):
            raise InputError(
                f"--status must be pending, confirmed, rejected or all, not {status!r}"
            )
        with _store(ctx, state, db) as engine:
            wanted: Any = None if status == "all" else status
            items = review.list_items(engine, wanted, limit, offset)
            counts = review.count_items(engine)
    if as_json:
        for item in items:
            sys.stdout.write(json.dumps(_item_json(item), separators=(",", ":")) + "\n")
        return
    console = _console()
    table = Table(title=f"Review items ({status})", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True, justify="right")
    if status == "all":
        table.add_column("status", no_wrap=True)
    table.add_column("ref", overflow="fold", min_width=16, ratio=1)
    table.add_column("listed", no_wrap=True)
    table.add_column("dist", no_wrap=True, justify="right")
    table.add_column("variants", no_wrap=True)
    table.add_column("source", no_wrap=True)
    for item in items:
        cells = [str(item.id)]
        if status == "all":
            cells.append(item.status)
        cells += [
            item.ref,
            f"{item.list} {item.type}",
            str(item.distance),
            f"{item.query_variant}→{item.listed_variant}",
            item.source,
        ]
        table.add_row(*cells)
    console.print(table)
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    console.print(f"{len(items)} shown (offset {offset}); in all: {summary}.")


@review_app.command("show")
def show_command(
    ctx: typer.Context,
    item_id: _ItemIdArgument,
    state: StateDir = None,
    db: DbUrl = None,
) -> None:
    """Every detail of one review item, as JSON."""
    from takedown.platform import review

    with edge("cannot show the review item"), _store(ctx, state, db) as engine:
        item = review.get_item(engine, item_id)
    sys.stdout.write(json.dumps(_item_json(item), indent=2) + "\n")


def _decide(
    ctx: typer.Context,
    item_id: int,
    confirmed: bool,
    reviewer: str | None,
    note: str | None,
    change: bool,
    webhook: str | None,
    webhook_secret: str | None,
    state: Path | None,
    db: str | None,
) -> None:
    from takedown.platform import review
    from takedown.platform.outbox import RetryPolicy
    from takedown.platform.webhook import flush_webhooks

    verb = "confirm" if confirmed else "reject"
    with edge(f"cannot {verb} item {item_id}"), _store(ctx, state, db) as engine:
        item = review.decide(
            engine,
            item_id,
            confirmed,
            reviewer or _default_reviewer(),
            note,
            change=change,
            webhook_url=webhook if confirmed else None,
        )
        typer.echo(
            f"item {item.id} {item.status} by {item.decided_by}; the verdict goes to the "
            "registry with the next `takedown platform feedback send`.",
            err=True,
        )
        if confirmed and webhook:
            report = flush_webhooks(
                engine, secret=webhook_secret, policy=RetryPolicy(attempts=3, cap=5.0)
            )
            if not report.ok:
                problem = report.error or "; ".join(error for _, error in report.failed)
                typer.echo(
                    f"takedown: the webhook was not delivered yet ({problem}); "
                    "`takedown platform feedback send` retries it.",
                    err=True,
                )


@review_app.command("confirm")
def confirm_command(
    ctx: typer.Context,
    item_id: _ItemIdArgument,
    note: _NoteOption = None,
    reviewer: _ReviewerOption = None,
    change: _ChangeOption = False,
    webhook: Annotated[str | None, _webhook_option("POST the confirmation here (JSON).")] = None,
    webhook_secret: _WebhookSecretOption = None,
    state: StateDir = None,
    db: DbUrl = None,
) -> None:
    """The media is the listed image: remove it. Sends `blocked` to the registry."""
    _decide(ctx, item_id, True, reviewer, note, change, webhook, webhook_secret, state, db)


@review_app.command("reject")
def reject_command(
    ctx: typer.Context,
    item_id: _ItemIdArgument,
    note: _NoteOption = None,
    reviewer: _ReviewerOption = None,
    change: _ChangeOption = False,
    state: StateDir = None,
    db: DbUrl = None,
) -> None:
    """Not the listed image (a false match). Sends `not_blocked` if no copy was confirmed."""
    _decide(ctx, item_id, False, reviewer, note, change, None, None, state, db)


@feedback_app.command("send")
def send_command(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option("--server", help="The registry's base URL (default: the one synced from)."),
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", envvar=KEY_ENV, help="The platform's API key.")
    ] = None,
    webhook_secret: _WebhookSecretOption = None,
    state: StateDir = None,
    db: DbUrl = None,
) -> None:
    """Send every waiting verdict to the registry (and deliver queued webhook calls)."""
    from takedown.platform.feedback import flush_outbox, registry_client
    from takedown.platform.sync import sync_status
    from takedown.platform.webhook import flush_webhooks

    with edge("cannot send feedback"), _store(ctx, state, db) as engine:
        if server is None:
            synced = sync_status(engine)
            if synced is None:
                raise ConfigError("give --server URL: this local store was never synced")
            server = synced.server
        with registry_client(server, key) as client:
            report = flush_outbox(engine, client)
        hooks = flush_webhooks(engine, secret=webhook_secret)
    for failed in report.failed:
        typer.echo(
            f"takedown: verdict {failed.verdict} on {failed.type} {failed.value[:16]}… "
            f"refused: {failed.error}",
            err=True,
        )
    for row_id, error in hooks.failed:
        typer.echo(f"takedown: webhook call {row_id} refused: {error}", err=True)
    typer.echo(
        f"sent {report.sent} verdicts ({len(report.failed)} refused, {report.waiting} waiting); "
        f"{hooks.sent} webhook calls ({len(hooks.failed)} refused, {hooks.waiting} waiting).",
        err=True,
    )
    for stopped in (report.error, hooks.error):
        if stopped:
            typer.echo(f"takedown: {stopped}", err=True)
    if not (report.ok and hooks.ok):
        raise typer.Exit(EXIT_FAILED)


@feedback_app.command("status")
def status_command(
    ctx: typer.Context,
    state: StateDir = None,
    db: DbUrl = None,
) -> None:
    """How many verdicts wait, were sent or were refused (and which were refused)."""
    from takedown.platform.feedback import failed_rows, outbox_counts

    with edge("cannot read the feedback outbox"), _store(ctx, state, db) as engine:
        counts = outbox_counts(engine)
        failed = failed_rows(engine)
    console = _console()
    console.print(f"{counts.waiting} waiting, {counts.sent} sent, {counts.failed} refused.")
    if failed:
        table = Table(title="Refused by the registry", title_justify="left")
        for column in ("id", "verdict", "signal", "error"):
            table.add_column(column)
        for row in failed:
            table.add_row(str(row.id), row.verdict, f"{row.type} {row.value[:12]}…", row.error)
        console.print(table)
        console.print("After fixing the cause: takedown platform feedback retry-failed")


@feedback_app.command("retry-failed")
def retry_failed_command(
    ctx: typer.Context,
    state: StateDir = None,
    db: DbUrl = None,
) -> None:
    """Queue the refused verdicts again (after the cause was fixed)."""
    from takedown.platform.feedback import requeue_failed

    with edge("cannot requeue"), _store(ctx, state, db) as engine:
        count = requeue_failed(engine)
    typer.echo(f"{count} verdicts queued again.", err=True)


@app.command("review-web")
def review_web_command(
    state: StateDir = None,
    db: DbUrl = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar=TOKEN_ENV, help="Reviewers log in with this token."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8200,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Allow a non-loopback address (put TLS in front)."),
    ] = False,
    media_root: Annotated[
        Path | None,
        typer.Option("--media-root", help="Relative refs are files under this directory."),
    ] = None,
    webhook: Annotated[str | None, _webhook_option("POST each confirmation here.")] = None,
    webhook_secret: _WebhookSecretOption = None,
) -> None:
    """A small web page for reviewers: the platform's own media beside each match."""
    import uvicorn

    from takedown.platform.reviewweb import ReviewWebConfig, create_app
    from takedown.platform.store import open_store

    with edge("cannot start the reviewer page"):
        _check_host(host, allow_remote)
        config = ReviewWebConfig(
            token=token or "",
            media_root=media_root,
            webhook_url=webhook,
            webhook_secret=webhook_secret,
        )
        engine = open_store(state, db)
    try:
        with edge("cannot start the reviewer page"):
            web = create_app(engine, config)
        typer.echo(f"reviewer page on http://{_url_host(host)}:{port}/ (log in with the token)")
        uvicorn.run(web, host=host, port=port, log_level="warning", access_log=False)
    finally:
        engine.dispose()


def _check_host(host: str, allow_remote: bool) -> None:
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"--host must be an IP address or localhost, not {host!r}") from None
    if not address.is_loopback and not allow_remote:
        raise ConfigError(
            f"--host {host} is reachable from other machines; the page shows intimate images: "
            "keep it on 127.0.0.1, or pass --allow-remote behind TLS and access control"
        )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "unknown"


def _item_json(item: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "ref": item.ref,
        "list": item.list,
        "type": item.type,
        "value": item.value,
        "query_variant": item.query_variant,
        "listed_variant": item.listed_variant,
        "distance": item.distance,
        "status": item.status,
        "source": item.source,
        "created_at": item.created_at.isoformat(),
        "decided_at": None if item.decided_at is None else item.decided_at.isoformat(),
        "decided_by": item.decided_by,
        "note": item.note,
    }
