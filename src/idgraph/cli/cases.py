"""``idgraph cases``: open, close, list; assign (members), subjects, notes, activity,
and the subject-access supplements closing makes due (and marking one sent).

Thin shells over :mod:`idgraph.app.cases` (parse, call, print): every act is decided
and audited there (need-to-know included); no decision and no SQL here.
"""

from __future__ import annotations

import typer
from rich.markup import escape

from idgraph.app import cases as app_cases
from idgraph.app.errors import AppError
from idgraph.cases import KINDS
from idgraph.cli.access import AS, JSON, cli_caller, show_rows
from idgraph.cli.common import console
from idgraph.cli.shell import app_exit, env_of

cases_app = typer.Typer(help="Cases: every read needs an open case, and its members.")


@cases_app.command("open")
def cases_open(
    ctx: typer.Context,
    case_id: str,
    title: str = typer.Option(..., "--title"),
    kind: str = typer.Option(
        "criminal", "--kind", help=" | ".join(KINDS) + " (purposes fit kinds)"
    ),
    actor: str = AS,
) -> None:
    """Open a case of your organisation; you are its first member."""
    with env_of(ctx) as env:
        try:
            case = app_cases.open_case(env, cli_caller(actor), case_id, title=title, kind=kind)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"opened {case.case_id} for {case.org}"))


@cases_app.command("close")
def cases_close(ctx: typer.Context, case_id: str, actor: str = AS) -> None:
    """Close a case: reads and watches under it stop; withheld disclosures are released."""
    with env_of(ctx) as env:
        try:
            app_cases.close_case(env, cli_caller(actor), case_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"closed {case_id}"))


@cases_app.command("list")
def cases_list(
    ctx: typer.Context,
    org: str | None = typer.Option(None, "--org"),
    status: str | None = typer.Option(None, "--status"),
    actor: str = AS,
    as_json: bool = JSON,
) -> None:
    """List cases (an overseer sees every organisation's, others their own)."""
    with env_of(ctx) as env:
        try:
            found = app_cases.list_cases(env, cli_caller(actor), org=org, status=status)
        except AppError as exc:
            raise app_exit(exc) from exc
    rows = [[c.case_id, c.title, c.status, c.kind, c.org, c.opened_by, c.opened_at] for c in found]
    show_rows("cases", ["case", "title", "status", "kind", "org", "by", "at"], rows, as_json)


@cases_app.command("assign")
def cases_assign(
    ctx: typer.Context,
    case_id: str,
    add: list[str] = typer.Option([], "--add", help="Assign this user (repeat for more)."),
    remove: list[str] = typer.Option([], "--remove", help="Remove this member (repeatable)."),
    actor: str = AS,
) -> None:
    """Assign, remove or reassign (--add and --remove at once) a case's members: a
    supervisor of its organisation."""
    with env_of(ctx) as env:
        try:
            after = app_cases.assign(env, cli_caller(actor), case_id, add=add, remove=remove)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"{case_id} members: {', '.join(after)}"))


@cases_app.command("members")
def cases_members(ctx: typer.Context, case_id: str, actor: str = AS,
                  as_json: bool = JSON) -> None:
    """Every assignment of a case, current and ended."""
    with env_of(ctx) as env:
        try:
            found = app_cases.members(env, cli_caller(actor), case_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    rows = [[m.member, m.added_by, m.added_at, m.removed_by, m.removed_at] for m in found]
    show_rows(f"members of {case_id}", ["member", "added by", "added at", "removed by",
                                         "removed at"], rows, as_json)


@cases_app.command("subjects")
def cases_subjects(
    ctx: typer.Context,
    case_id: str,
    add: str | None = typer.Option(None, "--add", help="Name this identity a subject."),
    actor: str = AS,
    as_json: bool = JSON,
) -> None:
    """List a case's subjects, or name one (--add IDENTITY)."""
    with env_of(ctx) as env:
        try:
            if add is not None:
                app_cases.add_subject(env, cli_caller(actor), case_id, add)
            found = app_cases.subjects(env, cli_caller(actor), case_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    rows = [[s.identity_id, s.added_by, s.added_at] for s in found]
    show_rows(f"subjects of {case_id}", ["identity", "added by", "added at"], rows, as_json)


@cases_app.command("note")
def cases_note(
    ctx: typer.Context,
    case_id: str,
    text: str = typer.Argument(..., help="The note (append-only: never edited)."),
    identity: str | None = typer.Option(None, "--identity", help="About this subject."),
    actor: str = AS,
) -> None:
    """Append a note to a case (about one of its subjects, or the case)."""
    with env_of(ctx) as env:
        try:
            note = app_cases.add_note(env, cli_caller(actor), case_id, text,
                                      identity_id=identity)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"noted {note.note_id} on {case_id}"))


@cases_app.command("notes")
def cases_notes(ctx: typer.Context, case_id: str, actor: str = AS,
                as_json: bool = JSON) -> None:
    """A case's notes (its members and its organisation's supervisors only)."""
    with env_of(ctx) as env:
        try:
            found = app_cases.notes(env, cli_caller(actor), case_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    rows = [[n.note_id, n.at, n.author, n.identity_id, n.text] for n in found]
    show_rows(f"notes of {case_id}", ["note", "at", "author", "subject", "text"], rows,
              as_json)


@cases_app.command("activity")
def cases_activity(
    ctx: typer.Context,
    case_id: str,
    offset: int = typer.Option(0, "--offset", min=0),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    actor: str = AS,
    as_json: bool = JSON,
) -> None:
    """Every read, search, match, alert, export and download under a case (from the audit
    log), newest first."""
    with env_of(ctx) as env:
        try:
            page = app_cases.activity(env, cli_caller(actor), case_id, offset=offset,
                                      limit=limit)
        except AppError as exc:
            raise app_exit(exc) from exc
    rows = [[a.seq, a.time, a.principal, a.role, a.action, a.outcome, a.purpose, a.records,
             a.identities] for a in page.items]
    title = f"activity of {case_id}: {page.offset + 1}-{page.offset + len(rows)} of {page.total}"
    show_rows(title, ["entry", "time", "who", "role", "action", "outcome", "purpose", "records",
                      "identities"], rows, as_json)


@cases_app.command("supplements")
def cases_supplements(ctx: typer.Context, actor: str = AS, as_json: bool = JSON) -> None:
    """Subject-access requests owed a supplement since a case that withheld disclosures
    about their person closed (records officers)."""
    with env_of(ctx) as env:
        try:
            found = app_cases.supplements_due(env, cli_caller(actor))
        except AppError as exc:
            raise app_exit(exc) from exc
    rows = [[s.sar_id, s.identity_id, s.case_id, s.released, s.flagged_at] for s in found]
    show_rows("supplements due", ["request", "identity", "case", "released", "flagged"], rows,
              as_json)


@cases_app.command("supplement-sent")
def cases_supplement_sent(ctx: typer.Context, sar_id: str, case_id: str,
                          actor: str = AS) -> None:
    """Record that the supplement a closed case made due to a request was sent."""
    with env_of(ctx) as env:
        try:
            app_cases.supplement_sent(env, cli_caller(actor), sar_id, case_id)
        except AppError as exc:
            raise app_exit(exc) from exc
    console.print(escape(f"supplement of {sar_id} for {case_id} recorded as sent"))
