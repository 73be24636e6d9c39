"""Alerts: a record joined a watched identity, and the watch may see it.

:func:`on_joined` is the listener on :func:`idgraph.monitor.events.record_joined`
(:func:`install` registers it). For each event and each watch on the event's identity
(or whose criteria the new record meets) it

1. drops the watch if it no longer stands (:func:`watches.stop_reason`: expiry, legal
   process expired, case closed, cancelled) -- nothing is decided, read or logged;
2. decides, before the record is read, with the read gate: ``policy.allowed`` for the
   watch's :class:`~idgraph.schema.Query` (principal = the owner, purpose, claims,
   basis, case) on the record's segment, for this identity, today. A refusal raises
   nothing and discloses nothing;
3. on a permit reads the record, minimises it to the decision's fields (as a profile
   read: ``policy.minimise``, pseudonymous ids where the id itself is withheld), and in
   one transaction stores the alert, creates the notices its rules' duties require and
   audits the decision and the disclosure (action ``alert``: identity, record, segment,
   rules, notices);
4. after the commit, hands the alert to the owner's live streams (:class:`AlertBus`,
   server-sent events) and, when the watch has a webhook, to the :class:`Dispatcher`
   (signed, retried with back-off, dead-lettered after ``webhooks.TRIES``).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

from idgraph import clock
from idgraph.monitor import events, watches, webhooks
from idgraph.policy.engine import AccessDecision, allowed, audit_decision, response_entry
from idgraph.policy.fields import NEVER, minimise
from idgraph.policy.notices import create_notices
from idgraph.policy.profile import shown_ids
from idgraph.policy.registry import Registry
from idgraph.schema import RECORD_COLUMNS, Query, segment_key
from idgraph.store import Store

if TYPE_CHECKING:
    from idgraph.app.context import Env

_log = logging.getLogger(__name__)

ACTION: Final[str] = "alert"
DECONFLICT_ACTION: Final[str] = "watch.deconflict"
_READ_COLUMNS = [c for c in RECORD_COLUMNS if c not in NEVER]

DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS alerts (
        alert_id VARCHAR PRIMARY KEY, watch_id VARCHAR NOT NULL, owner VARCHAR NOT NULL,
        org VARCHAR, case_id VARCHAR, identity_id VARCHAR, record_id VARCHAR,
        segment VARCHAR, kind VARCHAR, rules VARCHAR[], notices VARCHAR[], record JSON,
        raised_at TIMESTAMP)""",
    "CREATE INDEX IF NOT EXISTS alerts_owner ON alerts (owner)",
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
        alert_id VARCHAR PRIMARY KEY, watch_id VARCHAR NOT NULL, owner VARCHAR NOT NULL,
        url VARCHAR NOT NULL, status VARCHAR NOT NULL, attempts INTEGER,
        last_error VARCHAR, queued_at TIMESTAMP, finished_at TIMESTAMP)""",
)


def ensure(store: Store) -> None:
    watches.ensure(store)
    store.ensure("monitor.alerts", DDL)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as its owner may see it (the record minimised as a read would)."""

    alert_id: str
    watch_id: str
    owner: str
    case_id: str | None
    identity_id: str
    record_id: str  # as shown: a pseudonym where the record's own id is withheld
    segment: str
    kind: str
    rules: tuple[str, ...]
    notices: tuple[str, ...]
    record: dict[str, Any]
    raised_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id, "watch_id": self.watch_id, "owner": self.owner,
            "case_id": self.case_id, "identity_id": self.identity_id,
            "record_id": self.record_id, "source": self.segment, "kind": self.kind,
            "rules": list(self.rules), "notices": list(self.notices), "record": self.record,
            "raised_at": self.raised_at.isoformat(),
        }

    def body(self) -> bytes:
        """The JSON a webhook receives."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str).encode()


# -- live streams (server-sent events) ---------------------------------------------------
class AlertBus:
    """In-process fan-out of alerts (and deconfliction notices) to each user's open
    streams. A slow stream drops its oldest item rather than block the feed."""

    def __init__(self, maxsize: int = 1000) -> None:
        self._subs: dict[str, list[queue.Queue[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        self.maxsize = maxsize

    def subscribe(self, user: str) -> queue.Queue[dict[str, Any]]:
        q: queue.Queue[dict[str, Any]] = queue.Queue(self.maxsize)
        with self._lock:
            self._subs.setdefault(user, []).append(q)
        return q

    def unsubscribe(self, user: str, q: queue.Queue[dict[str, Any]]) -> None:
        with self._lock:
            subs = self._subs.get(user, [])
            if q in subs:
                subs.remove(q)
            if not subs:
                self._subs.pop(user, None)

    def publish(self, user: str, item: dict[str, Any]) -> int:
        with self._lock:
            subs = list(self._subs.get(user, ()))
        for q in subs:
            while True:
                try:
                    q.put_nowait(item)
                    break
                except queue.Full:
                    with suppress(queue.Empty):
                        q.get_nowait()
        return len(subs)

    def stream(self, user: str, *, timeout: float = 15.0,
               stop: threading.Event | None = None) -> Iterator[dict[str, Any] | None]:
        """Items for ``user`` from now on (subscribed at once, not at the first read);
        ``None`` every ``timeout`` seconds of quiet (a keep-alive for the shell); ends when
        ``stop`` is set or the iterator is closed."""
        q = self.subscribe(user)
        return self._drain(user, q, timeout, stop)

    def _drain(self, user: str, q: queue.Queue[dict[str, Any]], timeout: float,
               stop: threading.Event | None) -> Iterator[dict[str, Any] | None]:
        try:
            while stop is None or not stop.is_set():
                try:
                    yield q.get(timeout=timeout)
                except queue.Empty:
                    yield None
        finally:
            self.unsubscribe(user, q)


BUS: Final[AlertBus] = AlertBus()


# -- webhook deliveries ------------------------------------------------------------------
def _wait(seconds: float) -> None:
    threading.Event().wait(seconds)


@dataclass
class Dispatcher:
    """Delivers webhooks on a worker thread; outcomes are written back to
    ``webhook_deliveries`` by :meth:`flush` (called under the caller's lock: by the
    listener, and by the acts that list deliveries), or at once under ``guard``."""

    post: webhooks.Post = webhooks.http_post
    sleep: Callable[[float], None] = field(default=lambda s: _wait(s))
    tries: int = webhooks.TRIES
    base: float = webhooks.BASE_DELAY
    _queue: queue.Queue[tuple[Store, str, str, bytes, bytes] | None] = field(
        default_factory=queue.Queue)
    _done: list[tuple[Store, str, webhooks.Outcome]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    guards: dict[int, Callable[[], AbstractContextManager[Any]]] = field(default_factory=dict)

    def submit(self, store: Store, alert_id: str, url: str, secret: bytes, body: bytes) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="idgraph-webhooks",
                                                daemon=True)
                self._thread.start()
        self._queue.put((store, alert_id, url, secret, body))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
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
            self._queue.task_done()

    def join(self) -> None:
        """Wait until every submitted delivery has an outcome (tests)."""
        if self._thread is not None:
            self._queue.join()

    def flush(self, store: Store) -> int:
        """Write the finished deliveries of ``store`` (delivered, or dead-lettered)."""
        with self._lock:
            mine = [d for d in self._done if d[0] is store]
            self._done = [d for d in self._done if d[0] is not store]
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


DISPATCHER: Final[Dispatcher] = Dispatcher()


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


# -- raising alerts ----------------------------------------------------------------------
def _record_row(store: Store, record_id: str) -> dict[str, Any] | None:
    cols = ", ".join(_READ_COLUMNS)
    cur = store.execute(
        f"SELECT {cols} FROM records WHERE record_id = ? AND is_current", [record_id])
    rows = cur.fetchall()
    if not rows:
        return None
    return dict(zip(_READ_COLUMNS, rows[0], strict=True))


def _segments(store: Store, record_ids: Sequence[str]) -> dict[str, str]:
    """Each current record's segment key (source and origin only: no person data)."""
    rows = store.fetchall(
        "SELECT record_id, source_id, origin_jurisdiction FROM records "
        "WHERE is_current AND record_id IN (SELECT unnest(?))", [sorted(set(record_ids))])
    return {r[0]: segment_key(r[1], r[2]) for r in rows}


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def _query(w: watches.Watch) -> Query:
    return Query(principal=w.owner, purpose=w.purpose, claims=w.claims, basis=w.basis,
                 case_id=w.case_id, via="monitor")


def _decide(reg: Registry, w: watches.Watch, segment: str, identity_id: str) -> AccessDecision:
    filters = sorted(w.criteria) if w.criteria else ()
    if segment not in reg.segments:  # a feed brought a new origin: read the segments again
        reg.refresh()
    return allowed(reg, _query(w), [segment], identity_ids=[identity_id], filters=filters)


def _raise(store: Store, reg: Registry, w: watches.Watch, ev: events.RecordJoined,
           decision: AccessDecision, row: dict[str, Any], segment: str) -> Alert:
    """Store the alert, its notices and its audit entries in one transaction."""
    shown = shown_ids([row], [segment], decision)
    clean = minimise(row, decision.fields_for(segment))
    rid = str(row["record_id"])
    if rid in shown:
        clean = {**clean, "record_id": shown[rid], "source_record_id": None,
                 "source_line": None}
    clean.pop("source_file", None)  # a server path is no alert's business
    record = {k: _jsonable(v) for k, v in clean.items() if v is not None}
    d = decision.decisions[segment]
    at = clock.now().astimezone(UTC).replace(tzinfo=None)
    user = decision.principal
    duties = [(segment, rule, duty) for rule in d.rules
              for duty in reg.policies.duties.get(rule, ())]
    alert_id = "A-" + uuid.uuid4().hex[:16]
    with store.transaction():
        notices = create_notices(
            store, identity_id=ev.identity_id, org=user.org if user else "",
            principal=w.owner, case_id=w.case_id, duties=duties, at=at,
            jurisdictions=reg.policies.jurisdictions,
        )
        alert = Alert(alert_id, w.watch_id, w.owner, w.case_id, ev.identity_id,
                      shown.get(rid, rid), segment, ev.kind, d.rules, tuple(notices), record, at)
        store.execute(
            "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [alert_id, w.watch_id, w.owner, w.org, w.case_id, ev.identity_id, alert.record_id,
             segment, ev.kind, list(d.rules), list(notices), json.dumps(record, default=str),
             at],
        )
        if w.webhook_url:
            store.execute(
                "INSERT INTO webhook_deliveries (alert_id, watch_id, owner, url, status, "
                "attempts, queued_at) VALUES (?, ?, ?, ?, 'pending', 0, ?)",
                [alert_id, w.watch_id, w.owner, w.webhook_url, at],
            )
        entry = response_entry(
            decision, ACTION, "ok", identity_ids=(ev.identity_id,), sources=(segment,),
            record_ids=(rid,),
            detail={"watch_id": w.watch_id, "alert_id": alert_id, "notices": notices,
                    "kind": ev.kind, "batch_id": ev.batch_id, "fields": list(d.fields or ())},
        )
        audit_decision(store, decision, entry)
    return alert


def raise_alerts(store: Store, reg: Registry, batch: Sequence[events.RecordJoined]) -> list[Alert]:
    """Alerts for ``batch`` (see the module doc); committed, not yet delivered."""
    ensure(store)
    if not batch:
        return []
    today = clock.today()
    by_identity = watches.watching(store, [e.identity_id for e in batch])
    by_criteria = watches.criteria_watches(store)
    if not by_identity and not by_criteria:
        return []
    # the segment as the store holds it (not as the event says), for current records only
    held = _segments(store, [e.record_id for e in batch])
    out: list[Alert] = []
    for ev in batch:
        segment = held.get(ev.record_id)
        if segment is None:
            continue  # not (or no longer) a current record
        row: dict[str, Any] | None = None
        for standing in [*by_identity.get(ev.identity_id, ()), *by_criteria]:
            if watches.stop_reason(standing, today) is not None:
                continue  # stopped: nothing decided, read or logged
            # decided before any value of the record is read (criteria included)
            decision = _decide(reg, standing.watch, segment, ev.identity_id)
            if segment not in decision.permitted:
                continue  # the purpose may not use this source: nothing leaves
            if row is None:
                row = _record_row(store, ev.record_id)
            if row is None:
                break  # retired since (a later version, retention)
            crit = standing.watch.criteria
            if crit is not None and not _meets(crit, row, decision.fields_for(segment)):
                continue
            out.append(_raise(store, reg, standing.watch, ev, decision, row, segment))
    return out


def _meets(criteria: dict[str, str], row: dict[str, Any], fields: Sequence[str]) -> bool:
    """A criteria watch matches only on fields its decision lets it see: a match on a
    withheld field (an SSN the purpose may not read) would disclose the value."""
    return set(criteria) <= set(fields) and watches.criteria_match(criteria, row)


def deliver(store: Store, alerts: Sequence[Alert], *, bus: AlertBus = BUS,
            dispatcher: Dispatcher = DISPATCHER) -> None:
    """Hand committed alerts to their owners' live streams and webhooks."""
    for alert in alerts:
        bus.publish(alert.owner, {"event": "alert", "data": alert.to_dict()})
        w = watches.get_watch(store, alert.watch_id)
        if w is not None and w.webhook_url:
            dispatcher.submit(store, alert.alert_id, w.webhook_url,
                              watches.watch_secret(store, w.watch_id), alert.body())
    dispatcher.flush(store)


def on_joined(env: Env, batch: Sequence[events.RecordJoined]) -> None:
    """The listener on :func:`events.record_joined`."""
    alerts = raise_alerts(env.store, env.registry(), batch)
    deliver(env.store, alerts)


def install() -> None:
    """Register :func:`on_joined` (idempotent)."""
    events.on_record_joined(on_joined)


def uninstall() -> None:
    events.remove_listener(on_joined)


def use_guard(store: Store, guard: Callable[[], AbstractContextManager[Any]] | None) -> None:
    """Have the webhook worker write outcomes for ``store`` at once, under ``guard`` (the
    shell's lock on the store's connection); without one they wait for the next flush."""
    if guard is None:
        DISPATCHER.guards.pop(id(store), None)
    else:
        DISPATCHER.guards[id(store)] = guard


def list_alerts(store: Store, owner: str, *, limit: int = 100) -> list[Alert]:
    ensure(store)
    rows = store.fetchall(
        "SELECT alert_id, watch_id, owner, case_id, identity_id, record_id, segment, kind, "
        "rules, notices, record, raised_at FROM alerts WHERE owner = ? "
        "ORDER BY raised_at DESC, alert_id LIMIT ?", [owner, limit])
    return [Alert(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], tuple(r[8] or ()),
                  tuple(r[9] or ()), json.loads(r[10]) if r[10] else {}, r[11]) for r in rows]


__all__ = [
    "ACTION",
    "BUS",
    "DECONFLICT_ACTION",
    "DISPATCHER",
    "Alert",
    "AlertBus",
    "DeadLetter",
    "Dispatcher",
    "deliver",
    "delivery_status",
    "ensure",
    "install",
    "list_alerts",
    "list_dead_letters",
    "on_joined",
    "raise_alerts",
    "uninstall",
    "use_guard",
]
