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

On PostgreSQL several processes share the rows: a process resumes only rows queued
before its dispatcher started (younger ones belong to a live process, which sends them
itself), and takes each of those atomically (:func:`idgraph.store.watches.claim_delivery`),
so processes started together (``serve --workers N``) never send one row twice. A row
left pending by a process that dies while its siblings live is resumed by the next
process to start.
"""

from __future__ import annotations

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
from idgraph.monitor import webhooks
from idgraph.store import Store
from idgraph.store import watches as repo

_log = logging.getLogger(__name__)

def queue_delivery(store: Store, alert_id: str, watch_id: str, owner: str, url: str,
                   at: datetime) -> None:
    """A ``pending`` delivery row (in the caller's transaction, beside its alert)."""
    repo.queue_delivery(store, alert_id, watch_id, owner, url, at)


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
    # when this dispatcher began (PostgreSQL: rows queued since are other processes')
    started: datetime = field(default_factory=clock.now_naive)
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
        repo.finish_deliveries(
            store, [(alert_id, out.delivered, out.attempts, out.last_error or None)
                    for _, alert_id, out in mine], clock.now_naive())
        return len(mine)

    def resume(self, store: Store) -> int:
        """Resubmit ``store``'s ``pending`` deliveries no worker of this process holds (a
        restart lost them from memory); those that may no longer be sent are marked
        ``dead``. Returns how many were resubmitted. Call under the store's lock."""
        self._resumed.add(id(store))
        with self._lock:
            held = set(self._inflight)
        todo, stop = _pending(store, held)
        now = clock.now_naive()
        repo.mark_undeliverable(store, stop, now)
        if store.dialect == "postgres":
            # several processes share the database: a row queued since this dispatcher
            # started is another live process's (in flight there), and each older row
            # is taken by one process only (claimed atomically)
            todo = [t for t in todo if t[4] is None or t[4] <= self.started]
            todo = [t for t in todo if repo.claim_delivery(store, t[0], t[4], now)]
        for alert_id, url, secret, body, _ in todo:
            self.submit(store, alert_id, url, secret, body)
        return len(todo)


_Todo = tuple[str, str, bytes, bytes, datetime | None]


def _pending(store: Store, held: set[str]) -> tuple[list[_Todo], list[tuple[str, str]]]:
    """Pending rows not in ``held``: (alert, url, secret, body, queued at) to send again,
    and (alert, why) that may not be sent any more."""
    from idgraph.monitor import alerts as alerts_mod  # alerts imports this module

    todo: list[_Todo] = []
    stop: list[tuple[str, str]] = []
    for p in repo.pending_deliveries(store):
        if p.alert_id in held:
            continue
        if p.alert is None:
            stop.append((p.alert_id, "alert removed"))
        elif p.watch_status != "active" or p.secret is None:
            stop.append((p.alert_id, "watch stopped"))
        elif not p.owner_active:
            stop.append((p.alert_id, "owner inactive"))
        else:
            alert = alerts_mod.alert_of_row(p.alert)
            todo.append((p.alert_id, p.url, bytes.fromhex(p.secret), alert.body(),
                         p.queued_at))
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
    DISPATCHER.flush(store)
    return [DeadLetter(*r) for r in repo.dead_letters(store, owner=owner, org=org)]


def delivery_status(store: Store, alert_id: str) -> tuple[str, int | None] | None:
    DISPATCHER.flush(store)
    return repo.delivery_status(store, alert_id)


__all__ = [
    "DISPATCHER",
    "DeadLetter",
    "Dispatcher",
    "delivery_status",
    "list_dead_letters",
    "queue_delivery",
    "resume_pending",
    "use_guard",
]
