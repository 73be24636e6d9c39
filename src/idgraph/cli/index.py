"""CLI: ``idgraph index rebuild|check``: the search index beside the store.

Ingest, resolve, live attach and retention keep the index in step on their own (the
hooks are installed by :mod:`idgraph.app.data`: :func:`idgraph.search.sync.install_hooks`);
``rebuild`` makes it again from the store, ``check`` says whether it agrees with the
store and, if not, names the records that differ (exit 1).
"""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from idgraph.app import data as app_data
from idgraph.app.errors import AppError
from idgraph.cli.common import console, progress
from idgraph.cli.shell import AS_OPERATOR, app_exit, data_caller, env_of, reporter

index_app = typer.Typer(help="The search index: rebuild it from the store, or check it.")

CHECK_DIFFERS = 1  # exit status of `index check` when the index and the store differ


@index_app.command("rebuild")
def rebuild_command(ctx: typer.Context, actor: str | None = AS_OPERATOR) -> None:
    """Index every current record again, from the store (any old index made anew)."""
    with env_of(ctx) as env, progress() as bar:
        try:
            written = app_data.index_rebuild(env, data_caller(actor), on_progress=reporter(bar))
        except AppError as exc:
            raise app_exit(exc) from exc
        path = app_data.index_path(env)
    console.print(f"indexed {written:,} records in {escape(str(path))}", soft_wrap=True)


@index_app.command("check")
def check_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the differences as JSON."),
    show: int = typer.Option(10, "--show", min=0, help="Record ids shown per difference."),
    actor: str | None = AS_OPERATOR,
) -> None:
    """Compare the index with the store; exit 1 naming the differences, if any."""
    with env_of(ctx) as env:
        try:
            diff = app_data.index_check(env, data_caller(actor))
        except AppError as exc:
            raise app_exit(exc) from exc
    if as_json:
        shown = {k: list(getattr(diff, k))[:show] for k in diff.counts()}
        print(json.dumps({"agrees": diff.empty, "layout": diff.layout,
                          "counts": diff.counts(), **shown}))
    elif diff.empty:
        console.print("the index agrees with the store")
    else:
        for line in diff.lines(show):
            console.print(escape(line), soft_wrap=True, markup=False)
    if not diff.empty:
        raise typer.Exit(CHECK_DIFFERS)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.add_typer(index_app, name="index")
