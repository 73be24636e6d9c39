"""CLI: ``idgraph quarantine`` lists quarantine rows so a data steward never needs SQL.

Every input row that did not become a record, and every value dropped from a row that
did, is a quarantine row naming the file, the line, the record id, the field, the value
and the reason (kinds ``row`` and ``field``: see :mod:`idgraph.sources.listing`).
"""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.table import Table

from idgraph.app import data as app_data
from idgraph.app.errors import AppError
from idgraph.cli.common import console, err_console, printable
from idgraph.cli.shell import AS_OPERATOR, app_exit, data_caller, env_of

TABLE_VALUE_CHARS = 40  # longer values are cut in the table (--json has them whole)
# json.dumps leaves these raw; str.splitlines() (and some JSON-lines readers) breaks a
# line at each of them, so a value holding one would cut its JSON line in two.
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def json_line(row: dict[str, object]) -> str:
    """One quarantine row as one JSON line, whatever line breaks its values hold."""
    text = json.dumps(row, ensure_ascii=False, default=str)
    for raw, esc in _LINE_BREAKS.items():
        text = text.replace(raw, esc)
    return text


def shown(value: str | None, limit: int = TABLE_VALUE_CHARS) -> str:
    """A value as the table shows it: quoted like a Python string (control characters,
    NUL bytes and newlines visible, never acted on), cut at ``limit`` characters."""
    if value is None:
        return ""
    text = value if len(value) <= limit else value[:limit]
    out = repr(text)
    if len(value) > limit:
        out += f"… ({len(value):,} chars)"
    return out


def quarantine_command(
    ctx: typer.Context,
    source: str | None = typer.Option(None, "--source", help="Only this source."),
    batch: str | None = typer.Option(None, "--batch", help="Only this batch (see sources --json)."),
    limit: int = typer.Option(100, "--limit", min=0, help="Show at most N rows (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines, values whole."),
    actor: str | None = AS_OPERATOR,
) -> None:
    """List quarantine rows: file, line, record id, field, value and reason."""
    with env_of(ctx) as env:
        try:
            listing = app_data.quarantine(env, data_caller(actor), source=source, batch=batch,
                                          limit=limit)
        except AppError as exc:
            raise app_exit(exc) from exc
    rows, total, whole_rows = listing.rows, listing.total, listing.whole_rows
    cut = f"showing the first {len(rows):,} of {total:,} (--limit 0 for all)"
    if as_json:
        for r in rows:
            typer.echo(json_line(r.as_dict()))
        if len(rows) < total:
            err_console.print(cut, markup=False, highlight=False)
        return
    if rows:
        t = Table(title="quarantine")
        for col in ("file", "line", "record id", "field", "value", "reason", "kind"):
            t.add_column(col, overflow="fold", justify="right" if col == "line" else "left")
        if source is None:
            t.add_column("source", overflow="fold")
        for r in rows:
            cells = [escape(printable(c)) for c in (
                r.file or "", "" if r.line is None else str(r.line), r.record_id or "",
                r.field or "", shown(r.value), r.reason or "", r.kind)]
            t.add_row(*cells, *([escape(r.source)] if source is None else []))
        console.print(t)
    console.print(
        f"{total:,} quarantine rows: {whole_rows:,} rows not stored, "
        f"{total - whole_rows:,} values dropped from stored rows"
        + (f"; {cut}" if len(rows) < total else ""), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("quarantine")(quarantine_command)
