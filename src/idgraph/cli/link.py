"""CLI commands for idgraph.link: resolve, explain, judge, evaluate.

Thin shells: each command calls one library function and prints its result.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from idgraph.cli.common import DENIED, console, fail, progress, settings_of, store_of


def resolve_command(
    ctx: typer.Context,
    retrain: bool = typer.Option(False, "--retrain", help="Train a new model first."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Override the match threshold."
    ),
) -> None:
    """Link all current records into identities (train a model if none is saved)."""
    from idgraph.link.resolve import resolve

    settings = settings_of(ctx)
    if threshold is not None:
        settings = settings.model_copy(update={"match_threshold": threshold})
    with store_of(ctx) as store, progress() as bar:
        task = bar.add_task("resolving", total=None)
        summary = resolve(store, settings, lambda msg: bar.update(task, description=msg),
                          retrain=retrain)
    table = Table(title=f"run {summary.run_id}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in asdict(summary).items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    console.print(table)


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
    from idgraph.cli.access import denied
    from idgraph.policy import AccessDenied, Registry
    from idgraph.policy.explain import read_explanation
    from idgraph.schema import Query

    codes = tuple(c.strip() for v in claims or [] for c in v.split(",") if c.strip())
    query = Query(principal=actor, purpose=purpose, claims=codes, basis=basis, case_id=case_id)
    with store_of(ctx) as store:
        try:
            ex = read_explanation(store, query, record_a, record_b,
                                  registry=Registry(store, settings=settings_of(ctx)))
        except AccessDenied as exc:
            raise denied(exc) from exc
        except (KeyError, LookupError) as exc:
            raise fail(str(exc)) from exc
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


JUDGE_ROLES = ("supervisor", "records_officer")


def judge_command(
    ctx: typer.Context,
    record_a: str = typer.Argument(...),
    record_b: str = typer.Argument(...),
    verdict: str = typer.Argument(..., help="same | different | unsure"),
    by: str = typer.Option(..., "--by", help="Who judges."),
    reason: str = typer.Option("", "--reason", help="Why."),
) -> None:
    """Record a human judgement on a pair (applies at the next resolve).

    ``--by`` is a user: an active supervisor or records officer. A judgement merges or
    splits identities, and so moves records in or out of what an identity-scoped warrant
    or a subject-access request covers; and an anonymous caller must not learn whether a
    record id (often a licence number) exists."""
    from idgraph.audit import AuditEntry, record
    from idgraph.link.judge import judge
    from idgraph.policy.users import get_user

    with store_of(ctx) as store:
        user = get_user(store, by)
        if user is None or not user.active or user.role not in JUDGE_ROLES:
            why = ("unknown or disabled user" if user is None or not user.active
                   else f"role {user.role!r} may not judge")
            with store.transaction():
                record(store, AuditEntry(
                    principal=by, organisation=user.org if user else None,
                    role=user.role if user else None, action="link.judge", outcome="deny",
                    detail={"reason": why, "roles": list(JUDGE_ROLES)},
                ))
            raise fail(f"{by!r} may not judge links ({why}; needs {', '.join(JUDGE_ROLES)})",
                       code=DENIED)
        try:
            j = judge(store, record_a, record_b, verdict, by=by, reason=reason)
        except (KeyError, ValueError) as exc:
            raise fail(str(exc)) from exc
    console.print(escape(f"{j.judgement_id}: {j.record_id_l} / {j.record_id_r} -> "
                         f"{j.verdict.value}"))


def evaluate_command(
    ctx: typer.Context,
    truth: Path = typer.Option(..., "--truth", exists=True, help="truth.csv of a synth run."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compare identities with ground truth (pairwise and B-cubed)."""
    from idgraph.link.evaluate import evaluate_files

    with store_of(ctx) as store:
        ev = evaluate_files(store, truth)
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
    app.command("resolve")(resolve_command)
    app.command("explain")(explain_command)
    app.command("judge")(judge_command)
    app.command("evaluate")(evaluate_command)
