"""CLI commands for the deployment's policy set: show it, install a new one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from idgraph.app import admin
from idgraph.app.errors import AppError, Denied
from idgraph.cli.access import cli_caller
from idgraph.cli.common import console, fail
from idgraph.cli.shell import app_exit, env_of

policy_app = typer.Typer(help="The deployment's policy set (shipped rules + its own folder).")


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(data))
        return
    console.print(f"policy set {data['digest']}", soft_wrap=True)
    console.print(f"folder     {data['folder'] or '(none)'}", soft_wrap=True)
    if data["recorded_at"] is not None:
        at = datetime.fromisoformat(data["recorded_at"])
        console.print(f"recorded   {at:%Y-%m-%d %H:%M:%S} UTC by {data['recorded_by']} "
                      f"({data['recorded_how']})", soft_wrap=True)
    console.print("files:  " + ", ".join(data["files"]), soft_wrap=True)
    for pid in data["ids"]:
        console.print(f"  {pid}", soft_wrap=True)


@policy_app.command("show")
def policy_show(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the policy set in force: its digest (named in every audit entry) and rule ids."""
    with env_of(ctx) as env:
        try:
            data = admin.policy_show(env, cli_caller(None))
        except AppError as exc:
            raise app_exit(exc) from exc
    _print(data, as_json)


@policy_app.command("install")
def policy_install(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="Folder of *.cedar files to install."),
    actor: str = typer.Option(..., "--as", help="Act as this user (an admin)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Validate FOLDER's policies and install them as the deployment's own (audited)."""
    with env_of(ctx) as env:
        try:
            admin.policy_install(env, cli_caller(actor), folder)
        except Denied as exc:
            raise app_exit(exc) from exc
        except AppError as exc:
            raise fail(f"policies in {folder} not installed: {exc}") from exc
        data = admin.policy_show(env, cli_caller(actor))
    _print(data, as_json)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.add_typer(policy_app, name="policy")
