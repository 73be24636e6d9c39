"""CLI: ``idgraph quarantine`` lists quarantine rows so a data steward never needs SQL.

Every input row that did not become a record, and every value dropped from a row that
did, is a quarantine row naming the file, the line, the record id, the field, the value
and the reason. Two kinds (see :data:`KIND_SQL`):

- ``row``: the whole row was not stored (unreadable, no record id, a duplicate record id,
  retired under the retention policy, an unknown origin jurisdiction);
- ``field``: one value was dropped (it did not normalise); the row is a record.
"""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.table import Table

from idgraph.cli.common import console, err_console, fail, printable, store_of

# Ingest writes each quarantine row's kind; rows from stores made before the column
# existed are told apart by how ingest wrote them: a row-level quarantine either names no
# field (a reader error, a row retired under retention) or says why the row was not stored.
KIND_SQL = """coalesce(kind, CASE WHEN field IS NULL
        OR reason LIKE 'missing record id%'
        OR reason LIKE 'duplicate record id%'
        OR reason LIKE '%row not stored%'
    THEN 'row' ELSE 'field' END)"""

TABLE_VALUE_CHARS = 40  # longer values are cut in the table (--json has them whole)
KEYS = ("source", "batch", "file", "line", "record_id", "field", "value", "reason", "kind")
MAX_LIMIT = 2**62  # --limit beyond any table (DuckDB's LIMIT is a BIGINT)
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
) -> None:
    """List quarantine rows: file, line, record id, field, value and reason."""
    where = "WHERE (?::VARCHAR IS NULL OR source_id = ?) AND (?::VARCHAR IS NULL OR batch_id = ?)"
    params = [source, source, batch, batch]
    with store_of(ctx) as store:
        if not store.scalar("SELECT count(*) FROM sources"):
            raise fail("no sources yet: run `idgraph ingest PATH` first")
        if source is not None and not store.scalar(
                "SELECT count(*) FROM sources WHERE source_id = ?", [source]):
            raise fail(f"no source {source!r} (see `idgraph sources`)")
        if batch is not None and not store.scalar(
                "SELECT count(*) FROM batches WHERE batch_id = ?", [batch]):
            raise fail(f"no batch {batch!r} (see `idgraph sources --json`)")
        totals = store.fetchone(
            f"SELECT count(*), count(*) FILTER (WHERE {KIND_SQL} = 'row') FROM quarantine "
            + where, params)
        rows = store.fetchall(
            f"""SELECT source_id, batch_id, source_file, source_line, source_record_id,
                field, value, reason, {KIND_SQL} FROM quarantine {where}
            ORDER BY source_file, source_line NULLS FIRST, batch_id, field NULLS FIRST, reason
            {'LIMIT ' + str(min(int(limit), MAX_LIMIT)) if limit else ''}""", params)
    assert totals is not None
    total, whole_rows = int(totals[0]), int(totals[1])
    cut = f"showing the first {len(rows):,} of {total:,} (--limit 0 for all)"
    if as_json:
        for r in rows:
            typer.echo(json_line(dict(zip(KEYS, r, strict=True))))
        if len(rows) < total:
            err_console.print(cut, markup=False, highlight=False)
        return
    if rows:
        t = Table(title="quarantine")
        for col in ("file", "line", "record id", "field", "value", "reason", "kind"):
            t.add_column(col, overflow="fold", justify="right" if col == "line" else "left")
        if source is None:
            t.add_column("source", overflow="fold")
        for src, _b, file, line, rid, field, value, reason, kind in rows:
            cells = [escape(printable(c)) for c in (file or "", "" if line is None else str(line),
                     rid or "", field or "", shown(value), reason or "", kind)]
            t.add_row(*cells, *([escape(src)] if source is None else []))
        console.print(t)
    console.print(
        f"{total:,} quarantine rows: {whole_rows:,} rows not stored, "
        f"{total - whole_rows:,} values dropped from stored rows"
        + (f"; {cut}" if len(rows) < total else ""), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("quarantine")(quarantine_command)
