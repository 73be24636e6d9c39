"""``idgraph users passwd``: set a password (one's own, or another's as an admin).

Passwords are read from hidden prompts or, with ``--password-stdin``, from lines of
standard input; never from an argument (it would be in the shell history and the process
list), and never printed or logged.

One's own password (NAME is the ``--as`` user) is changed only on presenting the current
one: the prompt asks for it first (left empty when no password is set yet), and
``--password-stdin`` then reads two lines, the current password and the new one (a single
line is the new password alone: enough for a first password, or an admin setting another
user's).
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from idgraph.app import auth
from idgraph.app.context import Caller
from idgraph.app.errors import AppError
from idgraph.cli.common import console, fail
from idgraph.cli.shell import app_exit, env_of


def _line() -> str | None:
    """One line of stdin without its line end; ``None`` at the end of input."""
    line = sys.stdin.readline()
    if not line:
        return None
    line = line[:-1] if line.endswith("\n") else line
    return line[:-1] if line.endswith("\r") else line


def _from_stdin(own: bool) -> tuple[str | None, str]:
    """(current, new) from stdin: two lines for one's own (current, new), else one."""
    first = _line() or ""
    second = _line() if own else None
    return (first, second) if second is not None else (None, first)


def _from_prompt(own: bool) -> tuple[str | None, str]:
    current = None
    if own:
        current = typer.prompt("current password (empty if none is set yet)",
                               hide_input=True, default="", show_default=False) or None
    new = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    return current, new


def users_passwd(
    ctx: typer.Context,
    name: str,
    actor: str = typer.Option(..., "--as", help="Act as this user."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin",
        help="Read the password from stdin: one line (the new password), or for one's own "
             "password two lines (the current password, then the new one)."),
) -> None:
    """Set NAME's password (at least 12 characters); ends NAME's web sessions. One's own
    needs the current password too."""
    own = name == actor
    current, password = _from_stdin(own) if password_stdin else _from_prompt(own)
    problem = auth.password_problem(name, password)
    if problem:
        raise fail(problem)
    with env_of(ctx) as env:
        try:
            auth.set_password(env, Caller(actor=actor, via="cli"), name, password,
                              current=current)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"password set for {name}"))


def register(app: typer.Typer) -> None:
    """Add ``passwd`` to the ``users`` group (``idgraph users passwd``)."""
    from idgraph.cli.access import users_app

    users_app.command("passwd")(users_passwd)
