"""Plumbing every command group shares: settings, the store, the console."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from idgraph.audit.setup import attach as attach_audit
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


@contextmanager
def store_of(ctx: typer.Context) -> Iterator[Store]:
    """Open the store in the data dir for the length of one command."""
    s = settings_of(ctx)
    store = open_store(s.db_path, threads=s.threads, memory_limit=s.memory_limit)
    attach_audit(store, s)  # automatic signed checkpoints on append (docs/audit.md)
    try:
        yield store
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


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error and return the Exit to raise."""
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


DataDirOption = typer.Option(
    None, "--data-dir", envvar="IDGRAPH_DATA_DIR", help="Data folder (default ./idgraph-data)."
)


def data_dir_settings(data_dir: Path | None) -> Settings:
    return Settings(data_dir=data_dir) if data_dir is not None else Settings()
