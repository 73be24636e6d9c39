"""Webhook deliveries: the ``webhook_deliveries`` table and the :class:`Dispatcher`.

An alert whose watch has a webhook gets a ``pending`` row in the alert's own transaction
(:func:`queue_delivery`); after the commit :func:`idgraph.monitor.alerts.deliver` hands it
to the :class:`Dispatcher`, which posts it on a worker thread (signed, retried with
back-off, see :mod:`idgraph.monitor.webhooks`) and writes the outcome back (``delivered``
or ``dead``) at the next :meth:`Dispatcher.flush`, or at once under the shell's guard.

**A restart loses no delivery**: the queue is in memory, the rows are not. The first
:meth:`Dispatcher.flush` of a store in a process (the first alert it delivers, the first
listing of dead letters, or :func:`resume_pending` at serve start) resubmits every
``pending`` row that no worker of this process holds, rebuilt from the stored alert
(the same JSON) and signed afresh; a row whose watch was cancelled, whose owner was
disabled or whose alert is gone (retention) is marked ``dead`` instead, not sent.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from idgraph import clock
from idgraph.monitor import watches, webhooks
from idgraph.store import Store

_log = logging.getLogger(__name__)

DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
        alert_id VARCHAR PRIMARY KEY, watch_id VARCHAR NOT NULL, owner VARCHAR NOT NULL,
        url VARCHAR NOT NULL, status VARCHAR NOT NULL, attempts INTEGER,
        last_error VARCHAR, queued_at TIMESTAMP, finished_at TIMESTAMP)""",
)


def ensure(store: Store) -> None:
    watches.ensure(store)
    store.ensure("monitor.delivery", DDL)


def queue_delivery(store: Store, alert_id: str, watch_id: str, owner: str, url: str,
                   at: datetime) -> None:
    """A ``pending`` delivery row (in the caller's transaction, beside its alert)."""
    store.execute(
        "INSERT INTO webhook_deliveries (alert_id, watch_id, owner, url, status, "
        "attempts, queued_at) VALUES (?, ?, ?, ?, 'pending', 0, ?)",
        [alert_id, watch_id, owner, url, at],
    )


def _wait(seconds: float) -> None:
    threading.Event().wait(seconds)


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


WORKERS: Final[int] = 8


@dataclass
class Dispatcher:
    """Delivers webhooks on worker threads; outcomes are written back to
    ``webhook_deliveries`` by :meth:`flush` (called under the caller's lock: by the
    listener, and by the acts that list deliveries), or at once under ``guard``.

    Up to ``workers`` threads, and **one per receiving host** at a time: a receiver that
    hangs or fails slowly through every back-off holds up its own deliveries (in order)
    and one worker, never every other watch's webhooks behind it."""

    post: webhooks.Post = webhooks.http_post
    sleep: Callable[[float], None] = field(default=lambda s: _wait(s))
    tries: int = webhooks.TRIES
    base: float = webhooks.BASE_DELAY
    workers: int = WORKERS
    _queue: queue.Queue[tuple[Store, str, str, bytes, bytes] | None] = field(
        default_factory=queue.Queue)
    _done: list[tuple[Store, str, webhooks.Outcome]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    guards: dict[int, Callable[[], AbstractContextManager[Any]]] = field(default_factory=dict)
    # alert ids submitted and not yet written back (never resubmitted meanwhile)
    _inflight: set[str] = field(default_factory=set)
    # stores whose pending rows this process has resumed (by id: Store is not hashable)
    _resumed: set[int] = field(default_factory=set)
    # hosts a worker is delivering to now, and what waits for each of them
    _busy: set[str] = field(default_factory=set)
    _waiting: dict[str, deque[tuple[Store, str, str, bytes, bytes]]] = field(
        default_factory=dict)

    def submit(self, store: Store, alert_id: str, url: str, secret: bytes, body: bytes) -> None:
        with self._lock:
            self._inflight.add(alert_id)
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) < max(1, self.workers):
                worker = threading.Thread(target=self._run, name="idgraph-webhooks",
                                          daemon=True)
                self._threads.append(worker)
                worker.start()
        self._queue.put((store, alert_id, url, secret, body))

    def _run(self) -> None:
        while True:
            got = self._queue.get()
            if got is None:
                self._queue.task_done()
                return
            host = _host(got[2])
            with self._lock:
                if host in self._busy:  # its worker takes it next (task_done then)
                    self._waiting.setdefault(host, deque()).append(got)
                    continue
                self._busy.add(host)
            item: tuple[Store, str, str, bytes, bytes] | None = got
            while item is not None:
                self._deliver(item)
                self._queue.task_done()
                with self._lock:
                    waiting = self._waiting.get(host)
                    if waiting:
                        item = waiting.popleft()
                    else:
                        item = None
                        self._waiting.pop(host, None)
                        self._busy.discard(host)

    def _deliver(self, item: tuple[Store, str, str, bytes, bytes]) -> None:
        store, alert_id, url, secret, body = item
        try:
            outcome = webhooks.deliver(url, secret, body, post=self.post, sleep=self.sleep,
                                       tries=self.tries, base=self.base)
        except Exception as exc:  # never kill the worker
            outcome = webhooks.Outcome(False, 0, type(exc).__name__)
        with self._lock:
            self._done.append((store, alert_id, outcome))
        guard = self.guards.get(id(store))
        if guard is not None:
            try:
                with guard():
                    self.flush(store)
            except Exception as exc:  # written at the next flush
                _log.warning("webhook outcome not written yet: %s", type(exc).__name__)

    def join(self) -> None:
        """Wait until every submitted delivery has an outcome (tests)."""
        if self._threads:
            self._queue.join()

    def flush(self, store: Store) -> int:
        """Write the finished deliveries of ``store`` (delivered, or dead-lettered); the
        first flush of a store in this process resumes its pending rows (:meth:`resume`)."""
        if id(store) not in self._resumed:
            try:
                self.resume(store)
            except Exception as exc:  # a flush writes outcomes whatever resuming met
                _log.warning("pending webhook deliveries not resumed: %s", type(exc).__name__)
        with self._lock:
            mine = [d for d in self._done if d[0] is store]
            self._done = [d for d in self._done if d[0] is not store]
            self._inflight.difference_update(d[1] for d in mine)
        if not mine:
            return 0
        now = clock.now_naive()
        with store.transaction():
            for _, alert_id, out in mine:
                store.execute(
                    "UPDATE webhook_deliveries SET status = ?, attempts = ?, last_error = ?, "
                    "finished_at = ? WHERE alert_id = ?",
                    ["delivered" if out.delivered else "dead", out.attempts,
                     out.last_error or None, now, alert_id],
                )
        return len(mine)

    def resume(self, store: Store) -> int:
        """Resubmit ``store``'s ``pending`` deliveries no worker of this process holds (a
        restart lost them from memory); those that may no longer be sent are marked
        ``dead``. Returns how many were resubmitted. Call under the store's lock."""
        self._resumed.add(id(store))
        ensure(store)
        with self._lock:
            held = set(self._inflight)
        todo, stop = _pending(store, held)
        if stop:
            now = clock.now_naive()
            with store.transaction():
                for alert_id, why in stop:
                    store.execute(
                        "UPDATE webhook_deliveries SET status = 'dead', last_error = ?, "
                        "finished_at = ? WHERE alert_id = ? AND status = 'pending'",
                        [why, now, alert_id])
        for alert_id, url, secret, body in todo:
            self.submit(store, alert_id, url, secret, body)
        return len(todo)


def _pending(store: Store, held: set[str]
             ) -> tuple[list[tuple[str, str, bytes, bytes]], list[tuple[str, str]]]:
    """Pending rows not in ``held``: (alert, url, secret, body) to send again, and
    (alert, why) that may not be sent any more."""
    from idgraph.monitor import alerts as alerts_mod  # alerts imports this module

    alerts_mod.ensure(store)
    watches._ensure_joined(store)
    if not store.scalar("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_name = 'alerts'"):
        return [], []
    rows = store.fetchall(
        "SELECT d.alert_id, d.url, w.status, w.secret, "
        "coalesce(u.org = w.org AND NOT u.disabled, false), a.alert_id IS NOT NULL, "
        "a.watch_id, a.owner, a.case_id, a.identity_id, a.record_id, a.segment, a.kind, "
        "a.rules, a.notices, a.record, a.raised_at "
        "FROM webhook_deliveries d LEFT JOIN watches w ON w.watch_id = d.watch_id "
        "LEFT JOIN users u ON u.name = w.owner LEFT JOIN alerts a ON a.alert_id = d.alert_id "
        "WHERE d.status = 'pending' ORDER BY d.queued_at, d.alert_id")
    todo: list[tuple[str, str, bytes, bytes]] = []
    stop: list[tuple[str, str]] = []
    for r in rows:
        alert_id, url = str(r[0]), str(r[1])
        if alert_id in held:
            continue
        if not r[5]:
            stop.append((alert_id, "alert removed"))
        elif r[2] != "active":
            stop.append((alert_id, "watch stopped"))
        elif not r[4]:
            stop.append((alert_id, "owner inactive"))
        else:
            alert = alerts_mod.Alert(
                alert_id, r[6], r[7], r[8], r[9], r[10], r[11], r[12], tuple(r[13] or ()),
                tuple(r[14] or ()), json.loads(r[15]) if r[15] else {}, r[16])
            todo.append((alert_id, url, bytes.fromhex(str(r[3])), alert.body()))
    return todo, stop


DISPATCHER: Final[Dispatcher] = Dispatcher()


def resume_pending(store: Store) -> int:
    """Resume ``store``'s pending webhook deliveries now (serve start); see
    :meth:`Dispatcher.resume`."""
    return DISPATCHER.resume(store)


def use_guard(store: Store, guard: Callable[[], AbstractContextManager[Any]] | None) -> None:
    """Have the webhook worker write outcomes for ``store`` at once, under ``guard`` (the
    shell's lock on the store's connection); without one they wait for the next flush."""
    if guard is None:
        DISPATCHER.guards.pop(id(store), None)
        return
    DISPATCHER.guards[id(store)] = guard
    if id(store) not in DISPATCHER._resumed:  # the shell's first watch request: resume
        try:
            with guard():
                DISPATCHER.flush(store)
        except Exception as exc:  # resumed at the next flush instead
            _log.warning("pending webhook deliveries not resumed: %s", type(exc).__name__)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    alert_id: str
    watch_id: str
    owner: str
    url: str
    attempts: int
    last_error: str | None
    queued_at: datetime
    finished_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "watch_id": self.watch_id, "owner": self.owner,
                "url": self.url, "attempts": self.attempts, "last_error": self.last_error,
                "queued_at": self.queued_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None}


def list_dead_letters(store: Store, *, owner: str | None = None,
                      org: str | None = None) -> list[DeadLetter]:
    """Webhook deliveries that failed every attempt (of ``owner``'s or ``org``'s watches)."""
    ensure(store)
    DISPATCHER.flush(store)
    rows = store.fetchall(
        "SELECT d.alert_id, d.watch_id, d.owner, d.url, d.attempts, d.last_error, d.queued_at, "
        "d.finished_at FROM webhook_deliveries d JOIN watches w ON w.watch_id = d.watch_id "
        "WHERE d.status = 'dead' AND (? IS NULL OR d.owner = ?) AND (? IS NULL OR w.org = ?) "
        "ORDER BY d.queued_at, d.alert_id", [owner, owner, org, org])
    return [DeadLetter(*r) for r in rows]


def delivery_status(store: Store, alert_id: str) -> tuple[str, int | None] | None:
    ensure(store)
    DISPATCHER.flush(store)
    row = store.fetchone(
        "SELECT status, attempts FROM webhook_deliveries WHERE alert_id = ?", [alert_id])
    return None if row is None else (row[0], row[1])


__all__ = [
    "DDL",
    "DISPATCHER",
    "DeadLetter",
    "Dispatcher",
    "delivery_status",
    "ensure",
    "list_dead_letters",
    "queue_delivery",
    "resume_pending",
    "use_guard",
]
