"""CLI: ``idgraph index rebuild|check``: the search index beside the store.

Ingest, resolve, live attach and retention keep the index in step on their own (the
hooks are installed when the CLI loads: :func:`idgraph.search.sync.install_hooks`);
``rebuild`` makes it again from the store, ``check`` says whether it agrees with the
store and, if not, names the records that differ (exit 1).
"""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from idgraph.cli.common import console, fail, progress, settings_of, store_of
from idgraph.search.index import SearchIndex, SearchIndexError, index_dir
from idgraph.search.sync import install_hooks

index_app = typer.Typer(help="The search index: rebuild it from the store, or check it.")

CHECK_DIFFERS = 1  # exit status of `index check` when the index and the store differ


@index_app.command("rebuild")
def rebuild_command(ctx: typer.Context) -> None:
    """Index every current record again, from the store (any old index made anew)."""
    settings = settings_of(ctx)
    with store_of(ctx) as store:
        total = int(store.scalar("SELECT count(*) FROM records WHERE is_current"))
        try:
            index = SearchIndex.open(settings)
        except SearchIndexError:
            index = SearchIndex.create(index_dir(settings))
        with progress() as bar:
            task = bar.add_task("indexing records", total=total)
            written = index.rebuild(store, progress=lambda n: bar.advance(task, n))
    console.print(f"indexed {written:,} records in {escape(str(index.path))}", soft_wrap=True)


@index_app.command("check")
def check_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the differences as JSON."),
    show: int = typer.Option(10, "--show", min=0, help="Record ids shown per difference."),
) -> None:
    """Compare the index with the store; exit 1 naming the differences, if any."""
    settings = settings_of(ctx)
    if not SearchIndex.exists(settings):
        raise fail(f"no search index in {index_dir(settings)}: run `idgraph index rebuild`")
    with store_of(ctx) as store:
        try:
            diff = SearchIndex.open(settings).check(store)
        except SearchIndexError as exc:
            raise fail(str(exc)) from None
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
    """Add this group's commands to the root app, and keep the index in step with every
    command that changes records or identities."""
    install_hooks()
    app.add_typer(index_app, name="index")
