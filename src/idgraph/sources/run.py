"""One ingest run over many manifests: what was stored, what was not and why, and
what an interruption (Ctrl-C, SIGTERM) left behind.

:func:`run_ingest` ingests every manifest found under the paths given, one batch (one
transaction) per manifest. A manifest that cannot be used, a file that cannot be read,
or a reader that fails is named in the run's errors and the run goes on; a store
error stops the run (the source being ingested is rolled back). Ctrl-C or SIGTERM
raises :class:`IngestInterrupted` with what was stored before it: the source being
ingested is rolled back, the ones before it stay stored.

The balance rule (:attr:`IngestSummary.balanced` of every batch, and no error) is
:func:`run_ok`: a run that broke it must end the command with a failure.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import NoReturn

import duckdb
import psycopg

from idgraph.settings import Settings
from idgraph.sources.ingest import (
    AfterIngestError,
    FilesAhead,
    IngestSummary,
    ingest_manifest,
)
from idgraph.sources.manifest import Manifest, ManifestError, find_manifests, load_manifests
from idgraph.sources.parallel import worker_pool
from idgraph.sources.readers import FileRejected
from idgraph.store import Store

# (label, done, total): a step's progress; total None while it is unknown
OnProgress = Callable[[str, int, "int | None"], None]

INTERRUPTED = 130  # exit status after Ctrl-C (128 + SIGINT)
TERMINATED = 143  # exit status after SIGTERM (128 + SIGTERM)


class IngestInterrupted(Exception):
    """Ctrl-C or SIGTERM during :func:`run_ingest`: what was done before it, and what
    not; ``code`` is the exit status a command ends with (130 or 143)."""

    def __init__(self, summaries: list[IngestSummary], errors: list[str], code: int) -> None:
        super().__init__("interrupted")
        self.summaries, self.errors, self.code = summaries, errors, code


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the ingest is so that it stops as Ctrl-C stops it: the
    batch's transaction rolls back and the workers are shut down, not left to warn."""


_SIGNALLED: list[int] = []  # signals received while stopping (read when DuckDB hides them)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _SIGNALLED.append(signum)
    raise Terminated()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt()


@contextmanager
def signals_stop() -> Iterator[None]:
    """While ingesting, SIGTERM raises :class:`Terminated` and Ctrl-C KeyboardInterrupt,
    each noted so that one DuckDB reports as an aborted transaction is still told apart
    from a store error (main thread only: elsewhere nothing changes)."""
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


def interruption(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM behind ``exc``: itself, one in its chain of causes, or one
    DuckDB turned into its own error (an interrupted query, then an aborted transaction);
    None for a real store error (a full disk)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return seen
        seen = seen.__cause__ or seen.__context__
    if signal.SIGTERM in _SIGNALLED:
        return Terminated()
    if _SIGNALLED:  # Ctrl-C that DuckDB caught in a query and left as an aborted transaction
        return KeyboardInterrupt()
    if isinstance(exc, duckdb.InterruptException):
        return KeyboardInterrupt()
    return None


def stop_code(stop: BaseException) -> int:
    """The exit status for an interruption: 143 after SIGTERM, else 130."""
    return TERMINATED if isinstance(stop, Terminated) else INTERRUPTED


def _how(stop: BaseException) -> str:
    return "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"


def describe(exc: BaseException) -> str:
    """One line for an error: a file's ``strerror: filename``, else its message."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc) or type(exc).__name__


def run_ok(summaries: Sequence[IngestSummary], errors: Sequence[str]) -> bool:
    """The balance rule: no error, and every batch balanced (rows = records +
    quarantined rows; lines = lines in rows + blank lines)."""
    return not errors and all(s.balanced for s in summaries)


def _load_all(paths: Sequence[Path], errors: list[str]) -> list[Manifest]:
    """Every usable manifest under ``paths`` (:func:`load_manifests`); errors appended."""
    manifests, problems = load_manifests(list(paths))
    if not find_manifests(list(paths)):
        errors.append(f"no manifests (*.yaml) found in {', '.join(map(str, paths))}")
    errors.extend(str(e) for e in problems)
    return manifests


def _not_ingested(rest: Sequence[Manifest]) -> str:
    return f"; not ingested: {', '.join(x.id for x in rest)}" if rest else ""


def _confine(manifests: list[Manifest], errors: list[str]) -> list[Manifest]:
    """The manifests that read a file in their own folder only (``input.allow_outside``
    refused); the others named in ``errors``."""
    kept = []
    for m in manifests:
        if m.input.allow_outside:
            errors.append(f"refused {m.id}: input.allow_outside is not accepted here; the "
                          "data file must sit beside its manifest (store unchanged)")
        else:
            kept.append(m)
    return kept


def run_ingest(
    store: Store, paths: Sequence[Path], settings: Settings,
    on_progress: OnProgress | None = None, *, confined: bool = False,
) -> tuple[list[IngestSummary], list[str]]:
    """Ingest every manifest under ``paths``; return summaries and errors (see module
    doc). ``on_progress(f"ingesting {source}", rows done, total)``: total is None until
    the batch is done, then its rows (0 for a source not stored). ``confined``: each
    manifest may read only a file inside its own folder (symlinks followed), whatever
    ``input.allow_outside`` or the setting ``allow_outside_paths`` say (an upload must
    not make the server read its own files)."""
    say = on_progress or (lambda label, done, total: None)
    summaries: list[IngestSummary] = []
    errors: list[str] = []
    manifests = _load_all(paths, errors)
    if confined:
        manifests = _confine(manifests, errors)
        settings = settings.model_copy(update={"allow_outside_paths": False})
    with worker_pool(settings.ingest_workers) as pool, \
            FilesAhead(manifests, settings, pool) as files:
        for i, m in enumerate(manifests):
            label = f"ingesting {m.id}"
            done = [0]
            say(label, 0, None)

            def advance(n: int, label: str = label, done: list[int] = done) -> None:
                done[0] += n
                say(label, done[0], None)

            rest = manifests[i + 1:]
            try:
                s = ingest_manifest(store, m, settings, progress=advance, pool=pool,
                                    opened=files.take(i), after_read=files.opener(i))
            except AfterIngestError as exc:  # stored; the search index's update stopped
                summaries.append(exc.summary)
                say(label, exc.summary.rows, exc.summary.rows)
                stop = interruption(exc.cause)
                if stop is None:
                    errors.append(f"{m.id} is stored, but updating the search index after it "
                                  f"failed ({describe(exc.cause)}): run `idgraph index rebuild`")
                    continue
                errors.append(
                    f"{_how(stop)} after storing {m.id}: its records are stored, the search "
                    "index may lag (`idgraph index check` names the difference)"
                    + _not_ingested(rest))
                raise IngestInterrupted(summaries, errors, stop_code(stop)) from None
            except FileRejected as exc:
                _stopped_by_signal(exc, m, rest, summaries, errors)
                errors.append(f"rejected {exc.path}: {exc.cause} (store unchanged)")
                say(label, 0, 0)
                continue
            except ManifestError as exc:  # found while reading (e.g. a path outside)
                errors.append(f"{exc} (store unchanged)")
                say(label, 0, 0)
                continue
            except OSError as exc:  # unreadable after all (permissions, a folder, I/O)
                _stopped_by_signal(exc, m, rest, summaries, errors)
                errors.append(f"rejected {m.input_path}: {describe(exc)} (store unchanged)")
                say(label, 0, 0)
                continue
            except (KeyboardInterrupt, duckdb.Error, psycopg.Error) as caught:
                # DuckDB runs the signal handler inside a query: the interrupt may come back
                # as a DuckDB error (an interrupted or aborted transaction) with it as cause
                stop = interruption(caught)
                if stop is None:
                    assert isinstance(caught, duckdb.Error | psycopg.Error)
                    first = (str(caught).splitlines() or [type(caught).__name__])[0]
                    errors.append(
                        f"the store failed while ingesting {m.id} ({first}): "
                        "nothing of it was stored; the run stopped" + _not_ingested(rest))
                    break
                _raise_interrupted(stop, m, rest, summaries, errors)
            except Exception as exc:  # a bug in a reader must not print a traceback
                _stopped_by_signal(exc, m, rest, summaries, errors)
                errors.append(f"rejected {m.input_path}: {type(exc).__name__}: {exc} "
                              "(store unchanged)")
                say(label, 0, 0)
                continue
            say(label, s.rows, s.rows)
            summaries.append(s)
    return summaries, errors


def _stopped_by_signal(exc: BaseException, m: Manifest, rest: Sequence[Manifest],
                       summaries: list[IngestSummary], errors: list[str]) -> None:
    """A Ctrl-C or SIGTERM that landed in a reader's DuckDB query (or another call that
    turned it into its own error: "Query interrupted") comes back as the file's error:
    after a signal, any error of the batch is the interruption (raised as such)."""
    stop = interruption(exc) if _SIGNALLED else None
    if stop is not None:
        _raise_interrupted(stop, m, rest, summaries, errors)


def _raise_interrupted(stop: BaseException, m: Manifest, rest: Sequence[Manifest],
                       summaries: list[IngestSummary], errors: list[str]) -> NoReturn:
    """Stop the run: ``m`` was interrupted, nothing of it stored."""
    errors.append(
        f"{_how(stop)} while ingesting {m.id}: nothing of it was stored"
        + _not_ingested(rest)
        + (f"; stored before: {', '.join(x.source_id for x in summaries)}"
           if summaries else ""))
    raise IngestInterrupted(summaries, errors, stop_code(stop)) from None


def interrupted_message(stop: BaseException) -> str:
    """What an interruption outside a batch (waiting for the store, closing it) left."""
    return (f"{_how(stop)}: no source whose ingest had not finished was stored; "
            "`idgraph sources` lists what is")
