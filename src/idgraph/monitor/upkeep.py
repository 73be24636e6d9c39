"""Monitor upkeep: what other acts must do to the monitor's tables.

* **Retention** (:func:`remove_alerts_of_records`): a stored alert keeps a minimised copy
  of the record it announced (``alerts.record``). When retention removes the record, the
  alert goes with it (and its webhook delivery rows, so a pending one is never sent). The
  alert's ``record_id`` may be a pseudonym (a record whose own id is withheld from the
  watch's purpose, see ``policy.profile.shown_ids``), so the real record of each alert is
  read from its disclosure entry in the audit log (action ``alert``: ``record_ids``,
  ``detail.alert_id``), which keeps the real ids by design. The caller audits which
  alerts it removed (``app.admin.apply_retention``: in the act's own entry).
* **Feed tokens** (:func:`list_feed_tokens`): the tokens of a source, without their
  secrets (only a SHA-256 digest is stored, and it is not returned either).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from idgraph import clock
from idgraph.store import Store
from idgraph.store import watches as repo

ALERT_ACTION: Final[str] = "alert"


def remove_alerts_of_records(store: Store, record_ids: Sequence[str]) -> list[str]:
    """Delete the alerts that announced any of ``record_ids`` (their minimised record
    copies with them) and their webhook delivery rows; the removed alert ids, sorted.
    Runs in the caller's transaction."""
    if not record_ids or not repo.has_alerts(store):
        return []
    # the real record of every alert, from its disclosure entry (the alert row may hold a
    # pseudonym); and the rows whose shown id is the record's own id
    found = set(repo.alert_ids_disclosing(store, record_ids, ALERT_ACTION))
    found.update(repo.alert_ids_of_records(store, record_ids))
    return repo.remove_alerts(store, sorted(found))


@dataclass(frozen=True, slots=True)
class FeedTokenInfo:
    """A feed token as an administrator may list it: never its secret or digest."""

    token_id: str
    source_id: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= clock.now_naive() else "active"

    def to_dict(self) -> dict[str, Any]:
        return {"token_id": self.token_id, "source_id": self.source_id,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by,
                "expires_at": self.expires_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
                "state": self.state}


def list_feed_tokens(store: Store, source_id: str | None = None) -> list[FeedTokenInfo]:
    """The feed tokens (of ``source_id``), oldest first; no secret, no digest."""
    return [FeedTokenInfo(*r) for r in repo.list_feed_tokens(store, source_id)]


__all__ = ["FeedTokenInfo", "list_feed_tokens", "remove_alerts_of_records"]
