"""CLI commands for idgraph.link: explain, judge, evaluate (``resolve`` is in cli/data.py).

Thin shells over :mod:`idgraph.app`: each command calls one act and prints its result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from idgraph.app import admin, reads
from idgraph.app import data as app_data
from idgraph.app.errors import AppError
from idgraph.cli.access import cli_caller
from idgraph.cli.common import console
from idgraph.cli.shell import app_exit, env_of, read_caller


def explain_command(
    ctx: typer.Context,
    record_a: str = typer.Argument(..., help="First record id (source/record)."),
    record_b: str = typer.Argument(..., help="Second record id."),
    actor: str = typer.Option(..., "--as", help="Act as this user."),
    purpose: str = typer.Option(..., "--purpose", help="Activity purpose."),
    claims: list[str] | None = typer.Option(None, "--claims", help="Codes, comma-separated."),
    basis: str | None = typer.Option(None, "--basis", help="Registered legal-process id."),
    case_id: str | None = typer.Option(None, "--case", help="Case id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the waterfall of match weights for two records (a policy-checked read)."""
    caller = read_caller(actor, purpose, claims, basis, case_id)
    with env_of(ctx) as env:
        try:
            ex = reads.explain(env, caller, record_a, record_b)
        except AppError as exc:
            raise app_exit(exc) from exc
    if as_json:
        console.print_json(json.dumps(ex, default=str))
        return
    console.print(_waterfall(ex))


def _num(v: float | None, fmt: str) -> str:
    return "withheld" if v is None else format(v, fmt)


def _waterfall(ex: dict[str, Any]) -> Table:
    table = Table(title=escape(f"{ex['record_a']} vs {ex['record_b']} (model {ex['model_id']})"))
    for col in ("comparison", "level", "weight", "probability", "why"):
        table.add_column(col)
    table.add_row("prior", "", f"{ex['prior_weight']:+.2f}", f"{ex['prior']:.6f}", "")
    for f in ex["features"]:
        table.add_row(f["comparison"], f["level"], _num(f["weight"], "+.2f"),
                      _num(f["running_probability"], ".6f"), escape(f["detail"]))  # values
    table.add_row("final", "", _num(ex["match_weight"], "+.2f"), _num(ex["probability"], ".6f"),
                  "")
    return table


def judge_command(
    ctx: typer.Context,
    record_a: str = typer.Argument(...),
    record_b: str = typer.Argument(...),
    verdict: str = typer.Argument(..., help="same | different | unsure"),
    by: str = typer.Option(..., "--by", "--as", help="Who judges (a user)."),
    reason: str = typer.Option("", "--reason", help="Why."),
) -> None:
    """Record a human judgement on a pair (applies at the next resolve).

    ``--by`` is a user: an active supervisor or records officer (the act ``link.judge``).
    A judgement merges or splits identities, and so moves records in or out of what an
    identity-scoped warrant or a subject-access request covers; and an anonymous caller
    must not learn whether a record id (often a licence number) exists."""
    with env_of(ctx) as env:
        try:
            j = admin.judge(env, cli_caller(by), record_a, record_b, verdict, reason=reason)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"{j.judgement_id}: {j.record_id_l} / {j.record_id_r} -> "
                         f"{j.verdict.value}"))


def evaluate_command(
    ctx: typer.Context,
    truth: Path = typer.Option(..., "--truth", exists=True, help="truth.csv of a synth run."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compare identities with ground truth (pairwise and B-cubed)."""
    with env_of(ctx) as env:
        try:
            ev = app_data.evaluate(env, truth)
        except AppError as exc:
            raise app_exit(exc) from exc
    if as_json:
        console.print_json(json.dumps(ev.as_dict()))
        return
    table = Table(title="identities vs truth")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in ev.as_dict().items():
        shown = f"{value:.5f}" if isinstance(value, float) else json.dumps(value)
        table.add_row(key, shown)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("explain")(explain_command)
    app.command("judge")(judge_command)
    app.command("evaluate")(evaluate_command)
