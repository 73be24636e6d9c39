"""What every CLI command over :mod:`idgraph.app` shares: the Env of the data dir, the
Caller a command acts as, progress bars fed by an act's ``on_progress``, and the exit
an :class:`~idgraph.app.errors.AppError` ends a command with."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.markup import escape
from rich.progress import Progress, TaskID

from idgraph.app.context import Caller, Env
from idgraph.app.errors import AppError, Denied
from idgraph.cli.common import DENIED, err_console, fail, settings_of, store_of

OPERATOR_PREFIX = "operator:"

AS_OPERATOR = typer.Option(
    None, "--as",
    help="Act as this user (default: the local operator, operator:<os user>).")


def operator() -> str:
    """The local operator's principal: ``operator:<os user>`` (see docs/policy.md)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        name = "unknown"
    return OPERATOR_PREFIX + name


def data_caller(actor: str | None) -> Caller:
    """The caller of a data act: the user named by ``--as``, else the local operator."""
    return Caller(actor=actor if actor is not None else operator(), via="cli")


def read_caller(actor: str, purpose: str, claims: list[str] | None, basis: str | None,
                case_id: str | None) -> Caller:
    """The caller of a read from the options every read command takes."""
    codes = tuple(c.strip() for item in claims or [] for c in item.split(",") if c.strip())
    return Caller(actor=actor, purpose=purpose, claims=codes,
                  basis=basis, case_id=case_id, via="cli")


@contextmanager
def env_of(ctx: typer.Context) -> Iterator[Env]:
    """The data dir's store and settings for the length of one command (see
    :func:`idgraph.cli.common.store_of`: waits for a store in use, one-line errors)."""
    with store_of(ctx) as store:
        yield Env(store=store, settings=settings_of(ctx))


def app_exit(exc: AppError) -> typer.Exit:
    """Print an act's failure and return the Exit: a refusal by the policy layer exits
    with :data:`DENIED` (3) and, for a read, shows the rule of every source decided;
    every other failure exits 1."""
    if isinstance(exc, Denied):
        from idgraph.cli.access import print_whole, table_of  # access may import this module

        rows = [[str(e["source"]), "permitted" if e.get("permitted") else "denied",
                 ", ".join(e.get("rules", ()))] for e in exc.errors if "source" in e]
        if rows:
            print_whole(table_of("denied: per source", ["source", "outcome", "rules"], rows),
                        err_console)
        return fail(str(exc), code=DENIED)
    return fail(str(exc))


def reporter(bar: Progress) -> Callable[[str, int, int | None], None]:
    """An ``on_progress(label, done, total)`` that keeps one task of ``bar`` per label."""
    tasks: dict[str, TaskID] = {}

    def report(label: str, done: int, total: int | None) -> None:
        task = tasks.get(label)
        if task is None:
            task = tasks[label] = bar.add_task(escape(label), total=total)
        bar.update(task, completed=done, total=total)

    return report
