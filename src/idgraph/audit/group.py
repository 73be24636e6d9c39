"""Group commit: appends from many threads of one process share one transaction.

An act outside any transaction pays for its own commit (DuckDB writes and syncs its
write-ahead log: ~1-3 ms, most of an audited act). A server answering many acts at
once need not pay it per act. :class:`GroupCommit` queues each caller's entries; one
caller at a time (the leader) takes everything queued, appends it with
:func:`~idgraph.audit.log.append_entries` in one transaction on its own connection to
the same database, commits, and wakes the callers it carried. Callers that arrive while
it commits form the next group.

* No caller returns before the transaction holding its entries has committed: what it
  returns is durable, like :func:`~idgraph.audit.record` outside a transaction.
* Each caller gets the indexes of its own entries, contiguous and in its order;
  groups are appended in arrival order.
* A group that fails (an edited head row, a broken connection) appends nothing and
  raises the error in every caller of that group; later groups start afresh.
* An act that must commit with its own writes (its entry in its transaction) calls
  :func:`~idgraph.audit.record` inside that transaction instead, as before.
* Automatic checkpoints follow the store they are enabled on: enable them on
  ``group.store`` (the group's connection) for group appends to sign them.
* DuckDB lets one process write a database file: the group's connection is a cursor
  of the caller's, so both write the same log; an append on the caller's connection
  while a group commits may fail with a transaction conflict (nothing is appended).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from idgraph.audit.entry import AuditEntry
from idgraph.audit.log import append_entries
from idgraph.store import Store


@dataclass
class _Waiting:
    entries: list[AuditEntry]
    indexes: range | None = None
    error: BaseException | None = None
    finished: bool = False


class GroupCommit:
    """Thread-safe appends to ``store``'s log, committed in groups (see module)."""

    def __init__(self, store: Store) -> None:
        # Its own connection: the leader thread must not share the caller's connection
        # (DuckDB connections are not thread-safe); both see the same database.
        self.store = store.sibling()
        self._cond = threading.Condition()
        self._queue: list[_Waiting] = []
        self._leading = False
        self.groups = 0  # transactions committed (appended / groups = mean group size)
        self.appended = 0

    def record(self, entry: AuditEntry) -> int:
        """Append ``entry``; return its index once it is durable."""
        return self.record_many([entry])[0]

    def record_many(self, entries: Iterable[AuditEntry]) -> range:
        """Append ``entries`` (contiguous); return their indexes once they are durable."""
        me = _Waiting(list(entries))
        with self._cond:
            self._queue.append(me)
            while self._leading and not me.finished:
                self._cond.wait()
            if not me.finished:  # lead: take every caller queued, ourselves included
                self._leading = True
                group, self._queue = self._queue, []
        if not me.finished:
            try:
                self._commit(group)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if me.error is not None:
            raise me.error
        assert me.indexes is not None
        return me.indexes

    def _commit(self, group: list[_Waiting]) -> None:
        """One transaction for the whole group; each caller's indexes, or the error."""
        try:
            appended = append_entries(self.store, [e for w in group for e in w.entries])
        except BaseException as exc:  # nothing of the group was appended: each caller sees why
            for w in group:
                w.error, w.finished = exc, True
            return
        start = appended.start
        for w in group:
            w.indexes, w.finished = range(start, start + len(w.entries)), True
            start += len(w.entries)
        self.groups += 1
        self.appended += len(appended)
