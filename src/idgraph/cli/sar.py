"""CLI commands for subject-access requests: open, list, close (all audited).

Thin shells over :mod:`idgraph.app.admin`; no decision and no SQL here.
"""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from idgraph.app import admin
from idgraph.app.errors import AppError
from idgraph.cli.access import cli_caller
from idgraph.cli.common import console, fail
from idgraph.cli.shell import app_exit, env_of

sar_app = typer.Typer(help="Subject-access requests: what a subject_access read answers.")

AS = typer.Option(..., "--as", help="Act as this user.")


@sar_app.command("open")
def sar_open(
    ctx: typer.Context,
    identity_id: str,
    case_id: str = typer.Option(..., "--case", help="An open subject_access case."),
    requester: str = typer.Option(
        ..., "--requester", help="Who asked and how their identity was checked."
    ),
    received: datetime = typer.Option(..., "--received", formats=["%Y-%m-%d"]),
    actor: str = AS,
) -> None:
    """Register a person's request to see what is held about them; prints its id."""
    with env_of(ctx) as env:
        try:
            sar = admin.open_sar(
                env,
                cli_caller(actor),
                identity_id,
                case_id=case_id,
                requester=requester,
                received=received.date(),
            )
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(sar.sar_id)


@sar_app.command("list")
def sar_list(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="open | closed"),
    actor: str = AS,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the requests of your organisation (audited)."""
    if status not in (None, "open", "closed"):
        raise fail(f"--status {status!r}: one of open, closed")
    with env_of(ctx) as env:
        try:
            items = admin.list_sars(env, cli_caller(actor), status=status)
        except AppError as exc:
            raise app_exit(exc) from exc
    if as_json:
        console.print_json(json.dumps([s.to_dict() for s in items]))
        return
    table = Table(title="subject-access requests")
    for col in ("request", "identity", "case", "received", "status", "opened by"):
        table.add_column(col, overflow="fold")
    for s in items:
        table.add_row(*(Text(v) for v in (
            s.sar_id, s.identity_id, s.case_id, s.received.isoformat(), s.status, s.opened_by
        )))
    console.print(table)


@sar_app.command("close")
def sar_close(ctx: typer.Context, sar_id: str, actor: str = AS) -> None:
    """Close a request: subject_access reads under it end."""
    with env_of(ctx) as env:
        try:
            admin.close_sar(env, cli_caller(actor), sar_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"closed {sar_id}"))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.add_typer(sar_app, name="sar")
