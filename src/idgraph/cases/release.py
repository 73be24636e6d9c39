"""What closing a case releases to the people it read about.

The subject-access copy withholds the disclosures made in an OPEN criminal case
(``audit/reports/common.is_withholdable``); once the case closes the next copy shows
them. A request still being answered (``policy.sar.answering``) whose person was
disclosed under the case may already have had a copy without them, so closing flags it:
a supplement is due, and the records officer of the request's organisation sees it
(``supplements_due``) until they mark it sent (``mark_sent``). The flag is written in the closing's
own transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from idgraph import clock
from idgraph.cases import Case, CaseError
from idgraph.store import Store
from idgraph.store.registry import RegistryRepo, SupplementRow


@dataclass(frozen=True, slots=True)
class Supplement:
    """A subject-access request owed a supplement: ``released`` disclosures of
    ``case_id`` were withheld while it was open."""

    sar_id: str
    case_id: str
    identity_id: str
    org: str
    released: int
    flagged_at: datetime
    sent_at: datetime | None


def released_by(store: Store, case: Case) -> dict[str, int]:
    """Per identity, the disclosures made under ``case`` that its copy withheld."""
    from idgraph.audit.reports.common import DISCLOSURE_ACTIONS  # reports import cases

    if case.kind != "criminal":  # only open criminal cases withhold (is_withholdable)
        return {}
    out: dict[str, int] = {}
    for data in RegistryRepo(store).case_entries(case.case_id, list(DISCLOSURE_ACTIONS), "ok"):
        for ident in json.loads(data).get("identity_ids") or ():
            out[ident] = out.get(ident, 0) + 1
    return out


def flag_supplements(store: Store, case: Case) -> list[Supplement]:
    """Flag every answering request whose person was disclosed under ``case`` (call in
    the closing's transaction)."""
    from idgraph.policy import sar as sar_mod  # the registry imports cases

    released = released_by(store, case)
    if not released:
        return []
    now = clock.now_naive()
    out = []
    repo = RegistryRepo(store)
    for sar in sar_mod.answering(store):
        n = released.get(sar.identity_id, 0)
        if not n:
            continue
        repo.flag_supplement(
            SupplementRow(sar.sar_id, case.case_id, sar.identity_id, sar.org, n, now, None))
        out.append(Supplement(sar.sar_id, case.case_id, sar.identity_id, sar.org, n, now, None))
    return out


def supplements_due(store: Store, org: str | None) -> list[Supplement]:
    """Supplements not yet sent, of ``org``'s requests (None: every organisation's)."""
    return [Supplement(*r) for r in RegistryRepo(store).supplements_due(org)]


def mark_sent(store: Store, sar_id: str, case_id: str, *, org: str, actor: str) -> None:
    """Record that ``org``'s records officer sent the supplement (call in the act's
    transaction); another organisation's request reads as unknown."""
    repo = RegistryRepo(store)
    row = repo.supplement_sent_at(sar_id, case_id, org)
    if row is None:
        raise CaseError(f"no request {sar_id!r} owed a supplement for {case_id!r}")
    if row[0] is not None:
        raise CaseError(f"the supplement of {sar_id!r} for {case_id!r} was already sent")
    repo.mark_supplement_sent(sar_id, case_id, by=actor, at=clock.now_naive())


__all__ = ["Supplement", "flag_supplements", "mark_sent", "released_by", "supplements_due"]
