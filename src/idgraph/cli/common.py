"""Plumbing every command group shares: settings, the store, the console."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from idgraph.audit.integrity import AuditIntegrityError
from idgraph.audit.setup import attach as attach_audit
from idgraph.policy.cedar import PolicySetError
from idgraph.settings import Settings
from idgraph.store import Store, open_store

console = Console()
err_console = Console(stderr=True)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the root callback put on the context."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, Settings):
        obj = Settings()
        root.obj = obj
    return obj


def describe(exc: BaseException) -> str:
    """One line for an error the user can fix (a file, a folder, the policy set)."""
    if isinstance(exc, PolicySetError):
        return f"the deployment's policy set does not load: {exc}"
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc) or type(exc).__name__


# Raised from anywhere in a command, these are the user's to fix, not a crash: a file or
# folder that is missing or unreadable, a policy set that does not load, an audit log
# whose tables were edited (appending to it is refused, naming what is wrong).
USER_ERRORS: tuple[type[Exception], ...] = (PolicySetError, OSError, AuditIntegrityError)


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?)\s*\(PID (\d+)\)")
_PROGRESS_EVERY = 5.0  # seconds between "still waiting" lines


def lock_holder(message: str) -> tuple[int | None, str]:
    """The process that holds the store, from DuckDB's lock error: ``(PID, program)``;
    ``(None, "")`` when the message does not say."""
    m = _LOCK_HOLDER.search(message)
    if m is None:
        pid = re.search(r"\bPID (\d+)", message)
        return (int(pid.group(1)) if pid else None), ""
    return int(m.group(2)), m.group(1).strip()


def _holder_text(message: str) -> str:
    pid, program = lock_holder(message)
    if pid is None:
        return "another process"
    return f"process {pid}" + (f" ({os.path.basename(program)})" if program else "")


def lock_wait_seconds() -> float:
    """``IDGRAPH_LOCK_WAIT_SECONDS`` (default 30; 0 fails at once)."""
    try:
        wait = float(os.environ.get("IDGRAPH_LOCK_WAIT_SECONDS", "30"))
    except ValueError:
        return 30.0
    return wait if wait >= 0 and wait == wait else 30.0  # NaN and negatives: the default


def _open_waiting(s: Settings) -> Store:
    """Open the store; while another process holds it (DuckDB allows one writer per
    file), wait up to ``IDGRAPH_LOCK_WAIT_SECONDS`` (default 30) saying so on stderr,
    then end the command with one line naming the process that holds it: two processes
    never append to the log at once (no fork, no duplicate index), and the second never
    fails with a traceback."""
    wait = lock_wait_seconds()
    start = time.monotonic()
    next_note = start
    while True:
        try:
            return open_store(s.db_path, threads=s.threads, memory_limit=s.memory_limit)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise fail(f"cannot open the store {s.db_path}: {text.splitlines()[0]}") from None
            holder = _holder_text(text)
            now = time.monotonic()
            if now - start >= wait:
                raise fail(
                    f"the store {s.db_path} is in use by {holder}; nothing was done, retry "
                    f"(waited {wait:g} s; IDGRAPH_LOCK_WAIT_SECONDS sets how long)"
                ) from None
            if now >= next_note:
                first = next_note == start
                err_console.print(
                    f"{'waiting' if first else 'still waiting'} for the store: in use by "
                    f"{holder} ({now - start:.0f} s of {wait:g} s)",
                    soft_wrap=True, markup=False, highlight=False,
                )
                next_note = now + _PROGRESS_EVERY
            time.sleep(0.2)
        except duckdb.Error as exc:
            first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise fail(f"cannot open the store {s.db_path}: {first_line}") from None
        except OSError as exc:  # the data dir is a file, or cannot be created
            folder = s.db_path.parent
            if folder.exists() and not folder.is_dir():
                raise fail(f"cannot open the store {s.db_path}: the data dir {folder} "
                           "is a file, not a folder") from None
            raise fail(f"cannot open the store {s.db_path}: {describe(exc)}") from None


@contextmanager
def store_of(ctx: typer.Context) -> Iterator[Store]:
    """Open the store in the data dir for the length of one command; errors in
    :data:`USER_ERRORS` end the command with a one-line message (exit 1)."""
    s = settings_of(ctx)
    store = _open_waiting(s)
    try:
        attach_audit(store, s)  # automatic signed checkpoints on append (docs/audit.md)
        yield store
    except USER_ERRORS as exc:
        raise fail(describe(exc)) from exc
    finally:
        store.close()


def progress() -> Progress:
    """The progress bar every long job shows."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


DENIED = 3  # exit status of every refusal by the policy layer (a read or an act)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error and return the Exit to raise."""
    # the message quotes what the user typed: "[/x]" is text, not Rich markup
    # one line whatever the terminal's width (a script reads it line by line)
    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


DataDirOption = typer.Option(
    None, "--data-dir", envvar="IDGRAPH_DATA_DIR", help="Data folder (default ./idgraph-data)."
)


def data_dir_settings(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir is not None else Settings()
