"""CLI: synthetic data, ingestion, resolve, the source list, and the demo (thin shells
over :mod:`idgraph.app.data`; the data acts take `--as`, else the local operator acts)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from idgraph.app import data as app_data
from idgraph.app.data import IngestOutcome, Interrupted
from idgraph.app.errors import AppError
from idgraph.cli.common import (
    console,
    describe,
    err_console,
    fail,
    printable,
    progress,
    settings_of,
    store_name,
)
from idgraph.cli.demo import login_banner, run_example_search
from idgraph.cli.shell import AS_OPERATOR, app_exit, data_caller, env_of, reporter
from idgraph.link import Evaluation
from idgraph.link.resolve import ResolveSummary
from idgraph.sources import IngestSummary
from idgraph.sources.run import interrupted_message, signals_stop, stop_code


def synth_command(
    ctx: typer.Context,
    people: int = typer.Option(2000, "--people", min=1, help="How many people to invent."),
    seed: int = typer.Option(1, "--seed", help="Random seed (same seed, same files)."),
    out: Path = typer.Option(..., "--out", help="Folder for the source files and manifests."),
) -> None:
    """Generate a synthetic multi-source population with ground truth."""
    _ = ctx
    run_synth(out, people, seed)


def run_synth(out: Path, people: int, seed: int) -> None:
    from idgraph.synth import generate

    with progress() as bar:
        task = bar.add_task("synthesising people", total=people)
        summary = generate(out, people=people, seed=seed,
                           progress=lambda n: bar.update(task, completed=n))
        bar.update(task, completed=people)
    console.print(f"wrote {summary.records:,} records for {people:,} people "
                  f"in {len(summary.sources)} sources to {escape(str(out))}", soft_wrap=True)


def _summary_table(rows: list[IngestSummary]) -> Table:
    t = Table(title="ingest summary")
    # "balanced": rows = records + quarantined rows, and the file's physical lines (counted
    # from its bytes) = lines in rows + blank lines
    for col in ("source", "lines", "rows", "added", "versioned", "same", "quarantined",
                "bad fields", "balanced", "s"):
        t.add_column(col, justify="left" if col == "source" else "right", overflow="fold")
    for s in rows:
        t.add_row(escape(s.source_id), f"{s.lines:,}", f"{s.rows:,}", f"{s.records_added:,}",
                  f"{s.records_versioned:,}", f"{s.records_unchanged:,}",
                  f"{s.rows_quarantined:,}", f"{s.fields_quarantined:,}",
                  "[green]yes[/green]" if s.balanced else "[red]NO[/red]", f"{s.seconds:.1f}")
    return t


def print_error(message: str) -> None:
    """``error: <message>`` on stderr, on one line; the message is text, never markup
    (a file named ``c2 [v2].csv`` or ``[/x].csv`` is printed as it is named)."""
    err_console.print(f"[red]error:[/red] {escape(printable(message))}", soft_wrap=True)


def print_files_read(summaries: list[IngestSummary]) -> None:
    """One line per manifest ingested: ``<source>: read <absolute path of the file>``."""
    for s in summaries:
        console.print(printable(f"{s.source_id}: read {s.source_file}"), markup=False,
                      highlight=False, soft_wrap=True)


def print_outcome(outcome: IngestOutcome) -> None:
    """The files read, the summary table, the live placements and the errors."""
    if outcome.summaries:
        print_files_read(outcome.summaries)
        console.print(_summary_table(outcome.summaries))
    placed = outcome.live or {}
    if placed:
        console.print(f"placed {sum(placed.values()):,} records: "
                      f"{placed.get('attach', 0):,} joined an identity, "
                      f"{placed.get('new', 0):,} made a new one")
    for e in outcome.errors:
        print_error(e)


def run_ingest(ctx: typer.Context, paths: list[Path], actor: str | None, *,
               live: bool = False) -> IngestOutcome:
    """Ingest as the CLI does (progress bars, Ctrl-C and SIGTERM stop it cleanly); print
    the outcome; end the command when the balance rule broke (exit 1) or when it was
    interrupted (130, 143)."""
    with signals_stop():
        try:
            with env_of(ctx) as env, progress() as bar:
                outcome = app_data.ingest(env, data_caller(actor), paths, live=live,
                                          on_progress=reporter(bar))
        except Interrupted as stop:
            print_outcome(stop.outcome)
            raise typer.Exit(stop.code) from None
        except AppError as exc:
            raise app_exit(exc) from exc
        except KeyboardInterrupt as exc:  # waiting for the store, placing, or closing it
            raise fail(interrupted_message(exc), stop_code(exc)) from None
    print_outcome(outcome)
    if not outcome.ok:
        raise typer.Exit(1)
    return outcome


def ingest_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Manifests, or folders of manifests."),
    live: bool = typer.Option(
        False, "--live", help="Then place each new record into its identity at once, one "
        "at a time, with the trained model and the last link run's rules (needs a run)."),
    actor: str | None = AS_OPERATOR,
) -> None:
    """Ingest sources into the store; every row becomes a record or a quarantine row."""
    run_ingest(ctx, paths, actor, live=live)


def _count(v: object) -> str:
    return "" if v is None else f"{v:,}" if isinstance(v, int) else escape(str(v))


def sources_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
    actor: str | None = AS_OPERATOR,
) -> None:
    """List sources with their legal regimes, record and quarantine counts."""
    with env_of(ctx) as env:
        try:
            rows = app_data.list_sources(env, data_caller(actor))
        except AppError as exc:
            raise app_exit(exc) from exc
    if not rows:
        raise fail("no sources yet: run `idgraph ingest PATH` first")
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r.as_dict(), default=str))
        return
    t = Table(title="sources")
    for col in ("source", "kind", "jurisdiction", "regimes", "retention d", "records",
                "versions", "quarantined rows*", "bad fields*", "last ingest"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(
            *[_count(v) for v in (r.source, r.kind, r.jurisdiction, r.regimes,
                                  r.retention_days, r.records, r.versions)],
            f"{_count(r.quarantined_rows)} ({_count(r.last_batch_quarantined_rows)})",
            f"{_count(r.bad_fields)} ({_count(r.last_batch_bad_fields)})",
            _count(r.last_ingest),
        )
    console.print(t)
    console.print("* over all batches of the source (the latest batch in brackets); "
                  "list them with `idgraph quarantine --source SOURCE`", markup=False,
                  highlight=False)


def resolve_command(
    ctx: typer.Context,
    retrain: bool = typer.Option(False, "--retrain", help="Train a new model first."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Override the match threshold."
    ),
    actor: str | None = AS_OPERATOR,
    engine: str = typer.Option(
        "duckdb", "--engine", help="Where pairs are predicted and clustered: duckdb or spark."),
    spark_master: str = typer.Option(
        "local[2]", "--spark-master",
        help="Spark master with --engine spark: local[N] or spark://host:port."),
) -> None:
    """Link all current records into identities (train a model if none is saved)."""
    if engine not in ("duckdb", "spark"):
        raise typer.BadParameter("duckdb or spark", param_hint="--engine")
    summary = run_resolve(ctx, actor, retrain=retrain, threshold=threshold,
                          spark_master=spark_master if engine == "spark" else None)
    table = Table(title=f"run {summary.run_id}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in asdict(summary).items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    console.print(table)


def run_resolve(ctx: typer.Context, actor: str | None, *, retrain: bool = False,
                threshold: float | None = None,
                spark_master: str | None = None) -> ResolveSummary:
    """Resolve with one progress line naming the stage under way."""
    with env_of(ctx) as env, progress() as bar:
        task = bar.add_task("resolving", total=None)
        try:
            return app_data.resolve(
                env, data_caller(actor), retrain=retrain, threshold=threshold,
                spark_master=spark_master,
                on_progress=lambda msg, _d, _t: bar.update(task, description=escape(msg)))
        except AppError as exc:
            raise app_exit(exc) from exc


def demo_command(
    ctx: typer.Context,
    people: int = typer.Option(20_000, "--people", min=1),
    seed: int = typer.Option(42, "--seed"),
    serve: bool = typer.Option(True, "--serve/--no-serve",
                               help="End by serving the web UI (Ctrl-C stops it)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address the UI is served on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
) -> None:
    """Synthesise a population into the data dir, ingest, resolve and evaluate it, find
    one of its people from partial facts and read the first hit's profile; then serve the
    web UI with a demo user for each role (their logins are printed)."""
    settings = settings_of(ctx)
    out = settings.data_dir / "synth"
    console.rule(f"1. synthesise {people:,} people into {escape(str(out))}")
    run_synth(out, people, seed)
    console.rule("2. ingest the sources")
    outcome = run_ingest(ctx, [out], None)
    console.print(f"{len(outcome.summaries)} sources, {outcome.current_records:,} current "
                  f"records in {escape(store_name(settings))}", soft_wrap=True)
    console.rule("3. resolve records into identities")
    res = run_resolve(ctx, None)
    console.print(f"{res.n_records:,} records -> {res.n_identities:,} identities "
                  f"(run {res.run_id}; {res.n_accepted:,} links accepted, "
                  f"merges refused by rule: {res.refused})")
    with env_of(ctx) as env:
        console.rule("4. evaluate against the synthetic truth")
        try:
            ev = app_data.evaluate(env, out / "truth.csv")
        except AppError as exc:
            raise app_exit(exc) from exc
        console.print(_evaluation_table(ev))
        console.rule("5. find a person from partial facts, lawfully")
        run_example_search(env)
        banner = login_banner(env, f"http://{host}:{port}/") if serve else []
    if not serve:
        return
    from idgraph.cli.serve import SERVE_ERRORS, run_server

    console.rule("6. the web UI")
    try:
        run_server(settings, host, port, banner=banner)
    except SERVE_ERRORS as exc:
        raise fail(f"cannot serve: {describe(exc)}") from None


def _evaluation_table(ev: Evaluation) -> Table:
    t = Table(title="identities vs synthetic truth")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for name in ("pair_precision", "pair_recall", "pair_f1", "bcubed_precision",
                 "bcubed_recall", "bcubed_f1"):
        t.add_row(name.replace("_", " "), f"{getattr(ev, name):.4f}")
    t.add_row("persons over-merged", f"{ev.over_merged:,}")
    t.add_row("persons split", f"{ev.split_persons:,}")
    for kind, c in sorted(ev.hard_cases.items()):
        t.add_row(f"{kind} pairs wrongly merged", f"{c['wrongly_merged']} of {c['pairs']}")
    return t


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("synth")(synth_command)
    app.command("ingest")(ingest_command)
    app.command("sources")(sources_command)
    app.command("resolve")(resolve_command)
    app.command("demo")(demo_command)
