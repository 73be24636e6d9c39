"""CLI commands for lawful access: users, legal process, profiles, notices, retention.

Thin shells over :mod:`idgraph.app` (parse, call, print): every act is decided and
audited there; no decision and no SQL here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from idgraph import clock
from idgraph.app import admin, reads
from idgraph.app.context import Caller
from idgraph.app.errors import AppError
from idgraph.cli.common import console, fail
from idgraph.cli.shell import app_exit, env_of, read_caller
from idgraph.policy.legal import APPOINTMENTS, ISSUERS, TYPES
from idgraph.policy.profile import Profile

users_app = typer.Typer(help="Principals: users with a role and an organisation.")
legal_app = typer.Typer(help="Legal-process registry: orders, warrants, subpoenas, consents.")
notices_app = typer.Typer(help="Notices owed to people whose data was disclosed.")
retention_app = typer.Typer(help="Remove records held past their source's retention.")

AS = typer.Option(..., "--as", help="Act as this user.")
AS_OPT = typer.Option(None, "--as", help="Act as this user.")
JSON = typer.Option(False, "--json", help="Print JSON.")


def cli_caller(actor: str | None) -> Caller:
    """The caller of an administrative act: the user named by ``--as`` (none: nobody,
    which only the bootstrap of an empty users table accepts)."""
    return Caller(actor=actor or "", via="cli")


def split_codes(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def table_of(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        # cells are text: a title or name typed as "[/x]" is not Rich markup
        table.add_row(*(Text("" if v is None else str(v)) for v in r))
    return table


def _cell(v: object) -> object:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, date | datetime):
        return v.isoformat()
    return str(v)


def show_rows(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[object]], as_json: bool
) -> None:
    """Print rows as JSON (a list of objects) or as a table that never cuts a value:
    when the terminal is narrower than the table, it is printed at its full width and
    the terminal wraps the lines (ids stay whole, for copying)."""
    if as_json:
        keys = [c.replace(" ", "_") for c in columns]
        data = [dict(zip(keys, map(_cell, r), strict=True)) for r in rows]
        console.print_json(json.dumps(data))
        return
    print_whole(table_of(title, columns, rows), console)


def print_whole(table: Table, out: Console) -> None:
    """Print ``table`` without cutting or wrapping any cell: at its full width when the
    terminal is narrower (the terminal wraps the lines; ids stay whole for copying)."""
    for col in table.columns:
        col.no_wrap = True
    need = Console(width=100_000).measure(table).maximum
    if need > out.width:
        out = Console(file=out.file, width=need, force_terminal=out.is_terminal)
    out.print(table)


# -- users -----------------------------------------------------------------------------
@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: str,
    role: str = typer.Option(..., "--role"),
    org: str = typer.Option(..., "--org"),
    org_type: str = typer.Option("private", "--org-type", help="government|private|press|academic"),
    immigration_agency: bool = typer.Option(
        False, "--immigration-agency",
        help="The organisation primarily enforces immigration law (N.Y. VTL 201(12)).",
    ),
    actor: str | None = AS_OPT,
) -> None:
    """Add a user (the first user needs no --as; afterwards an admin must act)."""
    with env_of(ctx) as env:
        try:
            admin.add_user(env, cli_caller(actor), name, role, org, org_type=org_type,
                           immigration_agency=immigration_agency)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"added {name} ({role}, {org})"))


@users_app.command("list")
def users_list(ctx: typer.Context, actor: str = AS, as_json: bool = JSON) -> None:
    """List users (admin, supervisor, overseer; a supervisor sees their organisation's)."""
    with env_of(ctx) as env:
        try:
            users = admin.list_users(env, cli_caller(actor))
        except AppError as exc:
            raise app_exit(exc) from exc
    cols = ["name", "role", "org", "org type", "status"]
    rows = [
        [u.name, u.role, u.org, u.org_type, "disabled" if u.disabled else "active"] for u in users
    ]
    show_rows("users", cols, rows, as_json)


@users_app.command("disable")
def users_disable(ctx: typer.Context, name: str, actor: str | None = AS_OPT) -> None:
    with env_of(ctx) as env:
        try:
            admin.disable_user(env, cli_caller(actor), name)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"disabled {name}"))


# -- legal -----------------------------------------------------------------------------
@legal_app.command("add")
def legal_add(
    ctx: typer.Context,
    type_: str = typer.Option(..., "--type", help=" | ".join(TYPES)),
    number: str = typer.Option(..., "--number"),
    court: str | None = typer.Option(None, "--court", help="The issuing court (court-issued)."),
    judge: str | None = typer.Option(None, "--judge", help="The judge who signed it."),
    judge_appointment: str | None = typer.Option(
        None, "--judge-appointment", help=" | ".join(APPOINTMENTS)
    ),
    level: str | None = typer.Option(None, "--level", help="federal | state (consent: none)"),
    issuer: str | None = typer.Option(None, "--issuer", help=" | ".join(ISSUERS)),
    issued: datetime = typer.Option(..., "--issued", formats=["%Y-%m-%d"]),
    expires: datetime | None = typer.Option(None, "--expires", formats=["%Y-%m-%d"]),
    scope_identities: list[str] | None = typer.Option(None, "--scope-identities"),
    scope_sources: list[str] | None = typer.Option(None, "--scope-sources"),
    case_id: str = typer.Option(
        ..., "--case", help="The open case it was obtained for: it counts only under it."
    ),
    actor: str = AS,
) -> None:
    """Register a legal-process document; prints its id. It counts once verified, and only
    under its case."""
    with env_of(ctx) as env:
        try:
            doc = admin.add_legal(
                env,
                cli_caller(actor),
                type=type_,
                number=number,
                court=court,
                judge=judge,
                judge_appointment=judge_appointment,
                level=level,
                issuer=issuer,
                issued=issued.date(),
                expires=expires.date() if expires else None,
                scope_identities=split_codes(scope_identities),
                scope_sources=split_codes(scope_sources),
                case_id=case_id,
            )
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(doc.legal_id)


@legal_app.command("verify")
def legal_verify(
    ctx: typer.Context,
    legal_id: str,
    sha256: str = typer.Option(..., "--sha256", help="SHA-256 (hex) of the scanned document."),
    actor: str = AS,
) -> None:
    """Verify a document against its paper (a supervisor or counsel, not the registrant)."""
    with env_of(ctx) as env:
        try:
            doc = admin.verify_legal(env, cli_caller(actor), legal_id, sha256=sha256)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"{doc.legal_id} verified by {doc.verified_by}"))


@legal_app.command("list")
def legal_list(
    ctx: typer.Context,
    case_id: str | None = typer.Option(None, "--case"),
    actor: str = AS,
    as_json: bool = JSON,
) -> None:
    """List legal process (an overseer sees every organisation's, others their own)."""
    with env_of(ctx) as env:
        try:
            docs = admin.list_legal(env, cli_caller(actor), case_id=case_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    rows = [
        [
            d.legal_id,
            d.type,
            d.number,
            d.issuer,
            d.level,
            d.issued,
            d.expires,
            ",".join(d.scope_identities) or "*",
            ",".join(d.scope_sources) or "*",
            d.case_id,
        ]
        for d in docs
    ]
    cols = [
        "id",
        "type",
        "number",
        "issuer",
        "level",
        "issued",
        "expires",
        "identities",
        "sources",
        "case",
    ]
    show_rows("legal process", cols, rows, as_json)


# -- profile ---------------------------------------------------------------------------
def render_profile(profile: Profile, out: Console) -> None:
    """Print a profile as Rich tables (only what the profile holds: already minimised)."""
    out.print(
        f"[bold]identity {escape(profile.identity_id)}[/bold]"
        f"  purpose {escape(profile.query.purpose)}  case {escape(str(profile.query.case_id))}"
    )
    for sid, recs in profile.records.items():
        rows = [
            [r["record_id"], k, v]
            for r in recs
            for k, v in r.items()
            if v not in (None, "", []) and k not in ("record_id", "source_id")
        ]
        print_whole(table_of(f"source {sid}", ["record", "field", "value"], rows), out)
    for name in ("addresses", "phones", "vehicles", "events"):
        items = getattr(profile, name)
        if items:
            cols = list(dict.fromkeys(k for it in items for k in it))
            print_whole(table_of(name, cols, [[it.get(c) for c in cols] for it in items]), out)
    rows = [
        [
            s,
            "permitted" if o.included else "withheld",
            o.records,
            ", ".join(o.rules),
            ", ".join(o.duties),
        ]
        for s, o in profile.sources.items()
    ]
    print_whole(table_of("sources", ["source", "outcome", "records", "rules", "duties"], rows), out)
    if profile.notices:
        out.print("notices owed: " + ", ".join(profile.notices))


def profile_command(
    ctx: typer.Context,
    identity_id: str,
    actor: str = AS,
    purpose: str = typer.Option(..., "--purpose"),
    claims: list[str] | None = typer.Option(None, "--claims", help="Codes, comma-separated."),
    basis: str | None = typer.Option(None, "--basis", help="Registered legal-process id."),
    case_id: str | None = typer.Option(None, "--case"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Read an identity's profile under a purpose, claims, legal basis and case.

    Decided under the deployment's policy set (shipped + IDGRAPH_POLICY_DIR or
    DATA_DIR/policies; see `idgraph policy show`)."""
    caller = read_caller(actor, purpose, claims, basis, case_id)
    with env_of(ctx) as env:
        try:
            prof = reads.profile(env, caller, identity_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    if as_json:
        console.print_json(json.dumps(prof.to_dict()))
    else:
        render_profile(prof, console)


# -- notices ---------------------------------------------------------------------------
@notices_app.callback(invoke_without_command=True)
def notices_list(
    ctx: typer.Context,
    overdue: bool = typer.Option(False, "--overdue"),
    today: datetime | None = typer.Option(None, "--today", formats=["%Y-%m-%d"]),
    actor: str | None = typer.Option(None, "--as", help="Act as this user (required to list)."),
    as_json: bool = JSON,
) -> None:
    """List unsent notices (due and overdue) as --as USER (audited)."""
    if ctx.invoked_subcommand is not None:
        return
    if actor is None:
        raise fail("listing notices needs --as USER (the listing is decided and audited)")
    day = today.date() if today else clock.today()
    with env_of(ctx) as env:
        try:
            items = admin.list_notices(env, cli_caller(actor), today=day, overdue=overdue)
        except AppError as exc:
            raise app_exit(exc) from exc
    rows = [
        [
            n.notice_id,
            n.identity_id,
            n.org,
            ",".join(n.sources),
            n.rule,
            n.due_date,
            "OVERDUE" if n.overdue(day) else "due",
        ]
        for n in items
    ]
    cols = ["notice", "identity", "org", "sources", "rule", "due", "status"]
    show_rows("notices", cols, rows, as_json)


@notices_app.command("sent")
def notices_sent(
    ctx: typer.Context,
    notice_id: str,
    by: str = typer.Option(..., "--as", "--by", help="The records officer or supervisor."),
) -> None:
    """Record that a notice was sent (the act ``notices.send``; audited)."""
    with env_of(ctx) as env:
        try:
            admin.mark_notice_sent(env, cli_caller(by), notice_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"{notice_id} sent by {by}"))


# -- retention -------------------------------------------------------------------------
@retention_app.command("apply")
def retention_apply(
    ctx: typer.Context,
    actor: str | None = typer.Option(
        None, "--as", help="Act as this user (default: the local operator, operator:<os user>)."
    ),
    now: datetime | None = typer.Option(None, "--now", formats=["%Y-%m-%d"]),
) -> None:
    """Remove records past their source's retention_days (by ingested_at)."""
    from idgraph.cli.shell import data_caller

    with env_of(ctx) as env:
        try:
            run = admin.apply_retention(env, data_caller(actor), as_of=now)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(f"retention run {run.run_id}: {run.removed} removed")
    rows = [[s, n] for s, n in run.by_source.items()]
    console.print(table_of("removed by source", ["source", "records"], rows))


@retention_app.command("list")
def retention_list(ctx: typer.Context, actor: str = AS, as_json: bool = JSON) -> None:
    """List past retention runs (records officers, admins, overseers; audited)."""
    with env_of(ctx) as env:
        try:
            runs = admin.list_retention_runs(env, cli_caller(actor))
        except AppError as exc:
            raise app_exit(exc) from exc
    rows = [[r.run_id, r.ran_at, r.as_of, r.actor, r.removed,
             ", ".join(f"{s}={n}" for s, n in r.by_source.items())] for r in runs]
    show_rows("retention runs", ["run", "ran at", "as of", "by", "removed", "by source"], rows,
              as_json)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.add_typer(users_app, name="users")
    from idgraph.cli.cases import cases_app  # it uses this module's helpers

    app.add_typer(cases_app, name="cases")
    app.add_typer(legal_app, name="legal")
    app.add_typer(notices_app, name="notices")
    app.add_typer(retention_app, name="retention")
    app.command("profile")(profile_command)
