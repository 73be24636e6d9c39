"""``idgraph db``: the store's schema (``status``, ``upgrade``).

Every table is made by the numbered migrations of :mod:`idgraph.store.migrations`.
Opening a store applies the pending ones unless ``IDGRAPH_DATABASE_AUTO_UPGRADE=false``;
a server deployment on PostgreSQL sets it to false and runs ``idgraph db upgrade`` once,
before starting (or restarting) its processes (docs/deploy.md).
"""

from __future__ import annotations

import typer

from idgraph.cli.common import console, fail, open_waiting, settings_of, store_name
from idgraph.store import migrations

db_app = typer.Typer(help="The store's schema: status and upgrade (migrations).",
                     no_args_is_help=True)

PENDING = 2  # exit status of `db status --check` while migrations are pending


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False, soft_wrap=True)


@db_app.command("status")
def db_status(
    ctx: typer.Context,
    check: bool = typer.Option(
        False, "--check", help=f"Exit {PENDING} when migrations are pending (a readiness probe)."),
) -> None:
    """Show the backend, the schema version of the store and the migrations it lacks."""
    s = settings_of(ctx)
    store = open_waiting(s, upgrade=False)
    try:
        done = migrations.applied(store)
        dialect = store.dialect
    finally:
        store.close()
    shipped = migrations.migrations()
    latest = shipped[-1].version
    pending = [m for m in shipped if m.version not in done]
    backend = "PostgreSQL" if dialect == "postgres" else "DuckDB"
    _say(f"backend: {backend} {store_name(s)}")
    _say(f"data dir: {s.data_dir} (keys, search index)")
    _say(f"schema version: {max(done) if done else 'none'} (this release: {latest})")
    newer = [v for v in done if v > latest]
    if newer:
        raise fail(f"the database has schema version {max(newer)}, newer than this "
                   f"release's {latest}: upgrade idgraph")
    if not pending:
        _say("up to date")
        return
    _say(f"pending: {', '.join(f'{m.version:04d}_{m.name}' for m in pending)} "
         "(`idgraph db upgrade` applies them)")
    if check:
        raise typer.Exit(PENDING)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the pending migrations, each in one transaction (safe to run while other
    processes run: they queue on the schema lock; one applies, the rest find it done)."""
    s = settings_of(ctx)
    store = open_waiting(s, upgrade=False)
    try:
        try:
            applied_now = migrations.upgrade(store)
        except RuntimeError as exc:  # a database newer than this release
            raise fail(str(exc)) from None
        version = max(migrations.applied(store))
    finally:
        store.close()
    if applied_now:
        names = {m.version: f"{m.version:04d}_{m.name}" for m in migrations.migrations()}
        _say(f"applied {', '.join(names[v] for v in applied_now)} to {store_name(s)}; "
             f"schema version {version}")
    else:
        _say(f"{store_name(s)} is up to date (schema version {version})")


def register(app: typer.Typer) -> None:
    """Add the ``db`` group to the root app."""
    app.add_typer(db_app, name="db")
