"""Notice duties: a disclosure carrying a notice duty creates a notice row.

Duties come from ``@duty`` annotations on the permits that decided: ``notice:3d``
(3 calendar days, New York) and ``notice:3bd`` (3 business days, Illinois). A business
day is a weekday that is not a public holiday of the rule's jurisdiction: the permit's
``@jurisdiction("US-IL")`` annotation names it (federal holidays plus that state's,
from the ``holidays`` package); a rule without one counts federal holidays only.
Days are UTC dates from :mod:`idgraph.clock`. Sending is recorded and audited.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Final

import holidays

from idgraph import clock
from idgraph.audit import record
from idgraph.policy.acts import ActDecision, ActDenied, authorise_act
from idgraph.store import Store
from idgraph.store.registry import RegistryRepo

_DUTY = re.compile(r"^notice:(\d+)(d|bd)$")
DEFAULT_JURISDICTION: Final[str] = "US"


class NoticeError(ValueError):
    """A notice operation that may not proceed."""


class NoticeRefused(NoticeError):
    """Sending a notice refused by the policy layer (audited; CLI exit 3)."""


@dataclass(frozen=True, slots=True)
class Notice:
    notice_id: str
    identity_id: str
    org: str
    case_id: str | None
    sources: tuple[str, ...]
    rule: str
    duty: str
    due_date: date
    sent_at: datetime | None

    def overdue(self, today: date) -> bool:
        return self.sent_at is None and today > self.due_date


def ensure(store: Store) -> None:
    """Kept for callers of other packages: the tables are made by the store's migrations."""


def is_notice_duty(duty: str) -> bool:
    return _DUTY.match(duty) is not None


@lru_cache(maxsize=64)
def _calendar(jurisdiction: str) -> holidays.HolidayBase:
    """Public holidays of an ISO 3166-2 jurisdiction (``US``, ``US-IL``): country + state."""
    country, _, subdiv = jurisdiction.upper().partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError as exc:
        raise NoticeError(f"no holiday calendar for jurisdiction {jurisdiction!r}") from exc


def is_business_day(day: date, jurisdiction: str = DEFAULT_JURISDICTION) -> bool:
    """A weekday that is not a public holiday in ``jurisdiction``."""
    return day.weekday() < 5 and day not in _calendar(jurisdiction)


def due_date(start: date, duty: str, jurisdiction: str = DEFAULT_JURISDICTION) -> date:
    """The last day the notice may be sent for a disclosure on ``start`` (business days
    are those of ``jurisdiction``: weekends and its public holidays are skipped)."""
    m = _DUTY.match(duty)
    if m is None:
        raise NoticeError(f"not a notice duty: {duty!r}")
    days, unit = int(m.group(1)), m.group(2)
    if unit == "d":
        return start + timedelta(days=days)
    day = start
    while days:
        day += timedelta(days=1)
        if is_business_day(day, jurisdiction):
            days -= 1
    return day


def create_notices(
    store: Store,
    *,
    identity_id: str,
    org: str,
    principal: str,
    case_id: str | None,
    duties: Sequence[tuple[str, str, str]],
    at: datetime,
    jurisdictions: Mapping[str, str] | None = None,
) -> list[str]:
    """One notice per (rule, duty) over ``duties`` = (source, rule, duty) triples; new ids.

    ``at`` is the disclosure time in UTC; ``jurisdictions`` maps a rule id to the
    jurisdiction whose business days count (``PolicyBundle.jurisdictions``)."""
    repo = RegistryRepo(store)
    grouped: dict[tuple[str, str], list[str]] = {}
    for source, rule, duty in duties:
        if is_notice_duty(duty):
            grouped.setdefault((rule, duty), []).append(source)
    ids = []
    where = jurisdictions or {}
    for (rule, duty), sources in sorted(grouped.items()):
        nid = "N-" + uuid.uuid4().hex[:12]
        repo.insert_notice(
            nid, identity_id=identity_id, org=org, principal=principal, case_id=case_id,
            sources=sorted(set(sources)), rule=rule, duty=duty, at=at,
            due=due_date(at.date(), duty, where.get(rule, DEFAULT_JURISDICTION)),
        )
        ids.append(nid)
    return ids


def list_notices(store: Store, *, today: date | None = None, overdue: bool = False) -> list[Notice]:
    """Unsent notices (all, or only those past due on ``today``)."""
    out = [Notice(*r) for r in RegistryRepo(store).unsent_notices()]
    if overdue:
        day = today or clock.today()
        out = [n for n in out if n.overdue(day)]
    return out


def mark_sent(
    store: Store, notice_id: str, *, by: str = "", at: datetime | None = None,
    decision: ActDecision | None = None,
) -> None:
    """Record that ``notice_id`` was sent by ``by``; audited.

    Sending is the act ``notices.send`` (decided by Cedar: records officers and
    supervisors), and only by the organisation that owes the notice.
    """
    at = at or clock.now_naive()
    if decision is None:
        try:
            decision = authorise_act(store, by, "notices.send", target=notice_id)
        except ActDenied as exc:  # already audited
            raise NoticeRefused(str(exc)) from exc
    by = decision.actor
    repo = RegistryRepo(store)
    with store.transaction():
        store.lock("notices")  # sent once, though two workers mark it at once
        row = repo.notice(notice_id)
        if row is None or row.org != decision.user.org:
            raise NoticeError(f"no notice {notice_id!r} owed by {decision.user.org!r}")
        if row.sent_at is not None:
            raise NoticeError(f"notice {notice_id!r} already sent at {row.sent_at}")
        repo.mark_notice_sent(notice_id, by=by, at=at)
        entry = decision.entry(
            "ok",
            identity_ids=(row.identity_id,),
            sources=row.sources,
            detail={"notice_id": notice_id, "duty_rule": row.rule},
        )
        record(store, entry.model_copy(update={"action": "notices.sent"}))
