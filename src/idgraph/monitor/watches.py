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
from idgraph.store import watches as repo

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


def _watch(row: repo.WatchRow) -> Watch:
    crit = json.loads(row.criteria) if row.criteria else None
    return Watch(row.watch_id, row.owner, row.org, row.identity_id, crit, row.case_id,
                 row.purpose, row.claims, row.basis, row.expires, row.webhook_url,
                 row.status, row.created_at)


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
    assert watch.secret is not None
    repo.insert_watch(store, repo.WatchRow(
        watch.watch_id, owner, org, identity_id,
        json.dumps(watch.criteria, sort_keys=True) if watch.criteria else None, case_id,
        purpose, tuple(claims), basis, expires, webhook_url, "active", now), watch.secret)
    return watch


def get_watch(store: Store, watch_id: str) -> Watch | None:
    row = repo.get_watch(store, watch_id)
    return None if row is None else _watch(row)


def watch_secret(store: Store, watch_id: str) -> bytes:
    """The watch's webhook secret (signs its deliveries)."""
    value = repo.watch_secret(store, watch_id)
    if value is None:
        raise KeyError(f"no watch {watch_id!r}")
    return bytes.fromhex(str(value))


def list_watches(store: Store, *, org: str | None = None, owner: str | None = None,
                 status: str | None = None) -> list[Watch]:
    return [_watch(r) for r in repo.list_watches(store, org=org, owner=owner, status=status)]


def cancel_watch(store: Store, watch_id: str, *, actor: str, org: str, role: str) -> Watch:
    """Cancel a watch of ``org``: its owner or a supervisor of the organisation."""
    watch = get_watch(store, watch_id)
    if watch is None or watch.org != org:
        raise WatchError(f"no watch {watch_id!r} in {org!r}")
    if actor != watch.owner and role != "supervisor":
        raise WatchRefused(f"only {watch.owner!r} or a supervisor may cancel {watch_id!r}")
    if watch.status != "active":
        raise WatchError(f"watch {watch_id!r} is already {watch.status}")
    repo.cancel_watch(store, watch_id, actor=actor, at=clock.now_naive())
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


def _standing(row: repo.StandingRow) -> Standing:
    return Standing(_watch(row.watch), row.case_status, row.legal_expires, row.legal_known,
                    row.owner_active)


def watching(store: Store, identity_ids: Sequence[str]) -> dict[str, list[Standing]]:
    """Active identity watches on ``identity_ids``, by identity, with their standing.

    A watch follows its identity when its id is retired (the lineage the link stage
    records, ``identity_lineage``: an id that no cluster kept is ``retired`` with
    ``related`` = the ids now holding its records): a watch on A is found for B once A
    was merged into B (or for every piece once A was split with no piece keeping its
    id), however many runs ago (computed here, at lookup: no hook in the link stage).
    While the id lives on, the watch stays with it: a piece split off under a new id is,
    by the resolver's (or a judge's) decision, someone else, and is not followed. Each
    watch is listed once per identity. The alert is still decided by the read gate for
    the identity the record joined."""
    out: dict[str, list[Standing]] = {}
    for ident, row in repo.watching(store, identity_ids):
        out.setdefault(ident, []).append(_standing(row))
    return out


def followed_identities(store: Store, watch_id: str) -> list[str]:
    """The identities a watch covers now: its own and, once that id is retired, every
    one holding its records (see :func:`watching`)."""
    return repo.followed_identities(store, watch_id)


def criteria_watches(store: Store) -> list[Standing]:
    """Active watches by search criteria, with their standing."""
    return [_standing(r) for r in repo.criteria_watches(store)]


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
    rows: list[repo.DeconflictionRow] = []
    for other in others:
        for mine, theirs in ((watch, other), (other, watch)):
            sups = sorted(u.name for u in users
                          if u.org == mine.org and u.role == "supervisor" and u.active)
            for recipient in dict.fromkeys([mine.owner, *sups]):
                note = Deconfliction(
                    "D-" + uuid.uuid4().hex[:12], str(watch.identity_id), mine.watch_id,
                    theirs.watch_id, recipient, mine.org, theirs.org, theirs.owner, now,
                )
                rows.append(repo.DeconflictionRow(
                    note.notice_id, note.identity_id, note.watch_id, note.other_watch_id,
                    note.recipient, note.org, note.other_org, note.other_owner, now))
                out.append(note)
    repo.insert_deconflictions(store, rows)
    return out


def deconflictions_for(store: Store, recipient: str) -> list[Deconfliction]:
    return [Deconfliction(*r) for r in repo.deconflictions_for(store, recipient)]


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
    "followed_identities",
    "get_watch",
    "list_watches",
    "stop_reason",
    "watch_secret",
    "watching",
    "webhook_problem",
]
