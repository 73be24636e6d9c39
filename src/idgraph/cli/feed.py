"""``idgraph feed``: live feeds. ``feed token SOURCE --as ADMIN`` mints a feed token (the
HTTP push's credential, printed once); ``feed watch SOURCE DIR`` polls a folder and
pushes every file dropped into it (JSON lines) as one push, then moves it to
``DIR/done`` (every line stored or already stored) or ``DIR/failed`` (a line
quarantined, or the file refused) with a ``.receipt.json`` beside it naming each line's
outcome; ``feed status SOURCE`` prints the feed's throughput, quarantine, lag and last
error. Thin shell over :mod:`idgraph.app.feeds`.

A file is moved only after its push committed: a crash in between pushes it again, and
its lines are then answered ``duplicate`` (stored once)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.markup import escape

from idgraph.app import feeds, watches
from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Denied, Unauthenticated
from idgraph.cli.common import console, err_console, fail
from idgraph.cli.shell import AS_OPERATOR, app_exit, data_caller, env_of

feed_app = typer.Typer(help="Live feeds: feed tokens, a watched folder, feed status.")

DONE, FAILED = "done", "failed"
SKIP_SUFFIXES = (".tmp", ".part", ".partial", ".receipt.json")


@feed_app.command("token")
def token_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="The source the token may push to."),
    actor: str = typer.Option(..., "--as", help="Act as this user (an admin)."),
    days: int = typer.Option(30, "--days", help="Days until it expires (1-366)."),
) -> None:
    """Mint a feed token for SOURCE and print it once (stdout)."""
    with env_of(ctx) as env:
        try:
            bearer = feeds.create_token(env, Caller(actor=actor, via="cli"), source, days=days)
        except AppError as exc:
            raise app_exit(exc) from exc
    err_console.print(escape(f"feed token for {source}, {days} days; shown once: send it as "
                             "'Authorization: Bearer <token>' to POST /api/v1/feeds/"
                             f"{source}"))
    typer.echo(bearer)


@feed_app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    token_id: str = typer.Argument(..., help="The token's id (idgf_<id>_...)."),
    actor: str = typer.Option(..., "--as", help="Act as this user (an admin)."),
) -> None:
    """Revoke a feed token at once."""
    with env_of(ctx) as env:
        try:
            feeds.revoke_token(env, Caller(actor=actor, via="cli"), token_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"revoked feed token {token_id}"), highlight=False)


@feed_app.command("status")
def status_command(
    ctx: typer.Context,
    source: str = typer.Argument(...),
    actor: str | None = AS_OPERATOR,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A live source's records/s (last minute), totals, pending placements, lag, last error."""
    with env_of(ctx) as env:
        try:
            st = feeds.feed_status(env, data_caller(actor), source)
        except AppError as exc:
            raise app_exit(exc) from exc
    doc = {k: getattr(st, k) for k in st.__slots__}
    if as_json:
        typer.echo(json.dumps(doc, default=str))
        return
    for k, v in doc.items():
        console.print(escape(f"{k}: {v}"), highlight=False)


def _ready(folder: Path, settle: float) -> list[Path]:
    now = time.time()
    out = []
    for p in sorted(folder.iterdir()):
        if (not p.is_file() or p.name.startswith(".") or p.name.endswith(SKIP_SUFFIXES)
                or now - p.stat().st_mtime < settle):
            continue
        out.append(p)
    return out


def _move(path: Path, to: Path) -> Path:
    to.mkdir(exist_ok=True)
    dest = to / path.name
    n = 1
    while dest.exists():
        dest = to / f"{path.stem}.{n}{path.suffix}"
        n += 1
    path.replace(dest)
    return dest


def _receipt_doc(r: feeds.FeedReceipt) -> dict[str, object]:
    return {"push_id": r.push_id, "batch_id": r.batch_id, "stored": r.stored,
            "duplicate": r.duplicate, "quarantined": r.quarantined, "placed": r.placed,
            "place_error": r.place_error,
            "lines": [{"line": x.line, "status": x.status,
                       "source_record_id": x.source_record_id, "reasons": list(x.reasons)}
                      for x in r.lines]}


def push_file(env: Env, caller: Caller, source: str, path: Path) -> tuple[str, Path]:
    """Push one file; move it to done/ or failed/ (with its receipt); (outcome, new path)."""
    folder = path.parent
    try:
        receipt = feeds.push_local(env, caller, source, path.read_bytes())
    except (Denied, Unauthenticated):
        raise
    except AppError as exc:
        dest = _move(path, folder / FAILED)
        dest.with_name(dest.name + ".receipt.json").write_text(
            json.dumps({"error": str(exc)}, indent=1))
        return FAILED, dest
    outcome = FAILED if receipt.quarantined else DONE
    dest = _move(path, folder / outcome)
    dest.with_name(dest.name + ".receipt.json").write_text(
        json.dumps(_receipt_doc(receipt), indent=1, default=str))
    return outcome, dest


@feed_app.command("watch")
def watch_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="The live source the files are for."),
    folder: Path = typer.Argument(..., help="The folder to watch (done/ and failed/ inside)."),
    actor: str | None = AS_OPERATOR,
    interval: float = typer.Option(1.0, "--interval", min=0.05, help="Seconds between polls."),
    settle: float = typer.Option(
        1.0, "--settle", min=0.0,
        help="Take a file only when unmodified for this many seconds (still being written)."),
    once: bool = typer.Option(False, "--once", help="Push the files there now, then stop."),
) -> None:
    """Poll FOLDER: push each file (JSON lines) to SOURCE, then move it to done/ or failed/."""
    if not folder.is_dir():
        raise fail(f"{folder} is not a folder")
    caller = data_caller(actor)
    watches.listen()  # each file's records are tested against the watches
    with env_of(ctx) as env:
        try:
            while True:
                for path in _ready(folder, settle):
                    try:
                        outcome, dest = push_file(env, caller, source, path)
                    except AppError as exc:
                        raise app_exit(exc) from exc
                    console.print(escape(f"{outcome}: {path.name} -> {dest}"), highlight=False)
                if once:
                    return
                time.sleep(interval)
        except KeyboardInterrupt:
            err_console.print("stopped")


def register(app: typer.Typer) -> None:
    app.add_typer(feed_app, name="feed")
