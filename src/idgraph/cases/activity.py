"""A case's activity: every entry of the audit log made under it, newest first, paged.

Reads (profiles, explanations, associates), searches, matches and their downloads,
alerts, exports, and the case's own acts (opening, members, notes, closing) all carry
the case id in their entry; this lists them with who, when, the action, the outcome
and how many records and identities it concerned. The gate's per-source
``policy.decide`` permits are left out (the read's own entry stands for them); its
refusals are kept: a refused attempt is activity too. The entries are read as the log
holds them; ``case_activity`` only notes, once per entry, which case it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from idgraph.audit import AuditEntry
from idgraph.store import Store
from idgraph.store.registry import RegistryRepo

PAGE_MAX: Final[int] = 500
# Which entries name which case: ``case_activity``, filled lazily from the log's entries
# after ``case_activity_upto`` (the log is append-only, so each entry is read once), then
# read by its case id instead of parsing every entry's JSON for every page
# (RegistryRepo.catch_up_activity).


@dataclass(frozen=True, slots=True)
class Activity:
    """One audited act under the case."""

    seq: int  # the entry's index in the log (prove it with `idgraph audit prove`)
    time: datetime
    principal: str
    role: str | None
    action: str
    outcome: str
    purpose: str | None
    records: int  # records the entry names
    identities: int  # identities the entry names
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActivityPage:
    case_id: str
    total: int
    offset: int
    limit: int
    items: tuple[Activity, ...]


def catch_up(store: Store) -> None:
    """Note the case of every entry appended since the last call (one pass over them)."""
    RegistryRepo(store).catch_up_activity()


def activity(store: Store, case_id: str, *, offset: int = 0, limit: int = 50) -> ActivityPage:
    """The entries under ``case_id``, newest first, ``limit`` from ``offset``."""
    if offset < 0 or not 1 <= limit <= PAGE_MAX:
        raise ValueError(f"offset >= 0 and 1 <= limit <= {PAGE_MAX}")
    catch_up(store)
    repo = RegistryRepo(store)
    total = repo.activity_total(case_id)
    rows = repo.activity_entries(case_id, limit=limit, offset=offset)
    items = []
    for seq, data in rows:
        e = AuditEntry.model_validate_json(data)
        listed = e.detail.get("rows")  # a match's rows (search/match.py) name no record ids
        records = len(e.record_ids) or (listed if isinstance(listed, int) else 0)
        items.append(Activity(int(seq), e.time, e.principal, e.role, e.action, e.outcome,
                              e.purpose, records, len(e.identity_ids), tuple(e.rules)))
    return ActivityPage(case_id, total, offset, limit, tuple(items))


__all__ = ["PAGE_MAX", "Activity", "ActivityPage", "activity"]
