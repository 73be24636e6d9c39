"""CLI commands for finding people: ``search``, ``associates`` and ``match``.

Thin shells over :mod:`idgraph.search`: every decision is taken there (gate, scope,
minimisation, audit); these parse options and print.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer
from rich.markup import escape

from idgraph.cli.access import denied, print_whole, split_codes, table_of
from idgraph.cli.common import console, fail, progress, settings_of, store_of
from idgraph.link.score import ModelError
from idgraph.policy.profile import AccessDenied
from idgraph.policy.registry import Registry
from idgraph.policy.view import GraphMissing
from idgraph.schema import Query
from idgraph.search.associates import AssociatesResult, associates
from idgraph.search.criteria import Criteria, CriteriaError, parse_criteria
from idgraph.search.find import SearchIndexMissing, SearchResult, find, refuse_criteria
from idgraph.search.index import SearchIndexError
from idgraph.search.match import (
    OUTPUT_COLUMNS,
    MatchError,
    MatchResult,
    load_mapping,
    match_list,
    refuse_mapping,
    row_dicts,
)
from idgraph.sources.readers import FileRejected

AS = typer.Option(..., "--as", help="Act as this user.")
PURPOSE = typer.Option(..., "--purpose")
CLAIMS = typer.Option(None, "--claims", help="Codes, comma-separated.")
BASIS = typer.Option(None, "--basis", help="Registered legal-process id.")
CASE = typer.Option(None, "--case")
JSON = typer.Option(False, "--json", help="Print JSON.")


def _query(actor: str, purpose: str, claims: list[str] | None, basis: str | None,
           case_id: str | None) -> Query:
    return Query(principal=actor, purpose=purpose, claims=tuple(split_codes(claims)), basis=basis,
                 case_id=case_id)


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
    given = {"name": name, "dob": dob, "address": address, "zip": zip_code, "phone": phone,
             "identifier": identifier, "plate": plate}
    extra = _where(where)
    query = _query(actor, purpose, claims, basis, case_id)
    with store_of(ctx) as store:
        registry = Registry(store, settings=settings_of(ctx))
        try:
            criteria = parse_criteria(name=name, dob=dob, address=address, zip=zip_code,
                                      phone=phone, identifier=identifier, plate=plate)
        except CriteriaError as exc:
            if not (extra and exc.field == "criteria"):
                # decided and audited all the same: a bad date beside --where race=...
                # must not hide the attempt
                try:
                    refuse_criteria(store, query, [k for k, v in given.items() if v],
                                    extra, exc, registry=registry)
                except AccessDenied as denial:
                    raise denied(denial) from denial
                except CriteriaError as refused:
                    raise fail(str(refused)) from refused
            criteria = Criteria()  # the --where criteria alone: the gate decides them
        try:
            result = find(store, query, criteria, limit=limit, extra=extra,
                          registry=registry)
        except AccessDenied as exc:
            raise denied(exc) from exc
        except (CriteriaError, GraphMissing, SearchIndexMissing, SearchIndexError,
                ModelError) as exc:
            raise fail(str(exc)) from exc
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
    query = _query(actor, purpose, claims, basis, case_id)
    with store_of(ctx) as store:
        try:
            result = associates(store, query, identity_id,
                                registry=Registry(store, settings=settings_of(ctx)))
        except AccessDenied as exc:
            raise denied(exc) from exc
        except GraphMissing as exc:
            raise fail(str(exc)) from exc
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
    else:
        render_associates(result)


def _write(result: MatchResult, out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(OUTPUT_COLUMNS))
        writer.writeheader()
        writer.writerows(row_dicts(result))


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
    query = _query(actor, purpose, claims, basis, case_id)
    try:
        manifest = load_mapping(mapping, list_path)
    except MatchError as exc:
        if exc.fields:  # race, religion, ...: decided and audited before the refusal
            with store_of(ctx) as store:
                try:
                    refuse_mapping(store, query, exc,
                                   registry=Registry(store, settings=settings_of(ctx)))
                except AccessDenied as denial:
                    raise denied(denial) from denial
                except MatchError as refused:
                    raise fail(str(refused)) from refused
        raise fail(str(exc)) from exc
    with store_of(ctx) as store, progress() as bar:
        task = bar.add_task("matching", total=_count_lines(list_path))
        try:
            result = match_list(store, query, list_path, manifest, threshold=threshold,
                                registry=Registry(store, settings=settings_of(ctx)),
                                on_rows=lambda n: bar.advance(task, n))
        except AccessDenied as exc:
            raise denied(exc) from exc
        except (MatchError, FileRejected, GraphMissing, SearchIndexMissing, SearchIndexError,
                ModelError) as exc:
            raise fail(str(exc)) from exc
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
