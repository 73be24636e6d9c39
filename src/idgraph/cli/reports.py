"""CLI: ``idgraph report ...`` — subject access, oversight, correction notices.

Thin shells over :mod:`idgraph.app.reports`: the application decides (Cedar), audits
and builds the report; these commands pick the format from ``--out``'s suffix
(``.html`` or ``.json``) and write the file.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer

from idgraph.app import reports
from idgraph.app.errors import AppError
from idgraph.audit.reports import Thresholds, format_of, write
from idgraph.cli.access import cli_caller
from idgraph.cli.common import console, fail
from idgraph.cli.shell import env_of

report_app = typer.Typer(
    help="Reports: subject access, oversight, correction notices.", no_args_is_help=True
)

AsOption = typer.Option(..., "--as", envvar="IDGRAPH_USER", help="Act as this user.")
OutOption = typer.Option(..., "--out", help="File to write: .html or .json.")
DAY = ["%Y-%m-%d"]


def _check_out(out: Path) -> None:
    try:
        format_of(out)
    except ValueError as exc:
        raise fail(str(exc)) from exc


@report_app.command("subject")
def subject_command(
    ctx: typer.Context,
    identity_id: str = typer.Argument(..., help="Identity id (P-...)."),
    out: Path = OutOption,
    copy: str = typer.Option("subject", "--copy", help="subject | overseer"),
    as_user: str = AsOption,
) -> None:
    """Records held about a person, who received them (with proofs), notices."""
    _check_out(out)
    if copy not in ("subject", "overseer"):
        raise fail("--copy must be subject or overseer")
    with env_of(ctx) as env:
        try:
            report = reports.subject_report(env, cli_caller(as_user), identity_id, copy=copy)
        except AppError as exc:  # a refusal too: exit 1, as ever for reports
            raise fail(str(exc)) from exc
    write(report, out)
    withheld = f", {report.withheld} withheld" if report.withheld else ""
    console.print(
        f"wrote {out}: {report.record_count} records, {len(report.disclosures)} "
        f"disclosures{withheld}, {len(report.notices)} notices (entry #{report.report_entry})",
        soft_wrap=True, markup=False,
    )


@report_app.command("oversight")
def oversight_command(
    ctx: typer.Context,
    start: datetime = typer.Option(..., "--from", formats=DAY, help="First day (UTC)."),
    end: datetime = typer.Option(..., "--to", formats=DAY, help="Last day (UTC), inclusive."),
    out: Path = OutOption,
    many_users: int = typer.Option(3, "--many-users", min=2, help="Users reading one person."),
    drift: float = typer.Option(0.5, "--drift", min=0.0, max=1.0, help="Purpose-mix change."),
    drift_min: int = typer.Option(3, "--drift-min-reads", min=1, help="Reads in each half."),
    burst_reads: int = typer.Option(20, "--burst-reads", min=2, help="Reads in a burst."),
    burst_minutes: int = typer.Option(10, "--burst-minutes", min=1, help="Burst length."),
    as_user: str = AsOption,
) -> None:
    """Reads, denials, legal process, notices, patterns and corrections over a window."""
    _check_out(out)
    t = Thresholds(many_users, drift, drift_min, burst_reads, burst_minutes)
    with env_of(ctx) as env:
        try:
            report = reports.oversight_report(
                env, cli_caller(as_user), start=start.date(), end=end.date(), thresholds=t
            )
        except AppError as exc:
            raise fail(str(exc)) from exc
    write(report, out)
    console.print(
        f"wrote {out}: {report.totals['reads']} reads, {len(report.patterns)} patterns, "
        f"{len(report.corrections)} corrections (entry #{report.report_entry})",
        soft_wrap=True, markup=False,
    )


@report_app.command("corrections")
def corrections_command(
    ctx: typer.Context,
    out: Path = OutOption,
    since: datetime | None = typer.Option(None, "--since", formats=DAY, help="From this day."),
    as_user: str = AsOption,
) -> None:
    """Recipients owed a correction after a merge or split of an identity they received."""
    _check_out(out)
    since_day: date | None = since.date() if since else None
    with env_of(ctx) as env:
        try:
            report = reports.corrections_report(env, cli_caller(as_user), since=since_day)
        except AppError as exc:
            raise fail(str(exc)) from exc
    write(report, out)
    console.print(f"wrote {out}: {len(report.corrections)} corrections owed", soft_wrap=True,
                  markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``report`` group to the root app."""
    app.add_typer(report_app, name="report")
