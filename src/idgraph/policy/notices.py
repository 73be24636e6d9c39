"""Notice duties: a disclosure carrying a notice duty creates a notice row.

Duties come from ``@duty`` annotations on the permits that decided: ``notice:3d``
(3 calendar days, New York) and ``notice:3bd`` (3 business days, Illinois: weekends
are skipped; federal holidays are not modelled). Sending is recorded and audited.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from idgraph.audit import AuditEntry, record
from idgraph.policy.users import get_user
from idgraph.store import Store

DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS notices (
        notice_id VARCHAR PRIMARY KEY, identity_id VARCHAR, org VARCHAR, principal VARCHAR,
        case_id VARCHAR, sources VARCHAR[], rule VARCHAR, duty VARCHAR, created_at TIMESTAMP,
        due_date DATE, sent_at TIMESTAMP, sent_by VARCHAR)""",
)

_DUTY = re.compile(r"^notice:(\d+)(d|bd)$")


class NoticeError(ValueError):
    """A notice operation that may not proceed."""


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
    store.ensure("policy.notices", DDL)


def is_notice_duty(duty: str) -> bool:
    return _DUTY.match(duty) is not None


def due_date(start: date, duty: str) -> date:
    """The last day the notice may be sent for a disclosure on ``start``."""
    m = _DUTY.match(duty)
    if m is None:
        raise NoticeError(f"not a notice duty: {duty!r}")
    days, unit = int(m.group(1)), m.group(2)
    if unit == "d":
        return start + timedelta(days=days)
    day = start
    while days:
        day += timedelta(days=1)
        if day.weekday() < 5:
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
) -> list[str]:
    """One notice per (rule, duty) over ``duties`` = (source, rule, duty) triples; new ids."""
    ensure(store)
    grouped: dict[tuple[str, str], list[str]] = {}
    for source, rule, duty in duties:
        if is_notice_duty(duty):
            grouped.setdefault((rule, duty), []).append(source)
    ids = []
    for (rule, duty), sources in sorted(grouped.items()):
        nid = "N-" + uuid.uuid4().hex[:12]
        store.execute(
            "INSERT INTO notices (notice_id, identity_id, org, principal, case_id, sources, "
            "rule, duty, created_at, due_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                nid,
                identity_id,
                org,
                principal,
                case_id,
                sorted(set(sources)),
                rule,
                duty,
                at,
                due_date(at.date(), duty),
            ],
        )
        ids.append(nid)
    return ids


def list_notices(store: Store, *, today: date | None = None, overdue: bool = False) -> list[Notice]:
    """Unsent notices (all, or only those past due on ``today``)."""
    ensure(store)
    rows = store.fetchall(
        "SELECT notice_id, identity_id, org, case_id, sources, rule, duty, due_date, sent_at "
        "FROM notices WHERE sent_at IS NULL ORDER BY due_date, notice_id"
    )
    out = [Notice(r[0], r[1], r[2], r[3], tuple(r[4] or ()), r[5], r[6], r[7], r[8]) for r in rows]
    if overdue:
        day = today or datetime.now(UTC).date()
        out = [n for n in out if n.overdue(day)]
    return out


def mark_sent(store: Store, notice_id: str, *, by: str, at: datetime | None = None) -> None:
    """Record that ``notice_id`` was sent by ``by`` (an active user); audited."""
    ensure(store)
    at = at or datetime.now(UTC).replace(tzinfo=None)
    with store.transaction():
        user = get_user(store, by)
        if user is None or not user.active:
            raise NoticeError(f"unknown or disabled user {by!r}")
        row = store.fetchone(
            "SELECT identity_id, org, sources, rule, sent_at FROM notices WHERE notice_id = ?",
            [notice_id],
        )
        if row is None:
            raise NoticeError(f"no notice {notice_id!r}")
        if row[4] is not None:
            raise NoticeError(f"notice {notice_id!r} already sent at {row[4]}")
        store.execute(
            "UPDATE notices SET sent_at = ?, sent_by = ? WHERE notice_id = ?", [at, by, notice_id]
        )
        record(
            store,
            AuditEntry(
                principal=by,
                organisation=user.org,
                role=user.role,
                action="notices.sent",
                outcome="ok",
                identity_ids=(row[0],),
                sources=tuple(row[2] or ()),
                rules=(row[3],),
                detail={"notice_id": notice_id},
            ),
        )
