"""Retention: remove records held longer than their source's ``retention_days``.

The clock is the record's ``ingested_at`` of its current version: how long *we*
have held that content (not ``observed_at``, which can predate collection by
years). A record past retention loses every version, its identity membership and
the link edges touching it (their evidence may quote its values). The removal is
logged in ``retention_runs`` (counts per source and SHA-256 of the removed record
ids) and audited. Each removed (record_id, row_hash) is tombstoned so re-ingesting
the same file does not bring it back; ingest calls :func:`tombstoned`.
Other stores of record values (the search index) register a removal hook.
Applying retention is the act ``retention.apply``, decided by Cedar in
``idgraph.app.admin`` (records officers and admins, or the local operator on the
command line), which hands the decision in here.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from idgraph import clock
from idgraph.audit import AuditEntry, record_many
from idgraph.policy.users import get_user
from idgraph.store import Store
from idgraph.store.graph import graph
from idgraph.store.registry import RegistryRepo

if TYPE_CHECKING:
    from idgraph.policy.acts import ActDecision

# Removed record ids are listed in the audit log, this many per entry.
AUDIT_CHUNK = 5000

RemovalHook = Callable[[Store, Sequence[str]], None]
_HOOKS: list[RemovalHook] = []


class RetentionError(ValueError):
    """A retention run that may not proceed."""


class RetentionRefused(RetentionError):
    """The actor may not apply retention (a refusal by the policy layer; CLI exit 3)."""


@dataclass(frozen=True, slots=True)
class RetentionRun:
    run_id: str
    as_of: datetime
    removed: int
    by_source: dict[str, int]
    record_ids: tuple[str, ...]  # the ids removed (a listed past run: none, only hashes kept)
    ran_at: datetime | None = None
    actor: str | None = None


def register_removal_hook(hook: RemovalHook) -> None:
    """Call ``hook(store, record_ids)`` inside every retention transaction."""
    if hook not in _HOOKS:
        _HOOKS.append(hook)


def unregister_removal_hook(hook: RemovalHook) -> None:
    if hook in _HOOKS:
        _HOOKS.remove(hook)


def ensure(store: Store) -> None:
    """Kept for callers of other packages: the tables are made by the store's migrations."""


def list_runs(store: Store) -> list[RetentionRun]:
    """Past runs, oldest first (the removed ids are kept only as SHA-256 hashes)."""
    return [
        RetentionRun(r.run_id, r.as_of, r.removed,
                     dict(json.loads(r.by_source) if r.by_source else {}), (), r.ran_at, r.actor)
        for r in RegistryRepo(store).retention_runs()
    ]


def expired(store: Store, as_of: datetime) -> list[tuple[str, str]]:
    """(record_id, source_id) of current records past their source's retention."""
    return RegistryRepo(store).expired(as_of)


def tombstoned(store: Store, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (record_id, row_hash) pairs were removed by retention (ingest skips them)."""
    return RegistryRepo(store).tombstoned(list(pairs))


def _remove(store: Store, ids: list[str], run_id: str, now: datetime) -> None:
    RegistryRepo(store).remove_records(ids, run_id=run_id, at=now)
    graph(store).forget_records(ids)  # memberships and edges; live linkers re-read
    for hook in list(_HOOKS):
        hook(store, ids)


def apply_retention(
    store: Store, *, as_of: datetime | None = None, actor: str | None = None,
    decision: ActDecision | None = None,
) -> RetentionRun:
    """Remove every record past retention as of ``as_of`` (default now); audited (one
    entry per :data:`AUDIT_CHUNK` removed record ids). ``decision``: the act
    ``retention.apply`` permitted to its actor (without one, ``actor`` or ``system``
    is named: a caller that decided already)."""
    now = clock.now_naive()
    as_of = as_of or now
    user = decision.user if decision is not None else get_user(store, actor) if actor else None
    if decision is not None:
        actor = decision.actor
    hits = expired(store, as_of)
    ids = [h[0] for h in hits]
    by_source = dict(sorted(Counter(h[1] for h in hits).items()))
    hashes = [hashlib.sha256(i.encode()).hexdigest() for i in ids]
    run_id = (
        "RET-" + hashlib.sha256(f"{now.isoformat()}|{as_of.isoformat()}".encode()).hexdigest()[:12]
    )
    with store.transaction():
        if ids:
            _remove(store, ids, run_id, now)
        RegistryRepo(store).insert_retention_run(
            run_id, ran_at=now, as_of=as_of, actor=actor, removed=len(ids),
            by_source=json.dumps(by_source), hashes=hashes)
        chunks = [ids[k : k + AUDIT_CHUNK] for k in range(0, len(ids), AUDIT_CHUNK)] or [[]]
        details = [
            {
                "run_id": run_id,
                "as_of": as_of.isoformat(),
                "removed": len(ids),
                "by_source": by_source,
                "part": n + 1,
                "parts": len(chunks),
            }
            for n in range(len(chunks))
        ]
        record_many(
            store,
            [
                decision.entry("ok", detail=d, sources=tuple(by_source), record_ids=tuple(c))
                if decision is not None else AuditEntry(
                    principal=actor or "system",
                    organisation=(user.org or None) if user else None,
                    role=user.role if user else None,
                    action="retention.apply",
                    outcome="ok",
                    sources=tuple(by_source),
                    record_ids=tuple(c),
                    detail=d,
                )
                for d, c in zip(details, chunks, strict=True)
            ],
        )
    return RetentionRun(run_id, as_of, len(ids), by_source, tuple(ids), now, actor)
