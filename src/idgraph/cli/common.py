"""Plumbing every command group shares: settings, the store, the console."""

from __future__ import annotations

import os
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


def _open_waiting(s: Settings) -> Store:
    """Open the store; while another process holds it (DuckDB allows one writer per
    file), wait up to ``IDGRAPH_LOCK_WAIT_SECONDS`` (default 30), then end the command
    with one line: two processes never append to the log at once (no fork, no duplicate
    index), and the second never fails with a traceback."""
    try:
        wait = max(0.0, float(os.environ.get("IDGRAPH_LOCK_WAIT_SECONDS", "30")))
    except ValueError:
        wait = 30.0
    deadline = time.monotonic() + wait
    while True:
        try:
            return open_store(s.db_path, threads=s.threads, memory_limit=s.memory_limit)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise fail(f"cannot open {s.db_path}: {str(exc).splitlines()[0]}") from None
            if time.monotonic() >= deadline:
                raise fail(
                    f"{s.db_path} is in use by another idgraph process (waited {wait:g} s; "
                    "IDGRAPH_LOCK_WAIT_SECONDS); nothing was done, try again"
                ) from None
            time.sleep(0.2)


@contextmanager
def store_of(ctx: typer.Context) -> Iterator[Store]:
    """Open the store in the data dir for the length of one command; errors in
    :data:`USER_ERRORS` end the command with a one-line message (exit 1)."""
    s = settings_of(ctx)
    store = _open_waiting(s)
    attach_audit(store, s)  # automatic signed checkpoints on append (docs/audit.md)
    try:
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
