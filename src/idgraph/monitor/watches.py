"""Watches: standing reads that raise an alert when a record joins an identity.

A watch names an identity (or search criteria new records are tested against), the
case it serves, the activity purpose with its claimed codes, the legal process that
authorises it, an expiry, its owner and the owner's organisation. It **stops** at the
first of: its own expiry, its legal process's expiry (or the document's removal), the
closing of its case, or cancellation (:func:`stop_reason`, read afresh from the tables
whenever an event arrives, so a case closed by another process stops it at once).

A watch on an identity **follows it through merges and splits**: :func:`watching` walks
the link stage's ``identity_lineage`` (a retired id -> the ids holding its records), so a
watch on A is found for B once A is merged into B; when A is split, the watch stays with
the piece that keeps A's id (every piece if none does).

Deconfliction: when a watch is created on an identity another organisation's active
watch covers, both owners and each organisation's supervisors are told
(:func:`deconflict`; rows in ``watch_deconflictions``, audited by the caller).

Library module: the act (``watch.create`` and the object checks) is decided in
:mod:`idgraph.app.watches`, which hands the decision in.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Final

from idgraph import clock
from idgraph.monitor import webhooks
from idgraph.policy.users import list_users
from idgraph.store import Store

DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS watches (
        watch_id VARCHAR PRIMARY KEY, owner VARCHAR NOT NULL, org VARCHAR NOT NULL,
        identity_id VARCHAR, criteria JSON, case_id VARCHAR NOT NULL, purpose VARCHAR NOT NULL,
        claims VARCHAR[], basis VARCHAR, expires DATE NOT NULL, webhook_url VARCHAR,
        secret VARCHAR NOT NULL, status VARCHAR NOT NULL, created_at TIMESTAMP,
        cancelled_by VARCHAR, cancelled_at TIMESTAMP)""",
    "CREATE INDEX IF NOT EXISTS watches_identity ON watches (identity_id)",
    """CREATE TABLE IF NOT EXISTS watch_deconflictions (
        notice_id VARCHAR PRIMARY KEY, identity_id VARCHAR, watch_id VARCHAR,
        other_watch_id VARCHAR, recipient VARCHAR, org VARCHAR, other_org VARCHAR,
        other_owner VARCHAR, created_at TIMESTAMP)""",
)

STOPPED_EXPIRED: Final[str] = "watch.expired"
STOPPED_LEGAL: Final[str] = "watch.legal_expired"
STOPPED_CASE: Final[str] = "watch.case_closed"
STOPPED_CANCELLED: Final[str] = "watch.cancelled"
STOPPED_OWNER: Final[str] = "watch.owner_inactive"


class WatchError(ValueError):
    """A watch operation that may not proceed."""


class WatchRefused(WatchError):
    """Refused by an object-level rule (another organisation's watch, not the owner)."""


@dataclass(frozen=True, slots=True)
class Watch:
    watch_id: str
    owner: str
    org: str
    identity_id: str | None
    criteria: dict[str, str] | None
    case_id: str
    purpose: str
    claims: tuple[str, ...]
    basis: str | None
    expires: date
    webhook_url: str | None
    status: str
    created_at: datetime
    # the webhook secret: returned once, by create_watch; listings leave it out
    secret: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "watch_id": self.watch_id, "owner": self.owner, "org": self.org,
            "identity_id": self.identity_id, "criteria": self.criteria,
            "case_id": self.case_id, "purpose": self.purpose, "claims": list(self.claims),
            "basis": self.basis, "expires": self.expires.isoformat(),
            "webhook_url": self.webhook_url, "status": self.status,
            "created_at": self.created_at.isoformat(),
            **({"secret": self.secret} if self.secret else {}),
        }


@dataclass(frozen=True, slots=True)
class Deconfliction:
    notice_id: str
    identity_id: str
    watch_id: str
    other_watch_id: str
    recipient: str
    org: str
    other_org: str
    other_owner: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "notice_id": self.notice_id, "identity_id": self.identity_id,
            "watch_id": self.watch_id, "other_watch_id": self.other_watch_id,
            "recipient": self.recipient, "org": self.org, "other_org": self.other_org,
            "other_owner": self.other_owner, "created_at": self.created_at.isoformat(),
        }


def ensure(store: Store) -> None:
    store.ensure("monitor.watches", DDL)


_COLS = ("watch_id, owner, org, identity_id, criteria, case_id, purpose, claims, basis, "
         "expires, webhook_url, status, created_at")


def _watch(row: Sequence[Any]) -> Watch:
    crit = json.loads(row[4]) if row[4] else None
    return Watch(row[0], row[1], row[2], row[3], crit, row[5], row[6], tuple(row[7] or ()),
                 row[8], row[9], row[10], row[11], row[12])


def webhook_problem(url: str) -> str | None:
    """Why ``url`` may not receive alerts: alerts carry personal data, so only over TLS
    (``https://``), and not to this host or into a private network, named by address or
    by a host name that resolves there (:func:`webhooks.url_problem`; checked again at
    every delivery, against DNS rebinding)."""
    return webhooks.url_problem(url)


def create_watch(
    store: Store, *, owner: str, org: str, identity_id: str | None,
    criteria: Mapping[str, str] | None, case_id: str, purpose: str, claims: Sequence[str],
    basis: str | None, expires: date, webhook_url: str | None,
) -> Watch:
    """Insert an active watch (the caller decided the act and checked the case)."""
    ensure(store)
    if (identity_id is None) == (not criteria):
        raise WatchError("a watch names an identity or search criteria, not both or neither")
    problem = webhook_problem(webhook_url) if webhook_url is not None else None
    if problem:
        raise WatchError(problem)
    now = clock.now_naive()
    watch = Watch(
        "W-" + uuid.uuid4().hex[:12], owner, org, identity_id,
        dict(criteria) if criteria else None, case_id, purpose, tuple(claims), basis, expires,
        webhook_url, "active", now, secrets.token_hex(32),
    )
    store.execute(
        f"INSERT INTO watches ({_COLS}, secret) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [watch.watch_id, owner, org, identity_id,
         json.dumps(watch.criteria, sort_keys=True) if watch.criteria else None, case_id,
         purpose, list(claims), basis, expires, webhook_url, "active", now, watch.secret],
    )
    return watch


def get_watch(store: Store, watch_id: str) -> Watch | None:
    ensure(store)
    row = store.fetchone(f"SELECT {_COLS} FROM watches WHERE watch_id = ?", [watch_id])
    return None if row is None else _watch(row)


def watch_secret(store: Store, watch_id: str) -> bytes:
    """The watch's webhook secret (signs its deliveries)."""
    ensure(store)
    value = store.scalar("SELECT secret FROM watches WHERE watch_id = ?", [watch_id])
    if value is None:
        raise KeyError(f"no watch {watch_id!r}")
    return bytes.fromhex(str(value))


def list_watches(store: Store, *, org: str | None = None, owner: str | None = None,
                 status: str | None = None) -> list[Watch]:
    ensure(store)
    rows = store.fetchall(
        f"SELECT {_COLS} FROM watches WHERE (? IS NULL OR org = ?) AND (? IS NULL OR owner = ?) "
        "AND (? IS NULL OR status = ?) ORDER BY created_at, watch_id",
        [org, org, owner, owner, status, status],
    )
    return [_watch(r) for r in rows]


def cancel_watch(store: Store, watch_id: str, *, actor: str, org: str, role: str) -> Watch:
    """Cancel a watch of ``org``: its owner or a supervisor of the organisation."""
    watch = get_watch(store, watch_id)
    if watch is None or watch.org != org:
        raise WatchError(f"no watch {watch_id!r} in {org!r}")
    if actor != watch.owner and role != "supervisor":
        raise WatchRefused(f"only {watch.owner!r} or a supervisor may cancel {watch_id!r}")
    if watch.status != "active":
        raise WatchError(f"watch {watch_id!r} is already {watch.status}")
    store.execute(
        "UPDATE watches SET status = 'cancelled', cancelled_by = ?, cancelled_at = ? "
        "WHERE watch_id = ?", [actor, clock.now_naive(), watch_id],
    )
    return replace(watch, status="cancelled")


@dataclass(frozen=True, slots=True)
class Standing:
    """A watch with what decides whether it still stands: its case's status and its
    legal process's expiry, read with it."""

    watch: Watch
    case_status: str | None
    legal_expires: date | None
    legal_known: bool
    owner_active: bool = True


_STANDING_COLS = (
    ", ".join(f"w.{c.strip()}" for c in _COLS.split(",")) +
    ", c.status, l.expires, l.legal_id IS NOT NULL, "
    "coalesce(u.org = w.org AND NOT u.disabled, false)"
)
_STANDING_JOINS = (
    "LEFT JOIN cases c ON c.case_id = w.case_id "
    "LEFT JOIN legal_process l ON l.legal_id = w.basis "
    "LEFT JOIN users u ON u.name = w.owner "
)
_STANDING = f"SELECT {_STANDING_COLS} FROM watches w {_STANDING_JOINS}"

# Where a watched identity went, from the link stage's lineage (batch resolve and the
# live linker write the same events): an id that no cluster kept is ``retired`` with
# ``related`` = the ids now holding its records (a merge into another identity, or a
# split with no piece keeping the id). The watch follows those edges, transitively
# (UNION: a cycle ends). While the id lives on (``kept``, or the larger piece of a
# split), the watch stays with it: a piece split off under a new id is, by the
# resolver's (or a judge's) decision, someone else, and is not followed.
def _follow(seeds: str) -> str:
    """The recursive ``follow(watch_id, ident)`` of the active identity watches that
    ``seeds`` (a condition on ``watches``) admits."""
    return (
        "WITH RECURSIVE moves(src, dst) AS ("
        " SELECT identity_id, unnest(related) FROM identity_lineage"
        " WHERE event = 'retired'), "
        "follow(watch_id, ident) AS ("
        " SELECT watch_id, identity_id FROM watches"
        f" WHERE status = 'active' AND identity_id IS NOT NULL AND ({seeds})"
        " UNION SELECT f.watch_id, m.dst FROM follow f JOIN moves m ON m.src = f.ident) "
    )


# a watch can reach an event's identity only if it is on it, or on a retired id
_FOLLOW_EVENTS = _follow("identity_id IN (SELECT unnest(?)) "
                         "OR identity_id IN (SELECT src FROM moves)")
_FOLLOW_ONE = _follow("watch_id = ?")


def _standing(row: Sequence[Any]) -> Standing:
    return Standing(_watch(row[:13]), row[13], row[14], bool(row[15]), bool(row[16]))


def _ensure_joined(store: Store) -> None:
    import idgraph.cases as cases_mod
    from idgraph.link.tables import ensure_tables
    from idgraph.policy import legal as legal_mod
    from idgraph.policy import users as users_mod

    ensure(store)
    ensure_tables(store)
    cases_mod.ensure(store)
    legal_mod.ensure(store)
    users_mod.ensure(store)


def watching(store: Store, identity_ids: Sequence[str]) -> dict[str, list[Standing]]:
    """Active identity watches on ``identity_ids``, by identity, with their standing.

    A watch follows its identity when its id is retired (the lineage the link stage
    records): a watch on A is found for B once A was merged into B (or for every piece
    once A was split with no piece keeping its id), however many runs ago (computed
    here, at lookup: no hook in the link stage). Each watch is listed once per
    identity. The alert is still decided by the read gate for the identity the record
    joined."""
    _ensure_joined(store)
    if not identity_ids:
        return {}
    ids = sorted(set(identity_ids))
    rows = store.fetchall(
        _FOLLOW_EVENTS + f"SELECT DISTINCT f.ident, {_STANDING_COLS}, w.created_at AS _c "
        f"FROM follow f JOIN watches w ON w.watch_id = f.watch_id {_STANDING_JOINS}"
        "WHERE w.status = 'active' AND f.ident IN (SELECT unnest(?)) "
        "ORDER BY _c, w.watch_id", [ids, ids],
    )
    out: dict[str, list[Standing]] = {}
    for r in rows:
        s = _standing(r[1:-1])
        out.setdefault(str(r[0]), []).append(s)
    return out


def followed_identities(store: Store, watch_id: str) -> list[str]:
    """The identities a watch covers now: its own and, once that id is retired, every
    one holding its records (see :func:`watching`)."""
    _ensure_joined(store)
    rows = store.fetchall(
        _FOLLOW_ONE + "SELECT DISTINCT ident FROM follow ORDER BY ident", [watch_id])
    return [str(r[0]) for r in rows]


def criteria_watches(store: Store) -> list[Standing]:
    """Active watches by search criteria, with their standing."""
    _ensure_joined(store)
    rows = store.fetchall(
        _STANDING + "WHERE w.status = 'active' AND w.criteria IS NOT NULL "
        "ORDER BY w.created_at, w.watch_id")
    return [_standing(r) for r in rows]


def stop_reason(standing: Standing, on: date) -> str | None:
    """Why the watch no longer stands on ``on`` (None: it stands): cancellation, its
    owner disabled, its expiry, its legal process's expiry (or absence), its case's
    closing."""
    w = standing.watch
    if w.status != "active":
        return STOPPED_CANCELLED
    if not standing.owner_active:  # disabled (by any process) since: nothing more leaves
        return STOPPED_OWNER
    if on > w.expires:
        return STOPPED_EXPIRED
    if w.basis is not None and (
        not standing.legal_known
        or (standing.legal_expires is not None and on > standing.legal_expires)
    ):
        return STOPPED_LEGAL
    if standing.case_status != "open":
        return STOPPED_CASE
    return None


def _fold(value: object) -> str:
    return "".join(ch for ch in str(value).upper() if ch.isalnum())


def criteria_match(criteria: Mapping[str, str], row: Mapping[str, Any]) -> bool:
    """Whether a record's values equal every criterion (case, spaces and punctuation
    folded; a date criterion matches the date's ISO form)."""
    for field_name, wanted in criteria.items():
        value = row.get(field_name)
        if value is None:
            return False
        shown = value.isoformat() if isinstance(value, date | datetime) else value
        if _fold(shown) != _fold(wanted):
            return False
    return True


# the organisation types between which watches are deconflicted (see deconflict)
DECONFLICT_ORG_TYPES: Final[frozenset[str]] = frozenset({"government"})


def deconflict(store: Store, watch: Watch) -> list[Deconfliction]:
    """Tell both sides of every other organisation's standing watch on ``watch``'s
    identity: the two owners and each organisation's supervisors (rows written here).

    Only between organisations whose type is in :data:`DECONFLICT_ORG_TYPES`
    (government agencies): deconfliction exists so that two agencies' operations on
    one person do not collide. Telling a private investigator or a newsroom that an
    agency watches someone would disclose an investigation (and could tip off its
    subject); telling an agency that a newsroom watches someone would expose the
    newsroom's reporting. Neither side is told when either is not an agency."""
    if watch.identity_id is None:
        return []
    today = clock.today()
    users = list_users(store)
    org_types = {u.org: u.org_type for u in users}
    if org_types.get(watch.org) not in DECONFLICT_ORG_TYPES:
        return []
    others = [
        s.watch for s in watching(store, [watch.identity_id]).get(watch.identity_id, [])
        if s.watch.org != watch.org and stop_reason(s, today) is None
        and org_types.get(s.watch.org) in DECONFLICT_ORG_TYPES
    ]
    if not others:
        return []
    now = clock.now_naive()
    out: list[Deconfliction] = []
    for other in others:
        for mine, theirs in ((watch, other), (other, watch)):
            sups = sorted(u.name for u in users
                          if u.org == mine.org and u.role == "supervisor" and u.active)
            for recipient in dict.fromkeys([mine.owner, *sups]):
                note = Deconfliction(
                    "D-" + uuid.uuid4().hex[:12], str(watch.identity_id), mine.watch_id,
                    theirs.watch_id, recipient, mine.org, theirs.org, theirs.owner, now,
                )
                store.execute(
                    "INSERT INTO watch_deconflictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [note.notice_id, note.identity_id, note.watch_id, note.other_watch_id,
                     note.recipient, note.org, note.other_org, note.other_owner, now],
                )
                out.append(note)
    return out


def deconflictions_for(store: Store, recipient: str) -> list[Deconfliction]:
    ensure(store)
    rows = store.fetchall(
        "SELECT notice_id, identity_id, watch_id, other_watch_id, recipient, org, other_org, "
        "other_owner, created_at FROM watch_deconflictions WHERE recipient = ? "
        "ORDER BY created_at, notice_id", [recipient])
    return [Deconfliction(*r) for r in rows]


__all__ = [
    "DECONFLICT_ORG_TYPES",
    "STOPPED_CANCELLED",
    "STOPPED_CASE",
    "STOPPED_EXPIRED",
    "STOPPED_LEGAL",
    "STOPPED_OWNER",
    "Deconfliction",
    "Standing",
    "Watch",
    "WatchError",
    "WatchRefused",
    "cancel_watch",
    "create_watch",
    "criteria_match",
    "criteria_watches",
    "deconflict",
    "deconflictions_for",
    "ensure",
    "followed_identities",
    "get_watch",
    "list_watches",
    "stop_reason",
    "watch_secret",
    "watching",
    "webhook_problem",
]
