"""CLI: synthetic data, ingestion, the source list, and the demo."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb
import typer
from rich.markup import escape
from rich.progress import TaskID
from rich.table import Table

from idgraph.cli.common import (
    console,
    describe,
    err_console,
    fail,
    printable,
    progress,
    settings_of,
    store_of,
)
from idgraph.cli.demo import run_example_search
from idgraph.link import AttachError, Evaluation, LiveLinker, evaluate_files, resolve
from idgraph.link.attach import CandidateSource, RowSource
from idgraph.link.score import ModelError
from idgraph.schema import segment_key
from idgraph.settings import Settings
from idgraph.sources import (
    AfterIngestError,
    FileRejected,
    IngestSummary,
    ManifestError,
    ingest_manifest,
)
from idgraph.sources.manifest import Manifest, find_manifests, load_manifests
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


class IngestInterrupted(Exception):
    """Ctrl-C or SIGTERM during ``run_ingest``: what was done before it, and what not."""

    def __init__(self, summaries: list[IngestSummary], errors: list[str], code: int) -> None:
        super().__init__("interrupted")
        self.summaries, self.errors, self.code = summaries, errors, code


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the ingest is so that it stops as Ctrl-C stops it: the
    batch's transaction rolls back and the workers are shut down, not left to warn."""


_SIGNALLED: list[int] = []  # signals _on_sigterm received (read when DuckDB hides them)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _SIGNALLED.append(signum)
    raise _Terminated()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt()


def _interruption(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM behind ``exc``: itself, one in its chain of causes, or one
    DuckDB turned into its own error (an interrupted query, then an aborted transaction);
    None for a real store error (a full disk)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return seen
        seen = seen.__cause__ or seen.__context__
    if signal.SIGTERM in _SIGNALLED:
        return _Terminated()
    if _SIGNALLED:  # Ctrl-C that DuckDB caught in a query and left as an aborted transaction
        return KeyboardInterrupt()
    if isinstance(exc, duckdb.InterruptException):
        return KeyboardInterrupt()
    return None


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """While ingesting, SIGTERM raises :class:`_Terminated` and Ctrl-C KeyboardInterrupt,
    each noted so that one DuckDB reports as an aborted transaction is still told apart
    from a store error (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _SIGNALLED.clear()
    old = signal.signal(signal.SIGTERM, _on_sigterm)
    old_int = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, old_int)


def _load_all(paths: list[Path], errors: list[str]) -> list[Manifest]:
    """Every usable manifest under ``paths`` (:func:`load_manifests`); errors appended."""
    manifests, problems = load_manifests(paths)
    if not find_manifests(paths):
        errors.append(f"no manifests (*.yaml) found in {', '.join(map(str, paths))}")
    errors.extend(str(e) for e in problems)
    return manifests


def run_ingest(store: Store, paths: list[Path], settings: Settings) -> tuple[
        list[IngestSummary], list[str]]:
    """Ingest every manifest under ``paths``; return summaries and errors.

    Raises :class:`IngestInterrupted` on Ctrl-C or SIGTERM: the source being ingested is
    rolled back, the ones before it stay stored."""
    summaries: list[IngestSummary] = []
    errors: list[str] = []
    manifests = _load_all(paths, errors)
    with progress() as bar, worker_pool(settings.ingest_workers) as pool:
        for i, m in enumerate(manifests):
            task = bar.add_task(f"ingesting {escape(m.id)}", total=None)

            def advance(n: int, t: TaskID = task) -> None:
                bar.advance(t, n)

            try:
                s = ingest_manifest(store, m, settings, progress=advance, pool=pool)
            except AfterIngestError as exc:  # stored; the search index's update stopped
                summaries.append(exc.summary)
                bar.update(task, total=exc.summary.rows, completed=exc.summary.rows)
                rest = [x.id for x in manifests[i + 1:]]
                stop = _interruption(exc.cause)
                if stop is None:
                    errors.append(f"{m.id} is stored, but updating the search index after it "
                                  f"failed ({describe(exc.cause)}): run `idgraph index rebuild`")
                    continue
                how = "terminated (SIGTERM)" if isinstance(stop, _Terminated) else "interrupted"
                errors.append(
                    f"{how} after storing {m.id}: its records are stored, the search index may "
                    "lag (`idgraph index check` names the difference)"
                    + (f"; not ingested: {', '.join(rest)}" if rest else ""))
                raise IngestInterrupted(summaries, errors,
                                        143 if isinstance(stop, _Terminated) else 130) from None
            except FileRejected as exc:
                errors.append(f"rejected {exc.path}: {exc.cause} (store unchanged)")
                bar.update(task, total=0)
                continue
            except ManifestError as exc:  # found while reading (e.g. a path outside)
                errors.append(f"{exc} (store unchanged)")
                bar.update(task, total=0)
                continue
            except OSError as exc:  # unreadable after all (permissions, a folder, I/O)
                errors.append(f"rejected {m.input_path}: {describe(exc)} (store unchanged)")
                bar.update(task, total=0)
                continue
            except (KeyboardInterrupt, duckdb.Error) as caught:
                # DuckDB runs the signal handler inside a query: the interrupt may come back
                # as a DuckDB error (an interrupted or aborted transaction) with it as cause
                stop = _interruption(caught)
                if stop is None:
                    assert isinstance(caught, duckdb.Error)
                    rest = [x.id for x in manifests[i + 1:]]
                    first = (str(caught).splitlines() or [type(caught).__name__])[0]
                    errors.append(
                        f"the store failed while ingesting {m.id} ({first}): "
                        "nothing of it was stored; the run stopped"
                        + (f"; not ingested: {', '.join(rest)}" if rest else ""))
                    break
                rest = [x.id for x in manifests[i + 1:]]
                how = "terminated (SIGTERM)" if isinstance(stop, _Terminated) else "interrupted"
                errors.append(
                    f"{how} while ingesting {m.id}: nothing of it was stored"
                    + (f"; not ingested: {', '.join(rest)}" if rest else "")
                    + (f"; stored before: {', '.join(x.source_id for x in summaries)}"
                       if summaries else ""))
                raise IngestInterrupted(summaries, errors,
                                        143 if isinstance(stop, _Terminated) else 130) from None
            except Exception as exc:  # a bug in a reader must not print a traceback
                errors.append(f"rejected {m.input_path}: {type(exc).__name__}: {exc} "
                              "(store unchanged)")
                bar.update(task, total=0)
                continue
            bar.update(task, total=s.rows, completed=s.rows)
            summaries.append(s)
    return summaries, errors


# records placed per commit by ``ingest --live`` (a commit costs more than a placement;
# an interruption loses at most this many placements, which the next resolve makes)
LIVE_COMMIT_EVERY = 100


def _live_sources(store: Store) -> tuple[CandidateSource | None, RowSource | None]:
    """Candidates from the search index beside the store, over every segment (placing
    a record is no purpose-scoped read), and the input rows it keeps; (None, None)
    without an index (the exact-key lookup, rows from the store)."""
    from idgraph.search.index import SearchIndex

    index = SearchIndex.of_store(store)
    if index is None:
        return None, None
    segments = [segment_key(s, o) for s, o in store.fetchall(
        "SELECT DISTINCT source_id, origin_jurisdiction FROM records WHERE is_current")]

    def found(row: dict[str, Any]) -> list[str]:
        return [c.record_id for c in index.candidates(row, segments)]

    return found, index.stored_rows


def run_live(store: Store, summaries: list[IngestSummary]) -> dict[str, int]:
    """Place every record the batches added or changed into its identity
    (:meth:`idgraph.link.LiveLinker.attach_many`, :data:`LIVE_COMMIT_EVERY` per commit:
    a chunk's placements are durable when the progress bar passes them); count the
    outcomes."""
    batches = [s.batch_id for s in summaries]
    if not batches:
        return {}
    ids = [str(r[0]) for r in store.fetchall(
        "SELECT record_id FROM records WHERE is_current AND batch_id IN "
        f"({', '.join('?' * len(batches))}) ORDER BY record_id", batches)]
    candidates, rows = _live_sources(store)
    linker = LiveLinker.from_store(store, rows=rows)
    counts: dict[str, int] = {}
    with progress() as bar:
        task = bar.add_task("placing new records", total=len(ids))
        for start in range(0, len(ids), LIVE_COMMIT_EVERY):
            chunk = ids[start:start + LIVE_COMMIT_EVERY]
            for result in linker.attach_many(chunk, candidates, chunk=LIVE_COMMIT_EVERY):
                counts[result.event] = counts.get(result.event, 0) + 1
            bar.advance(task, len(chunk))
    return counts


def ingest_command(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Manifests, or folders of manifests."),
    live: bool = typer.Option(
        False, "--live", help="Then place each new record into its identity at once, one "
        "at a time, with the trained model and the last link run's rules (needs a run)."),
) -> None:
    """Ingest sources into the store; every row becomes a record or a quarantine row."""
    settings = settings_of(ctx)
    code = 0
    placed: dict[str, int] = {}
    with _sigterm_stops():
        try:
            with store_of(ctx) as store:
                summaries, errors = run_ingest(store, paths, settings)
                if live and summaries:
                    try:
                        placed = run_live(store, summaries)
                    except (AttachError, ModelError) as exc:
                        errors.append(f"records stored but not placed: {exc}")
        except IngestInterrupted as stop:
            summaries, errors, code = stop.summaries, stop.errors, stop.code
        except KeyboardInterrupt as exc:  # waiting for the store, or closing it
            how = "terminated (SIGTERM)" if isinstance(exc, _Terminated) else "interrupted"
            raise fail(f"{how}: no source whose ingest had not finished was stored; "
                       "`idgraph sources` lists what is",
                       143 if isinstance(exc, _Terminated) else 130) from None
    if summaries:
        print_files_read(summaries)
        console.print(_summary_table(summaries))
    if placed:
        console.print(f"placed {sum(placed.values()):,} records: "
                      f"{placed.get('attach', 0):,} joined an identity, "
                      f"{placed.get('new', 0):,} made a new one")
    for e in errors:
        print_error(e)
    if code:
        raise typer.Exit(code)
    if errors or not all(s.balanced for s in summaries):
        raise typer.Exit(1)


# Counts come from each batch's own tally (what ``balanced`` checked when it was
# ingested): a quarantined row is an input row that became no record (unreadable, no
# record id, a duplicate id, retired under retention, an unknown origin); a bad field is
# a value dropped from a row that was stored. Over all batches of the source:
# rows == rows_recorded + quarantined_rows; and the same for the last_batch_* figures.
SOURCES_SQL = """
    WITH agg AS (
        SELECT source_id, count(*) AS batches, sum(rows) AS rows,
               sum(records_added + records_versioned + records_unchanged) AS recorded,
               sum(rows_quarantined) AS q_rows, sum(fields_quarantined) AS q_fields
        FROM batches GROUP BY source_id),
    last AS (
        SELECT * FROM batches QUALIFY row_number() OVER
            (PARTITION BY source_id ORDER BY finished_at DESC, started_at DESC) = 1)
    SELECT s.source_id, s.kind, s.jurisdiction, array_to_string(s.regimes, ', '),
           s.retention_days,
           (SELECT count(*) FROM records r WHERE r.source_id = s.source_id AND r.is_current),
           (SELECT count(*) FROM records r WHERE r.source_id = s.source_id),
           coalesce(a.q_rows, 0), coalesce(a.q_fields, 0), l.finished_at,
           coalesce(a.batches, 0), coalesce(a.rows, 0), coalesce(a.recorded, 0),
           l.batch_id, l.source_file, l.rows,
           l.records_added + l.records_versioned + l.records_unchanged,
           l.records_added, l.records_versioned, l.records_unchanged,
           l.rows_quarantined, l.fields_quarantined
    FROM sources s
    LEFT JOIN agg a ON a.source_id = s.source_id
    LEFT JOIN last l ON l.source_id = s.source_id
    ORDER BY s.source_id"""
SOURCES_KEYS = (
    "source", "kind", "jurisdiction", "regimes", "retention_days", "records", "versions",
    "quarantined_rows", "bad_fields", "last_ingest", "batches", "rows", "rows_recorded",
    "last_batch", "last_batch_file", "last_batch_rows", "last_batch_records",
    "last_batch_added", "last_batch_versioned", "last_batch_unchanged",
    "last_batch_quarantined_rows", "last_batch_bad_fields",
)


def _count(v: object) -> str:
    return "" if v is None else f"{v:,}" if isinstance(v, int) else escape(str(v))


def sources_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """List sources with their legal regimes, record and quarantine counts."""
    with store_of(ctx) as store:
        rows = store.fetchall(SOURCES_SQL)
    if not rows:
        raise fail("no sources yet: run `idgraph ingest PATH` first")
    if as_json:
        for r in rows:
            typer.echo(json.dumps(dict(zip(SOURCES_KEYS, r, strict=True)), default=str))
        return
    t = Table(title="sources")
    for col in ("source", "kind", "jurisdiction", "regimes", "retention d", "records",
                "versions", "quarantined rows*", "bad fields*", "last ingest"):
        t.add_column(col, overflow="fold")
    for r in rows:
        d = dict(zip(SOURCES_KEYS, r, strict=True))
        t.add_row(
            *[_count(d[k]) for k in ("source", "kind", "jurisdiction", "regimes",
                                     "retention_days", "records", "versions")],
            f"{_count(d['quarantined_rows'])} ({_count(d['last_batch_quarantined_rows'])})",
            f"{_count(d['bad_fields'])} ({_count(d['last_batch_bad_fields'])})",
            _count(d["last_ingest"]),
        )
    console.print(t)
    console.print("* over all batches of the source (the latest batch in brackets); "
                  "list them with `idgraph quarantine --source SOURCE`", markup=False,
                  highlight=False)


def demo_command(
    ctx: typer.Context,
    people: int = typer.Option(20_000, "--people", min=1),
    seed: int = typer.Option(42, "--seed"),
) -> None:
    """Synthesise a population into the data dir, ingest, resolve and evaluate it, then
    find one of its people from partial facts and read the first hit's profile."""
    settings = settings_of(ctx)
    out = settings.data_dir / "synth"
    console.rule(f"1. synthesise {people:,} people into {escape(str(out))}")
    run_synth(out, people, seed)
    console.rule("2. ingest the sources")
    with store_of(ctx) as store:
        try:
            summaries, errors = run_ingest(store, [out], settings)
        except IngestInterrupted as stop:
            for e in stop.errors:
                print_error(e)
            raise typer.Exit(stop.code) from None
        print_files_read(summaries)
        console.print(_summary_table(summaries))
        for e in errors:
            print_error(e)
        if errors or not all(s.balanced for s in summaries):
            raise typer.Exit(1)
        total = store.scalar("SELECT count(*) FROM records WHERE is_current")
        console.print(f"{len(summaries)} sources, {total:,} current records in "
                      f"{escape(str(settings.db_path))}", soft_wrap=True)
        console.rule("3. resolve records into identities")
        with progress() as bar:
            task = bar.add_task("resolving", total=None)
            res = resolve(store, settings,
                          lambda msg: bar.update(task, description=escape(msg)))
        console.print(f"{res.n_records:,} records -> {res.n_identities:,} identities "
                      f"(run {res.run_id}; {res.n_accepted:,} links accepted, "
                      f"merges refused by rule: {res.refused})")
        console.rule("4. evaluate against the synthetic truth")
        ev = evaluate_files(store, out / "truth.csv")
        console.print(_evaluation_table(ev))
        console.rule("5. find a person from partial facts, lawfully")
        run_example_search(store, settings)


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
