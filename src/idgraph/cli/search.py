"""CLI commands for finding people: ``search``, ``associates`` and ``match``.

Thin shells over :mod:`idgraph.app.reads`: every decision is taken below it (gate, scope,
minimisation, audit); these parse options and print.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from idgraph.app import reads
from idgraph.app.errors import AppError
from idgraph.app.reads import AssociatesResult, MatchResult, SearchResult
from idgraph.cli.access import print_whole, table_of
from idgraph.cli.common import console, progress
from idgraph.cli.shell import app_exit, env_of, read_caller

AS = typer.Option(..., "--as", help="Act as this user.")
PURPOSE = typer.Option(..., "--purpose")
CLAIMS = typer.Option(None, "--claims", help="Codes, comma-separated.")
BASIS = typer.Option(None, "--basis", help="Registered legal-process id.")
CASE = typer.Option(None, "--case")
JSON = typer.Option(False, "--json", help="Print JSON.")


def _where(items: list[str] | None) -> dict[str, str]:
    """FIELD=VALUE pairs, taken as written: a pair without "=" or without a field name
    is still a criterion the gate must see (and refuse), not a parse error that would
    leave an attempt to search by race without a trace."""
    out: dict[str, str] = {}
    for item in items or []:
        key, _, value = item.partition("=")
        out[key.strip()] = value.strip()
    return out


def render_search(result: SearchResult) -> None:
    rows = [
        [
            h.identity_id,
            f"{h.score:.4f}",
            h.fields.get("full_name") or " ".join(
                str(h.fields[f]) for f in ("first_name", "last_name") if h.fields.get(f)),
            h.fields.get("dob") or h.fields.get("birth_year") or "",
            "; ".join(f"{e.comparison}: {e.level} ({e.weight:+.1f}, {e.source})"
                      for e in h.explanation),
        ]
        for h in result.hits
    ]
    if not result.hits:
        console.print("no identity found")
        return
    print_whole(table_of("search", ["identity", "score", "name", "born", "why"], rows), console)


def search_command(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help='A name in any order: "maria garcia".'),
    dob: str | None = typer.Option(None, "--dob", help="1984, 1984-03, 03/07/1984 ..."),
    address: str | None = typer.Option(None, "--address", help="One line street address."),
    zip_code: str | None = typer.Option(None, "--zip"),
    phone: str | None = typer.Option(None, "--phone"),
    identifier: str | None = typer.Option(None, "--id", help="SSN or licence (CA:A123...)."),
    plate: str | None = typer.Option(None, "--plate"),
    where: list[str] | None = typer.Option(
        None, "--where",
        help="Another criterion as FIELD=VALUE. The gate decides it: a protected attribute "
             "(race, religion, national origin, ...) refuses the whole search; one the "
             "search cannot use is refused too. Either refusal is audited."),
    limit: int = typer.Option(10, "--limit", min=1, max=1000),
    actor: str = AS,
    purpose: str = PURPOSE,
    claims: list[str] | None = CLAIMS,
    basis: str | None = BASIS,
    case_id: str | None = CASE,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per hit."),
) -> None:
    """Find identities from partial facts; ranked, explained, decided and audited."""
    caller = read_caller(actor, purpose, claims, basis, case_id)
    with env_of(ctx) as env:
        try:
            result = reads.search(env, caller, name=name, dob=dob, address=address,
                                  zip=zip_code, phone=phone, identifier=identifier,
                                  plate=plate, where=_where(where), limit=limit)
        except AppError as exc:
            raise app_exit(exc) from exc
    if as_json:
        for h in result.hits:
            print(json.dumps(h.to_dict(), sort_keys=True))
    else:
        render_search(result)


def render_associates(result: AssociatesResult) -> None:
    rows = [
        [a.identity_id, e.kind, e.value, ", ".join(e.subject_records),
         ", ".join(e.associate_records), "yes" if e.dated else "undated"]
        for a in result.associates
        for e in a.evidence
    ]
    cols = ["associate", "shares", "value", "subject records", "their records", "dates overlap"]
    if result.associates:
        print_whole(table_of(f"associates of {result.identity_id}", cols, rows), console)
    else:
        console.print("no associates found")
    if result.notices:
        console.print("notices owed: " + ", ".join(result.notices))


def associates_command(
    ctx: typer.Context,
    identity_id: str,
    actor: str = AS,
    purpose: str = PURPOSE,
    claims: list[str] | None = CLAIMS,
    basis: str | None = BASIS,
    case_id: str | None = CASE,
    as_json: bool = JSON,
) -> None:
    """Identities sharing an address (at overlapping dates), a phone or a plate."""
    with env_of(ctx) as env:
        try:
            result = reads.associates(env, read_caller(actor, purpose, claims, basis, case_id),
                                      identity_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
    else:
        render_associates(result)


def _write(result: MatchResult, out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as f:
        reads.match_csv(result, f)


def _count_lines(path: Path) -> int | None:
    if path.suffix.lower() not in (".csv", ".jsonl"):
        return None
    with path.open("rb") as f:
        return max(sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b"")) -
                   (1 if path.suffix.lower() == ".csv" else 0), 0)


def match_command(
    ctx: typer.Context,
    list_path: Path = typer.Argument(..., help="The list of people (csv, jsonl, parquet)."),
    mapping: Path = typer.Option(..., "--map", help="Column mapping (manifest format)."),
    out: Path = typer.Option(..., "--out", help="Results (CSV), one row per input row."),
    threshold: float = typer.Option(0.5, "--threshold", min=0.0, max=1.0),
    actor: str = AS,
    purpose: str = PURPOSE,
    claims: list[str] | None = CLAIMS,
    basis: str | None = BASIS,
    case_id: str = typer.Option(..., "--case", help="The open case (required)."),
) -> None:
    """Best identity per row of a list (or none); one decision, one audited act."""
    caller = read_caller(actor, purpose, claims, basis, case_id)
    with env_of(ctx) as env, progress() as bar:
        task = bar.add_task("matching", total=_count_lines(list_path))
        try:
            result = reads.match(env, caller, list_path, mapping, threshold=threshold,
                                 on_rows=lambda n: bar.advance(task, n))
        except AppError as exc:
            raise app_exit(exc) from exc
    _write(result, out)
    counts = result.counts()
    console.print(escape(
        f"{len(result.rows)} rows: {counts['matched']} matched, {counts['none']} none, "
        f"{counts['malformed']} malformed, {counts['with_problems']} with a value left out; "
        f"results in {out}"))
    for r in result.rows:
        if r.status == "malformed":
            console.print(escape(f"line {r.line}: {'; '.join(r.problems)}"), soft_wrap=True)
    if result.unused_fields:
        console.print(escape("not matched on: " + ", ".join(result.unused_fields)))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("search")(search_command)
    app.command("associates")(associates_command)
    app.command("match")(match_command)
