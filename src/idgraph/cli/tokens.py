"""``idgraph tokens``: API tokens (create, revoke, list). Thin shell over
:mod:`idgraph.app.auth`; a token's secret is printed once, on creation, and never again."""

from __future__ import annotations

import typer
from rich.markup import escape

from idgraph.app import auth
from idgraph.app.context import Caller
from idgraph.app.errors import AppError
from idgraph.cli.access import show_rows
from idgraph.cli.common import console, err_console
from idgraph.cli.shell import app_exit, env_of

tokens_app = typer.Typer(help="API tokens: bearer credentials for the REST API.")

AS = typer.Option(..., "--as", help="Act as this user.")


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    actor: str = AS,
    user: str | None = typer.Option(None, "--user", help="For this user (admin; default: you)."),
    name: str = typer.Option(..., "--name", help="What the token is for (shown in lists)."),
    days: int = typer.Option(30, "--days", help="Days until it expires (1-365)."),
) -> None:
    """Create a token and print it once (stdout): keep it now, it cannot be shown again."""
    with env_of(ctx) as env:
        try:
            grant = auth.create_token(env, Caller(actor=actor, via="cli"), user=user,
                                      name=name, days=days)
        except AppError as exc:
            raise app_exit(exc) from exc
    err_console.print(escape(
        f"token {grant.token_id} for {grant.user}, expires {grant.expires:%Y-%m-%d %H:%M} UTC; "
        "shown once: store it now (send it as 'Authorization: Bearer <token>')"))
    typer.echo(grant.secret)


@tokens_app.command("revoke")
def tokens_revoke(ctx: typer.Context, token_id: str, actor: str = AS) -> None:
    """Revoke a token (yours, or anyone's as an admin): it stops at once."""
    with env_of(ctx) as env:
        try:
            auth.revoke_token(env, Caller(actor=actor, via="cli"), token_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"revoked {token_id}"))


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context, actor: str = AS,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List your tokens (an admin: everyone's). Secrets are never shown."""
    with env_of(ctx) as env:
        try:
            tokens = auth.list_tokens(env, Caller(actor=actor, via="cli"))
        except AppError as exc:
            raise app_exit(exc) from exc
    rows = [
        [t.token_id, t.user, t.name, t.created_by, t.created, t.expires,
         "revoked" if t.revoked else "active", t.last_used]
        for t in tokens
    ]
    show_rows("tokens", ["id", "user", "name", "created by", "created", "expires", "status",
                         "last used"], rows, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")
