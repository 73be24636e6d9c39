"""CLI: ``idgraph report ...`` — subject access, oversight, correction notices.

Thin shells over :mod:`idgraph.audit.reports`: the library authorises, audits and
builds the report; these commands pick the format from ``--out``'s suffix
(``.html`` or ``.json``) and write the file.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer

from idgraph.audit import AuditIntegrityError
from idgraph.audit.keys import AuditKeyError
from idgraph.audit.reports import (
    ReportError,
    Thresholds,
    corrections_report,
    format_of,
    oversight_report,
    subject_report,
    write,
)
from idgraph.audit.setup import log_for
from idgraph.cli.common import console, fail, settings_of, store_of

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
    with store_of(ctx) as store:
        log = log_for(store, settings_of(ctx))
        try:
            report = subject_report(
                store,
                identity_id,
                log=log,
                actor=as_user,
                copy="overseer" if copy == "overseer" else "subject",
            )
        except (ReportError, AuditIntegrityError, AuditKeyError) as exc:
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
    with store_of(ctx) as store:
        try:
            report = oversight_report(
                store, start=start.date(), end=end.date(), actor=as_user, thresholds=t
            )
        except (ReportError, ValueError) as exc:
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
    with store_of(ctx) as store:
        try:
            report = corrections_report(
                store,
                actor=as_user,
                since=datetime.combine(since_day, datetime.min.time()) if since_day else None,
            )
        except ReportError as exc:
            raise fail(str(exc)) from exc
    write(report, out)
    console.print(f"wrote {out}: {len(report.corrections)} corrections owed", soft_wrap=True,
                  markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``report`` group to the root app."""
    app.add_typer(report_app, name="report")
