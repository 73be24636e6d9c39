"""The ``idgraph`` command line: thin shells over the library, one module per group.

Each module in this package exposes ``register(app)`` adding its commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from idgraph.cli import (
    access,
    audit,
    data,
    db,
    link,
    passwd,
    policy,
    quarantine,
    reports,
    sar,
    tokens,
)
from idgraph.cli import feed as feed_cli
from idgraph.cli import index as index_cli
from idgraph.cli import search as search_cli
from idgraph.cli import serve as serve_cli
from idgraph.cli.common import data_dir_settings

app = typer.Typer(
    name="idgraph",
    help="Link person records into identities, search them lawfully, and audit every access.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(
        None, "--data-dir", envvar="IDGRAPH_DATA_DIR", help="Data folder (default ./idgraph-data)."
    ),
) -> None:
    ctx.obj = data_dir_settings(data_dir)


for _group in (data, db, quarantine, link, access, audit, policy, reports, sar, index_cli,
               search_cli):
    _group.register(app)
passwd.register(app)  # `users passwd`: adds to the users group of cli/access.py
tokens.register(app)
serve_cli.register(app)
feed_cli.register(app)  # issue 16: live feeds


def main() -> None:
    app()
