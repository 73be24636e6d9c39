"""The installed policy set: which rules a deployment decided under, and when that changed.

A deployment's policy set is the shipped policies plus its policy folder
(``Settings.policy_folder``). Its SHA-256 digest names it in every audit entry
(``detail["policy_set"]``). Table ``policy_sets`` records each set the store was
decided under, in order. Whenever a :class:`~idgraph.policy.registry.Registry` loads a
set whose digest differs from the last recorded one (an edited, added or removed
``.cedar`` file, or a new release of the shipped rules), :func:`note_loaded` records it
and appends a ``policy.change`` entry (old and new digest, policy ids added and
removed) *before* any decision is taken under it: a change of rules cannot go
unrecorded, whether or not it was made with ``idgraph policy install``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from idgraph import clock
from idgraph.audit import AuditEntry, record
from idgraph.policy.cedar import PolicyBundle, PolicySetError
from idgraph.store import Store
from idgraph.store.registry import RegistryRepo

SYSTEM: Final[str] = "system"
CHANGE: Final[str] = "policy.change"


@dataclass(frozen=True, slots=True)
class RecordedSet:
    """One row of ``policy_sets``: a set the store has been decided under."""

    seq: int
    digest: str
    ids: tuple[str, ...]
    files: tuple[str, ...]
    folder: str | None
    recorded_at: datetime
    recorded_by: str
    how: str  # "policy.change" (noticed on load) | "policy.install" (an admin's act)


def current(store: Store) -> RecordedSet | None:
    """The last recorded set, or ``None`` before any decision was taken."""
    row = RegistryRepo(store).current_policy_set()
    return None if row is None else RecordedSet(*row)


def change_detail(
    old: RecordedSet | None, new: PolicyBundle, folder: Path | None
) -> dict[str, Any]:
    """What an audit entry says about a change from ``old`` to ``new``."""
    before = set(old.ids) if old else set()
    return {
        "old": old.digest if old else None,
        "new": new.digest,
        "added": sorted(set(new.ids) - before),
        "removed": sorted(before - set(new.ids)),
        "files": list(new.files),
        "folder": str(folder) if folder is not None else None,
    }


def insert(store: Store, bundle: PolicyBundle, folder: Path | None, *, by: str, how: str) -> None:
    """Record ``bundle`` as the set now in force (call inside the act's transaction)."""
    RegistryRepo(store).insert_policy_set(
        digest=bundle.digest, ids=bundle.ids, files=bundle.files,
        folder=str(folder) if folder is not None else None, at=clock.now_naive(), by=by,
        how=how)


def _check_folder(last: RecordedSet | None, folder: Path | None) -> None:
    """A deployment decides under the folder it recorded: another one named for one
    command (``IDGRAPH_POLICY_DIR=/tmp/empty idgraph profile ...``) would drop the
    county's forbids for that read. Only ``idgraph policy install`` (an admin's act)
    moves it. A store without a folder (in memory) is not pinned."""
    if last is None or last.folder is None or folder is None:
        return
    if Path(last.folder).resolve() != folder.resolve():
        raise PolicySetError(
            f"this deployment decides under the policy folder {last.folder}, not {folder}: "
            "unset IDGRAPH_POLICY_DIR, or move the folder with `idgraph policy install "
            "DIR --as ADMIN`"
        )


def note_loaded(store: Store, bundle: PolicyBundle, folder: Path | None) -> bool:
    """Record ``bundle`` if it is not the set in force; audit the change. True if it was new."""
    last = current(store)
    _check_folder(last, folder)
    if last is not None and last.digest == bundle.digest:
        return False
    with store.transaction():
        # processes sharing the database queue here: one records the set, the others
        # find it recorded
        RegistryRepo(store).lock_policy_sets()
        last = current(store)  # re-read inside the transaction
        if last is not None and last.digest == bundle.digest:
            return False
        insert(store, bundle, folder, by=SYSTEM, how=CHANGE)
        detail = {**change_detail(last, bundle, folder), "policy_set": bundle.digest}
        record(
            store,
            AuditEntry(principal=SYSTEM, action=CHANGE, outcome="ok", detail=detail),
        )
    return True
