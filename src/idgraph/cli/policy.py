"""CLI commands for the deployment's policy set: show it, install a new one."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from idgraph.cli.common import DENIED, console, describe, fail, settings_of, store_of
from idgraph.policy.acts import ActDenied
from idgraph.policy.install import PolicyInstallError, PolicySetInfo, install_policies, show

policy_app = typer.Typer(help="The deployment's policy set (shipped rules + its own folder).")


def _print(info: PolicySetInfo, as_json: bool) -> None:
    rec = info.recorded
    data = {
        "digest": info.digest,
        "folder": info.folder,
        "files": list(info.files),
        "ids": list(info.ids),
        "recorded_at": rec.recorded_at.isoformat() if rec else None,
        "recorded_by": rec.recorded_by if rec else None,
        "recorded_how": rec.how if rec else None,
    }
    if as_json:
        console.print_json(json.dumps(data))
        return
    console.print(f"policy set {info.digest}", soft_wrap=True)
    console.print(f"folder     {info.folder or '(none)'}", soft_wrap=True)
    if rec is not None:
        console.print(f"recorded   {rec.recorded_at:%Y-%m-%d %H:%M:%S} UTC by {rec.recorded_by} "
                      f"({rec.how})", soft_wrap=True)
    console.print("files:  " + ", ".join(info.files), soft_wrap=True)
    for pid in info.ids:
        console.print(f"  {pid}", soft_wrap=True)


@policy_app.command("show")
def policy_show(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the policy set in force: its digest (named in every audit entry) and rule ids."""
    settings = settings_of(ctx)
    with store_of(ctx) as store:
        try:
            info = show(store, settings)
        except (ValueError, FileNotFoundError) as exc:
            raise fail(describe(exc)) from exc
    _print(info, as_json)


@policy_app.command("install")
def policy_install(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="Folder of *.cedar files to install."),
    actor: str = typer.Option(..., "--as", help="Act as this user (an admin)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Validate FOLDER's policies and install them as the deployment's own (audited)."""
    settings = settings_of(ctx)
    with store_of(ctx) as store:
        try:
            info = install_policies(store, folder, actor=actor, settings=settings)
        except ActDenied as exc:
            raise fail(str(exc), code=DENIED) from exc
        except PolicyInstallError as exc:
            raise fail(f"policies in {folder} not installed: {exc}") from exc
    _print(info, as_json)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.add_typer(policy_app, name="policy")
