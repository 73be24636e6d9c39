"""Data acts: ingest, resolve, the search index, and what the store holds per source.

Each is one act decided by Cedar and audited once (:func:`authorise_and_audit`:
``ingest.run``, ``resolve.run``, ``index.rebuild``, ``index.check``, ``sources.list``,
``quarantine.read``). The CLI acts as the local operator when no user is named (see
docs/policy.md); over the API or the web UI a user with the role is required.

Progress is reported through ``on_progress(label, done, total)``: ``label`` names the
step (``ingesting ny_dmv``, ``placing new records``, a resolve stage), ``total`` is None
while unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Conflict, Invalid, NotFound
from idgraph.app.gate import authorise_and_audit
from idgraph.app.reads import forget_engine
from idgraph.link import AttachError, Evaluation, evaluate_files
from idgraph.link.resolve import ResolveSummary
from idgraph.link.resolve import resolve as link_resolve
from idgraph.link.score import ModelError
from idgraph.policy.view import GraphMissing
from idgraph.search.index import IndexDiff, SearchIndex, SearchIndexError, index_dir
from idgraph.search.live import place_batches
from idgraph.search.sync import install_hooks
from idgraph.sources.ingest import IngestSummary
from idgraph.sources.listing import (
    QuarantineListing,
    QuarantineLookupError,
    SourceSummary,
    current_record_count,
    list_quarantine,
)
from idgraph.sources.listing import (
    list_sources as sources_of,
)
from idgraph.sources.run import IngestInterrupted, run_ingest, run_ok

__all__ = [
    "IndexCheck",
    "IngestOutcome",
    "Interrupted",
    "evaluate",
    "index_check",
    "index_rebuild",
    "ingest",
    "list_sources",
    "quarantine",
    "resolve",
]

OnProgress = Callable[[str, int, "int | None"], None]
IndexCheck = IndexDiff  # what `index check` reports: empty when index and store agree

# Ingest, resolve, live placement and retention keep the search index in step: installed
# on import and again by each act that changes records (idempotent; a library user may
# have uninstalled them).
install_hooks()


@dataclass
class IngestOutcome:
    """What an ingest did: a summary per batch stored, the errors (each naming the
    file, row or field and whether the store changed), the live placements (``attach``,
    ``new``; None without ``live``), and the current records the store holds after."""

    summaries: list[IngestSummary] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    live: dict[str, int] | None = None
    current_records: int = 0

    @property
    def ok(self) -> bool:
        """The balance rule: no error, every batch balanced (see sources.run.run_ok)."""
        return run_ok(self.summaries, self.errors)

    def as_dict(self) -> dict[str, Any]:
        return {"summaries": [s.as_dict() for s in self.summaries], "errors": self.errors,
                "live": self.live, "current_records": self.current_records, "ok": self.ok}


class Interrupted(AppError):
    """Ctrl-C or SIGTERM stopped an ingest: ``outcome`` holds what was stored before it,
    and an error naming what was not; ``code`` is the exit status (130 or 143)."""

    status = 503
    title = "Interrupted"

    def __init__(self, outcome: IngestOutcome, code: int) -> None:
        super().__init__("; ".join(outcome.errors) or "interrupted")
        self.outcome, self.code = outcome, code


_STATE = (GraphMissing, SearchIndexError, ModelError, AttachError)


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except AppError:
        raise
    except _STATE as exc:
        raise Conflict(str(exc)) from exc
    except (KeyError, LookupError) as exc:
        raise NotFound(str(exc.args[0]) if exc.args else str(exc)) from exc


def _say(on_progress: OnProgress | None) -> OnProgress:
    return on_progress or (lambda label, done, total: None)


def _batch_detail(summaries: Sequence[IngestSummary]) -> dict[str, Any]:
    return {
        "batches": [s.batch_id for s in summaries],
        "rows": sum(s.rows for s in summaries),
        "records": sum(s.records for s in summaries),
        "rows_quarantined": sum(s.rows_quarantined for s in summaries),
        "fields_quarantined": sum(s.fields_quarantined for s in summaries),
        "balanced": all(s.balanced for s in summaries),
    }


def ingest(
    env: Env,
    caller: Caller,
    paths: Sequence[Path],
    *,
    live: bool = False,
    on_progress: OnProgress | None = None,
    confined: bool = False,
) -> IngestOutcome:
    """Ingest every manifest under ``paths`` (manifests, or folders of manifests; an
    upload is a folder holding a manifest and its file). Every row becomes a record or
    a quarantine row; :attr:`IngestOutcome.ok` says whether the balance rule held.
    ``live``: then place each new record into its identity at once (needs a link run).
    ``confined``: each manifest may read only a file in its own folder, whatever
    ``input.allow_outside`` or the settings say (an upload over the API).
    Raises :class:`Interrupted` on Ctrl-C or SIGTERM (what was stored stays stored)."""
    if not paths:
        raise Invalid("no manifests or folders given", field="paths")
    say = _say(on_progress)
    install_hooks()
    target = ", ".join(str(p) for p in paths)
    try:
        with authorise_and_audit(env, caller, "ingest.run", target=target,
                                 atomic=False) as act:
            try:
                summaries, errors = run_ingest(env.store, paths, env.settings, say,
                                               confined=confined)
            except IngestInterrupted as stop:
                act.sources = sorted({s.source_id for s in stop.summaries})
                act.detail.update({**_batch_detail(stop.summaries),
                                   "errors": len(stop.errors), "interrupted": stop.code})
                raise
            outcome = IngestOutcome(summaries, errors)
            if live and summaries:
                try:
                    outcome.live = place_batches(env.store, summaries, say)
                except (AttachError, ModelError) as exc:
                    outcome.errors.append(f"records stored but not placed: {exc}")
            outcome.current_records = current_record_count(env.store)
            act.sources = sorted({s.source_id for s in summaries})
            act.detail.update({**_batch_detail(summaries), "errors": len(outcome.errors),
                               "live": outcome.live, "ok": outcome.ok,
                               **({"confined": True} if confined else {})})
    except IngestInterrupted as stop:
        raise Interrupted(IngestOutcome(stop.summaries, stop.errors), stop.code) from None
    finally:
        forget_engine(env)
        if not env.store.in_transaction:
            env.store.settle()  # after a signal: a result its query left open
        env.refresh()  # the sources registry changed
    return outcome


def resolve(
    env: Env,
    caller: Caller,
    *,
    retrain: bool = False,
    threshold: float | None = None,
    on_progress: OnProgress | None = None,
    spark_master: str | None = None,
) -> ResolveSummary:
    """Link all current records into identities (train a model first if none is saved,
    or ``retrain``); ``threshold`` overrides the match threshold of the settings;
    ``spark_master`` (``local[2]``, ``spark://host:7077``) predicts the pairs and
    clusters on Spark instead of the store's DuckDB (the same identities)."""
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise Invalid("threshold must be between 0 and 1", field="threshold")
    engine = None
    if spark_master is not None:
        from idgraph.link.spark import SparkEngine, valid_master

        if not valid_master(spark_master):
            raise Invalid("spark master must be local, local[N], local[*] or "
                          "spark://host:port", field="spark_master")
        engine = SparkEngine(master=spark_master,
                             driver_memory=env.settings.spark_driver_memory)
    settings = (env.settings if threshold is None
                else env.settings.model_copy(update={"match_threshold": threshold}))
    say = _say(on_progress)
    install_hooks()
    try:
        with _mapped(), authorise_and_audit(env, caller, "resolve.run",
                                                       atomic=False) as act:
            summary = link_resolve(env.store, settings, lambda msg: say(msg, 0, None),
                                   retrain=retrain, engine=engine)
            act.detail.update({"run_id": summary.run_id, "model_id": summary.model_id,
                               "threshold": summary.threshold, "retrain": retrain,
                               "engine": "spark" if engine else "duckdb",
                               "records": summary.n_records,
                               "identities": summary.n_identities})
    finally:
        forget_engine(env)
    return summary


def index_rebuild(env: Env, caller: Caller, *, on_progress: OnProgress | None = None) -> int:
    """Index every current record again, from the store (any old index made anew);
    returns how many records were indexed."""
    say = _say(on_progress)
    label = "indexing records"
    try:
        with _mapped(), authorise_and_audit(env, caller, "index.rebuild",
                                                       atomic=False) as act:
            total = current_record_count(env.store)
            try:
                index = SearchIndex.open(env.settings)
            except SearchIndexError:
                index = SearchIndex.create(index_dir(env.settings))
            done = [0]

            def advance(n: int) -> None:
                done[0] += n
                say(label, done[0], total)

            say(label, 0, total)
            written = index.rebuild(env.store, progress=advance)
            act.detail.update({"records": written, "index": str(index.path)})
    finally:
        forget_engine(env)
    return written


def index_path(env: Env) -> Path:
    """Where the data dir's search index lives."""
    return index_dir(env.settings)


def index_check(env: Env, caller: Caller) -> IndexCheck:
    """Compare the search index with the store (:attr:`IndexDiff.empty`: they agree;
    else the records that differ). Raises NotFound when there is no index."""
    with _mapped(), authorise_and_audit(env, caller, "index.check") as act:
        if not SearchIndex.exists(env.settings):
            raise NotFound(f"no search index in {index_dir(env.settings)}: "
                           "run `idgraph index rebuild`")
        diff = SearchIndex.open(env.settings).check(env.store)
        act.detail.update({"agrees": diff.empty, "counts": diff.counts(), "layout": diff.layout})
    return diff


def list_sources(env: Env, caller: Caller) -> list[SourceSummary]:
    """Every source with its legal regimes, record and quarantine counts (empty before
    the first ingest)."""
    with authorise_and_audit(env, caller, "sources.list") as act:
        rows = sources_of(env.store)
        act.detail.update({"sources": len(rows)})
    return rows


def quarantine(
    env: Env,
    caller: Caller,
    *,
    source: str | None = None,
    batch: str | None = None,
    limit: int = 100,
) -> QuarantineListing:
    """Quarantine rows (file, line, record id, field, value, reason), at most ``limit``
    (0: all); NotFound before the first ingest or for an unknown source or batch."""
    if limit < 0:
        raise Invalid("limit must be 0 (all) or more", field="limit")
    try:
        with authorise_and_audit(env, caller, "quarantine.read",
                                 target=source or batch or "") as act:
            listing = list_quarantine(env.store, source=source, batch=batch, limit=limit)
            act.sources = [source] if source else sorted({r.source for r in listing.rows})
            act.detail.update({"source": source, "batch": batch, "limit": limit,
                               "total": listing.total, "shown": len(listing.rows)})
    except QuarantineLookupError as exc:
        raise NotFound(str(exc)) from exc
    return listing


def evaluate(env: Env, truth: Path) -> Evaluation:
    """Identities against a synthetic population's ground truth (``truth.csv``, and
    ``hard_cases.csv`` beside it); aggregate measures only. No gate: the demo's own
    synthetic data, never a deployment's."""
    try:
        return evaluate_files(env.store, truth)
    except (OSError, duckdb.Error, psycopg.Error) as exc:
        raise Invalid(f"cannot evaluate against {truth}: {exc}", field="truth") from exc
