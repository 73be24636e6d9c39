"""The subject-access report: what is held about one person, who received it, notices.

* Records: the current members of the identity (``identity_members``), by source,
  with provenance and the date retention removes them (``ingested_at`` + the source's
  ``retention_days``).
* Disclosures: every response that left the system naming the identity (or an
  identity merged into it) or any of its records, each with an inclusion proof
  against one signed checkpoint (signed now: it covers the report's own entry too).
* Notices owed and sent.
* The report's own ``report.subject`` entry, with its inclusion proof against the same
  checkpoint: it names the identity, the predecessor identities the report covers
  (``covers``), the sorted indexes of the disclosures shown (``shown``) and the number
  withheld, so a copy with a disclosure removed, added or swapped, or another withheld
  count, no longer matches what the log signed (tools/verify_audit.py checks it).

The subject's copy withholds disclosures (and their notices) made in an OPEN
CRIMINAL case, and says how many; the overseer's copy shows everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

from idgraph.audit import AuditLog
from idgraph.audit.reports.common import (
    DISCLOSURE_ACTIONS,
    CheckpointInfo,
    Decided,
    Disclosure,
    NoticeRow,
    Proof,
    ReportError,
    audit_report,
    cases_by_id,
    checkpoint_info,
    covering_checkpoint,
    disclosure_of,
    is_withholdable,
    iso,
    load_entries,
    load_notices,
    now,
    producer,
    prove,
    refuse,
    utc,
)
from idgraph.schema import NORMALISED_COLUMNS
from idgraph.store import Store
from idgraph.store import records as records_repo
from idgraph.store.graph import graph

Copy = Literal["subject", "overseer"]
# who may produce which copy: act.report_subject in policies/acts.cedar
COPIES: Final[tuple[str, ...]] = ("subject", "overseer")
# Helper columns derived for matching: not what a person would call "their data".
_DERIVED: Final[frozenset[str]] = frozenset(
    {
        "first_name_canon",
        "first_name_phonetic",
        "last_name_phonetic",
        "last_name_parts",
        "dob_precision",
        "house_number",
    }
)
VALUE_COLUMNS: Final[tuple[str, ...]] = tuple(c for c in NORMALISED_COLUMNS if c not in _DERIVED)


@dataclass(frozen=True)
class HeldRecord:
    record_id: str
    source_id: str
    source_record_id: str
    version: int
    versions: int
    batch_id: str | None
    ingested_at: str | None
    source_file: str | None
    source_line: int | None
    retain_until: str | None
    values: dict[str, Any]


@dataclass(frozen=True)
class SourceRecords:
    source_id: str
    title: str | None
    kind: str | None
    jurisdiction: str | None
    retention_days: int | None
    records: list[HeldRecord]


@dataclass(frozen=True)
class LineageRow:
    at: str | None
    run_id: str | None
    event: str
    identity_id: str
    related: list[str]


@dataclass(frozen=True)
class SubjectReport:
    identity_id: str
    copy: str
    generated_at: str
    generated_by: str
    report_entry: int
    record_count: int
    sources: list[SourceRecords]
    lineage: list[LineageRow]
    disclosures: list[Disclosure]
    withheld: int
    notices: list[NoticeRow]
    withheld_notices: int
    checkpoint: CheckpointInfo | None
    report_proof: Proof | None = None  # the report.subject entry, proven in ``checkpoint``
    notes: list[str] = field(default_factory=list)


def _value(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return iso(v)
    if isinstance(v, list | tuple):
        return [_value(x) for x in v]
    return v


def held_records(store: Store, identity_id: str) -> list[SourceRecords]:
    """Current member records of ``identity_id`` grouped by source, sorted."""
    rows = records_repo.held_records(store, identity_id, VALUE_COLUMNS)
    from idgraph.policy.profile import shown_path, source_folders  # policy imports audit

    folders = source_folders(store, {r[1] for r in rows})
    groups: dict[str, SourceRecords] = {}
    for r in rows:
        days = r[12]
        until = r[6] + timedelta(days=int(days)) if r[6] is not None and days is not None else None
        values = {c: _value(v) for c, v in zip(VALUE_COLUMNS, r[13:], strict=True) if v}
        group = groups.setdefault(r[1], SourceRecords(r[1], r[9], r[10], r[11], days, []))
        group.records.append(
            HeldRecord(
                record_id=r[0],
                source_id=r[1],
                source_record_id=r[2],
                version=int(r[3]),
                versions=int(r[4]),
                batch_id=r[5],
                ingested_at=iso(r[6]),
                # as a profile shows it: never an absolute path on the server
                source_file=None if r[7] is None else shown_path(r[7], folders.get(r[1])),
                source_line=None if r[8] is None else int(r[8]),
                retain_until=iso(until),
                values=values,
            )
        )
    return [groups[k] for k in sorted(groups)]


def lineage_of(store: Store, identity_id: str) -> list[LineageRow]:
    """Lineage events naming ``identity_id`` (as the identity or a related one)."""
    return [LineageRow(iso(r.at), r.run_id, r.event, r.identity_id, sorted(r.related))
            for r in graph(store).lineage_of(identity_id)]


def _predecessors(identity_id: str, lineage: list[LineageRow]) -> set[str]:
    """Identity ids merged into ``identity_id``: their disclosures concern this person."""
    return {
        rel
        for row in lineage
        if row.identity_id == identity_id and row.event == "merged"
        for rel in row.related
    }


def subject_report(
    store: Store,
    identity_id: str,
    *,
    log: AuditLog,
    actor: str = "",
    copy: Copy = "subject",
    at: datetime | None = None,
    decision: Decided | None = None,
) -> SubjectReport:
    """The subject-access report of ``identity_id``; audited as ``report.subject``
    (``decision``: the act permitted to its actor for this copy, by Cedar)."""
    if copy not in COPIES:
        raise ValueError(f"copy must be one of {', '.join(COPIES)}")
    when = utc(at) if at is not None else now()
    if decision is not None:
        actor = decision.actor
    user = producer(store, actor, decision, "report.subject", when, {"copy": copy},
                    [identity_id])
    if user.role == "records_officer" and not _requested(store, user.org, identity_id):
        # The report quotes every record held and every organisation that read them: a
        # records officer gives it only in answer to that person's own request (as a
        # ``subject_access`` read needs one, base.subject_access_request).
        why = f"no open subject-access request for {identity_id} in {user.org!r} (idgraph sar open)"
        refuse(store, user, decision, "report.subject", when, {"copy": copy, "reason": why},
               [identity_id])
        raise ReportError(f"{actor!r} may not produce report.subject: {why}")
    sources = held_records(store, identity_id)
    held = {rec.record_id for g in sources for rec in g.records}
    lineage = lineage_of(store, identity_id)
    ids = {identity_id} | _predecessors(identity_id, lineage)
    cases = cases_by_id(store)
    found: list[tuple[Disclosure, bool]] = []  # (disclosure, entry names only this person)
    for item in load_entries(store, DISCLOSURE_ACTIONS, "ok"):
        e = item.entry
        mine = sorted(held.intersection(e.record_ids))
        if not mine and not ids.intersection(e.identity_ids):
            continue
        only_me = set(e.identity_ids) <= ids and set(e.record_ids) <= held
        found.append((disclosure_of(item, cases, mine), only_me))
    withheld = [d for d, _ in found if d.withheld] if copy == "subject" else []
    shown = [(d, only) for d, only in found if not (copy == "subject" and d.withheld)]
    notices = load_notices(store, when.date(), identity_id)
    hidden_notices = [n for n in notices if is_withholdable(cases.get(n.case_id or ""))]
    if copy == "subject":
        notices = [n for n in notices if n not in hidden_notices]
    entry = audit_report(
        store,
        user,
        "report.subject",
        when,
        {
            "copy": copy,
            "records": len(held),
            "disclosures": len(shown),
            "withheld": len(withheld),
            "notices": len(notices),
            # binds the report's contents to the log (tools/verify_audit.py check_report)
            "covers": sorted(ids - {identity_id}),
            "shown": sorted(d.index for d, _ in shown),
        },
        [identity_id],
        decision,
    )
    # One checkpoint covers the disclosures and the report's own entry (the newest).
    cp = covering_checkpoint(log, entry)
    cp_info = checkpoint_info(log, cp)
    disclosures: list[Disclosure] = []
    for d, only_me in shown:
        proof = prove(log, d.index, cp, show_entry=copy == "overseer" or only_me)
        disclosures.append(replace(d, proof=proof))
    report_proof = prove(log, entry, cp, show_entry=True)
    notes = _notes(copy, len(withheld), len(hidden_notices) if copy == "subject" else 0)
    return SubjectReport(
        identity_id=identity_id,
        copy=copy,
        generated_at=iso(when) or "",
        generated_by=user.name,
        report_entry=entry,
        record_count=len(held),
        sources=sources,
        lineage=lineage,
        disclosures=disclosures,
        withheld=len(withheld),
        notices=notices,
        withheld_notices=len(hidden_notices) if copy == "subject" else 0,
        checkpoint=cp_info,
        report_proof=report_proof,
        notes=notes,
    )


def _requested(store: Store, org: str, identity_id: str) -> bool:
    """Whether ``org`` has an open subject-access request for ``identity_id`` that still
    answers (the identity was not merged or split since: policy/sar.py ``reshaped``)."""
    from idgraph.policy.sar import answering  # the policy package imports the audit log

    return any(s.identity_id == identity_id and s.org == org for s in answering(store))


def _notes(copy: str, withheld: int, withheld_notices: int) -> list[str]:
    notes = []
    if copy == "subject" and (withheld or withheld_notices):
        notes.append(
            f"{withheld} disclosure(s) and {withheld_notices} notice(s) made in open criminal "
            "cases are withheld from this copy until those cases close; the oversight "
            "copy lists them."
        )
    if copy == "overseer":
        notes.append(
            "Oversight copy: disclosures in open criminal cases are listed and marked "
            "'withheld from subject'."
        )
    return notes
