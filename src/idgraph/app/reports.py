"""Reports over the audit log: subject access, oversight, correction notices.

Each is an act decided by Cedar (``report.subject`` — the subject's copy: records
officers and overseers, the overseer's copy: overseers; ``report.oversight``:
overseers; ``report.corrections``: records officers and overseers) through
:func:`~idgraph.app.gate.authorise_and_audit`. The report's own entry is appended
while it is built (the subject report proves it), with the rules and the policy-set
digest. These functions return the report object; rendering (HTML, JSON) stays in
:mod:`idgraph.audit.reports.render`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final, Literal

from idgraph.app.audit import log_of
from idgraph.app.context import Caller, Env
from idgraph.app.errors import Invalid
from idgraph.app.gate import authorise_and_audit, library_errors
from idgraph.audit import AuditIntegrityError
from idgraph.audit.keys import AuditKeyError
from idgraph.audit.reports import (
    CorrectionsReport,
    OversightReport,
    SubjectReport,
    Thresholds,
)
from idgraph.audit.reports import corrections_report as _corrections
from idgraph.audit.reports import oversight_report as _oversight
from idgraph.audit.reports import subject_report as _subject

__all__ = ["corrections_report", "oversight_report", "subject_report"]

COPIES = ("subject", "overseer")


def subject_report(
    env: Env, caller: Caller, identity_id: str, *,
    copy: Literal["subject", "overseer"] | str = "subject",
) -> SubjectReport:
    """What is held about one person, who received it (each with an inclusion proof
    against a signed checkpoint), notices owed and sent. A records officer gives the
    subject's copy only under an open subject-access request of their organisation."""
    if copy not in COPIES:
        raise Invalid("--copy must be subject or overseer", field="copy")
    chosen: Literal["subject", "overseer"] = "overseer" if copy == "overseer" else "subject"
    log = log_of(env)
    with authorise_and_audit(env, caller, "report.subject", target=identity_id,
                             variant=chosen) as rec, library_errors():
        rec.identity_ids = [identity_id]
        try:
            return _subject(env.store, identity_id, log=log, copy=chosen, decision=rec)
        except (AuditIntegrityError, AuditKeyError) as exc:
            raise Invalid(str(exc)) from exc


# The days a report window may name: an audit log starts after 1970, and a day near
# date.max cannot be stepped past (the report counts reads per day up to ``end``).
FIRST_DAY: Final = date(1970, 1, 1)
LAST_DAY: Final = date(9000, 12, 31)


def oversight_report(
    env: Env, caller: Caller, *, start: date, end: date,
    thresholds: Thresholds | None = None,
) -> OversightReport:
    """Reads, denials, legal process, notices, patterns and corrections over the days
    ``start`` to ``end`` (inclusive, UTC)."""
    if end < start:
        raise Invalid("the window ends before it starts", field="end")
    for field, day in (("start", start), ("end", end)):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise Invalid(f"{field} must fall between {FIRST_DAY} and {LAST_DAY}", field=field)
    with authorise_and_audit(env, caller, "report.oversight",
                             target=f"{start.isoformat()}..{end.isoformat()}") as rec, \
            library_errors():
        return _oversight(env.store, start=start, end=end, thresholds=thresholds,
                          actor=caller.actor, decision=rec)


def corrections_report(
    env: Env, caller: Caller, *, since: date | datetime | None = None
) -> CorrectionsReport:
    """Recipients owed a correction after a merge or split of an identity they
    received, since the start of ``since`` (a day) or that moment."""
    when: datetime | None
    if since is None or isinstance(since, datetime):
        when = since
    else:
        when = datetime.combine(since, datetime.min.time())
    with authorise_and_audit(env, caller, "report.corrections") as rec, library_errors():
        return _corrections(env.store, since=when, decision=rec)
