"""CLI: synthetic data, ingestion, the source list, and the demo."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import TaskID
from rich.table import Table

from idgraph.cli.common import console, err_console, fail, progress, settings_of, store_of
from idgraph.link import Evaluation, evaluate_files, resolve
from idgraph.settings import Settings
from idgraph.sources import FileRejected, IngestSummary, ManifestError, ingest_manifest
from idgraph.sources.manifest import find_manifests, load_manifest
from idgraph.sources.parallel import worker_pool
from idgraph.store import Store


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
                  f"in {len(summary.sources)} sources to {out}")


def _summary_table(rows: list[IngestSummary]) -> Table:
    t = Table(title="ingest summary")
    # "balanced" is rows = records + quarantined rows
    for col in ("source", "rows", "added", "versioned", "same", "quarantined",
                "bad fields", "balanced", "s"):
        t.add_column(col, justify="left" if col == "source" else "right", overflow="fold")
    for s in rows:
        t.add_row(s.source_id, f"{s.rows:,}", f"{s.records_added:,}",
                  f"{s.records_versioned:,}", f"{s.records_unchanged:,}",
                  f"{s.rows_quarantined:,}", f"{s.fields_quarantined:,}",
                  "[green]yes[/green]" if s.balanced else "[red]NO[/red]", f"{s.seconds:.1f}")
    return t


def run_ingest(store: Store, paths: list[Path], settings: Settings) -> tuple[
        list[IngestSummary], list[str]]:
    """Ingest every manifest under ``paths``; return summaries and errors."""
    summaries: list[IngestSummary] = []
    errors: list[str] = []
    manifests = find_manifests(paths)
    if not manifests:
        errors.append(f"no manifests (*.yaml) found in {', '.join(map(str, paths))}")
    with progress() as bar, worker_pool(settings.ingest_workers) as pool:
        for mpath in manifests:
            try:
                m = load_manifest(mpath)
            except ManifestError as exc:
                errors.append(str(exc))
                continue
            task = bar.add_task(f"ingesting {m.id}", total=None)

            def advance(n: int, t: TaskID = task) -> None:
                bar.advance(t, n)

            try:
                s = ingest_manifest(store, m, settings, progress=advance, pool=pool)
            except FileRejected as exc:
                errors.append(f"rejected {exc.path}: {exc.cause} (store unchanged)")
                bar.update(task, total=0)
                continue
            bar.update(task, total=s.rows, completed=s.rows)
            summaries.append(s)
    return summaries, errors


def ingest_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Manifests, or folders of manifests."),
) -> None:
    """Ingest sources into the store; every row becomes a record or a quarantine row."""
    settings = settings_of(ctx)
    with store_of(ctx) as store:
        summaries, errors = run_ingest(store, paths, settings)
    if summaries:
        console.print(_summary_table(summaries))
    for e in errors:
        err_console.print(f"[red]error:[/red] {e}")
    if errors or not all(s.balanced for s in summaries):
        raise typer.Exit(1)


def sources_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """List sources with their legal regimes, record and quarantine counts."""
    with store_of(ctx) as store:
        rows = store.fetchall("""
            SELECT s.source_id, s.kind, s.jurisdiction, array_to_string(s.regimes, ', '),
                   s.retention_days,
                   (SELECT count(*) FROM records r WHERE r.source_id = s.source_id
                      AND r.is_current),
                   (SELECT count(*) FROM records r WHERE r.source_id = s.source_id),
                   (SELECT count(*) FILTER (WHERE q.field IS NULL OR q.reason LIKE 'duplicate%')
                      FROM quarantine q WHERE q.batch_id = b.batch_id),
                   (SELECT count(*) FILTER (WHERE q.field IS NOT NULL
                      AND q.reason NOT LIKE 'duplicate%')
                      FROM quarantine q WHERE q.batch_id = b.batch_id),
                   b.finished_at
            FROM sources s LEFT JOIN (
                SELECT * FROM batches QUALIFY row_number() OVER
                  (PARTITION BY source_id ORDER BY finished_at DESC) = 1) b
              ON b.source_id = s.source_id
            ORDER BY s.source_id""")
    if not rows:
        raise fail("no sources yet: run `idgraph ingest PATH` first")
    names = ("source", "kind", "jurisdiction", "regimes", "retention_days", "records",
             "versions", "quarantined_rows", "bad_fields", "last_ingest")
    if as_json:
        for r in rows:
            typer.echo(json.dumps(dict(zip(names, r, strict=True)), default=str))
        return
    t = Table(title="sources")
    for col in ("source", "kind", "jurisdiction", "regimes", "retention d", "records",
                "versions", "quarantined rows*", "bad fields*", "last ingest"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(*[("" if v is None else f"{v:,}" if isinstance(v, int) else str(v))
                    for v in r])
    console.print(t)
    console.print("* in the latest batch of each source")


def demo_command(
    ctx: typer.Context,
    people: int = typer.Option(20_000, "--people", min=1),
    seed: int = typer.Option(42, "--seed"),
) -> None:
    """Synthesise a population into the data dir, ingest, resolve and evaluate it."""
    settings = settings_of(ctx)
    out = settings.data_dir / "synth"
    console.rule(f"1. synthesise {people:,} people into {out}")
    run_synth(out, people, seed)
    console.rule("2. ingest the sources")
    with store_of(ctx) as store:
        summaries, errors = run_ingest(store, [out], settings)
        console.print(_summary_table(summaries))
        for e in errors:
            err_console.print(f"[red]error:[/red] {e}")
        if errors or not all(s.balanced for s in summaries):
            raise typer.Exit(1)
        total = store.scalar("SELECT count(*) FROM records WHERE is_current")
        console.print(f"{len(summaries)} sources, {total:,} current records in {settings.db_path}")
        console.rule("3. resolve records into identities")
        with progress() as bar:
            task = bar.add_task("resolving", total=None)
            res = resolve(store, settings, lambda msg: bar.update(task, description=msg))
        console.print(f"{res.n_records:,} records -> {res.n_identities:,} identities "
                      f"(run {res.run_id}; {res.n_accepted:,} links accepted, "
                      f"merges refused by rule: {res.refused})")
        console.rule("4. evaluate against the synthetic truth")
        ev = evaluate_files(store, out / "truth.csv")
    console.print(_evaluation_table(ev))


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
    app.command("demo")(demo_command)
