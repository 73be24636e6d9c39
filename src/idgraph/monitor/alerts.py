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
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from idgraph import clock
from idgraph.audit import record_many
from idgraph.monitor import delivery, events, watches
from idgraph.monitor.delivery import (  # re-exported: moved to monitor.delivery
    DISPATCHER,
    DeadLetter,
    Dispatcher,
    delivery_status,
    list_dead_letters,
    use_guard,
)
from idgraph.policy.engine import AccessDecision, allowed, decision_entries, response_entry
from idgraph.policy.fields import NEVER, minimise
from idgraph.policy.notices import create_notices
from idgraph.policy.profile import shown_ids
from idgraph.policy.registry import Registry
from idgraph.schema import RECORD_COLUMNS, Query, segment_key
from idgraph.store import Store
from idgraph.store import watches as repo

if TYPE_CHECKING:
    from idgraph.app.context import Env


_log = logging.getLogger(__name__)
_SEEN_MAX: Final[int] = 10_000

ACTION: Final[str] = "alert"
DECONFLICT_ACTION: Final[str] = "watch.deconflict"
_READ_COLUMNS = [c for c in RECORD_COLUMNS if c not in NEVER]

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
        # keys (alert and notice ids) published lately: an item reaches a stream once,
        # whether this process raised it or a relay read it from the database
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()

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

    def _first(self, key: str) -> bool:
        """Remember ``key``; whether it is new (call under the lock)."""
        if key in self._seen:
            return False
        self._seen.add(key)
        self._seen_order.append(key)
        while len(self._seen_order) > _SEEN_MAX:
            self._seen.discard(self._seen_order.popleft())
        return True

    def seen(self, key: str) -> None:
        """Count ``key`` as published (an item that must not reach a stream later)."""
        with self._lock:
            self._first(key)

    def publish(self, user: str, item: dict[str, Any], *, key: str | None = None) -> int:
        """Hand ``item`` to ``user``'s open streams (not again if ``key`` was published
        lately); the number of streams."""
        with self._lock:
            if key is not None and not self._first(key):
                return 0
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


# -- across processes (PostgreSQL) -------------------------------------------------------
RELAY_POLL: Final[float] = 0.5  # seconds between two reads of the tables
RELAY_WINDOW: Final[timedelta] = timedelta(seconds=10)  # read back: late commits
RELAY_BATCH: Final[int] = 5000


class Relay:
    """Brings alerts and deconfliction notices raised by the *other* processes sharing a
    PostgreSQL database (``serve --workers N``) to this process's streams: a thread on a
    connection of its own reads the rows made since the last read (and
    :data:`RELAY_WINDOW` back, for transactions that committed late) every
    :data:`RELAY_POLL` seconds and publishes those the bus has not seen (by id). Rows
    made before the relay started are not replayed (a stream shows what comes after it
    opens)."""

    def __init__(self, store: Store, bus: AlertBus, *, poll: float = RELAY_POLL) -> None:
        self.store, self.bus, self.poll = store, bus, poll
        self.stop = threading.Event()
        self.alerts_at = repo.latest_alert_at(store)
        self.notes_at = repo.latest_deconfliction_at(store)
        # what existed when the relay started is old news (not replayed)
        for a in repo.alerts_since(store, self._back(self.alerts_at), limit=RELAY_BATCH):
            self.bus.seen(a.alert_id)
        for n in repo.deconflictions_since(store, self._back(self.notes_at),
                                           limit=RELAY_BATCH):
            self.bus.seen(n.notice_id)
        self._full = False
        self.thread = threading.Thread(target=self._run, name="idgraph-alert-relay",
                                       daemon=True)

    @staticmethod
    def _back(at: datetime | None) -> datetime | None:
        return None if at is None else at - RELAY_WINDOW

    def once(self) -> int:
        """Read and publish once; the number of items published."""
        n = 0
        # a full batch: read on from its last row (no window back) until caught up
        since = self.alerts_at if self._full else self._back(self.alerts_at)
        rows = repo.alerts_since(self.store, since, limit=RELAY_BATCH)
        self._full = len(rows) >= RELAY_BATCH
        for a in rows:
            self.alerts_at = max(self.alerts_at or a.raised_at, a.raised_at)
            item = {"event": "alert", "data": alert_of_row(a).to_dict()}
            n += bool(self.bus.publish(a.owner, item, key=a.alert_id))
        for r in repo.deconflictions_since(self.store, self._back(self.notes_at),
                                           limit=RELAY_BATCH):
            self.notes_at = max(self.notes_at or r.created_at, r.created_at)
            note = watches.Deconfliction(*r)
            n += bool(self.bus.publish(r.recipient, {"event": "deconfliction",
                                                     "data": note.to_dict()},
                                       key=r.notice_id))
        return n

    def _run(self) -> None:
        try:
            while not self.stop.wait(self.poll):
                self.once()
        except Exception as exc:  # the store closed: streams get this process's only
            _log.warning("alert relay stopped: %s", type(exc).__name__)
        finally:
            with suppress(Exception):
                self.store.close()


_RELAYS: dict[int, Relay] = {}
_RELAYS_LOCK = threading.Lock()


def relay(store: Store, bus: AlertBus | None = None) -> Relay | None:
    """Start (once per store) the :class:`Relay` of a PostgreSQL store's alerts to this
    process's streams; None on DuckDB (one process: every alert is raised here). Call it
    under the shell's lock on ``store`` (it opens a connection of its own)."""
    if store.dialect != "postgres":
        return None
    with _RELAYS_LOCK:
        found = _RELAYS.get(id(store))
        if found is not None and found.thread.is_alive():
            return found
        r = Relay(store.sibling(), bus or BUS)
        r.thread.start()
        _RELAYS[id(store)] = r
        return r


# -- raising alerts ----------------------------------------------------------------------
def _record_rows(store: Store, record_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The current rows of ``record_ids`` (one read for a push's alerts), by record id."""
    return repo.current_records(store, record_ids, _READ_COLUMNS)


def _record_row(store: Store, record_id: str) -> dict[str, Any] | None:
    return _record_rows(store, [record_id]).get(record_id)


def _segments(store: Store, record_ids: Sequence[str]) -> dict[str, str]:
    """Each current record's segment key (source and origin only: no person data)."""
    return {rid: segment_key(src, origin)
            for rid, src, origin in repo.current_segments(store, record_ids)}


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


@dataclass(frozen=True, slots=True)
class _Permit:
    """A watch the read gate let see one event's record (decided, record not read)."""

    watch: watches.Watch
    event: events.RecordJoined
    decision: AccessDecision
    segment: str


def _prepare(reg: Registry, p: _Permit, row: dict[str, Any], at: datetime
             ) -> tuple[Alert, list[tuple[str, str, str]]]:
    """The alert as its owner may see it (minimised as a profile read) and the duties
    its rules carry; nothing written yet."""
    w, ev, decision, segment = p.watch, p.event, p.decision, p.segment
    shown = shown_ids([row], [segment], decision)
    clean = minimise(row, decision.fields_for(segment))
    rid = str(row["record_id"])
    if rid in shown:
        clean = {**clean, "record_id": shown[rid], "source_record_id": None,
                 "source_line": None}
    clean.pop("source_file", None)  # a server path is no alert's business
    record = {k: _jsonable(v) for k, v in clean.items() if v is not None}
    d = decision.decisions[segment]
    duties = [(segment, rule, duty) for rule in d.rules
              for duty in reg.policies.duties.get(rule, ())]
    alert = Alert("A-" + uuid.uuid4().hex[:16], w.watch_id, w.owner, w.case_id,
                  ev.identity_id, shown.get(rid, rid), segment, ev.kind, d.rules, (), record,
                  at)
    return alert, duties


def _write(store: Store, reg: Registry, found: Sequence[tuple[_Permit, dict[str, Any]]]
           ) -> list[Alert]:
    """Store the alerts, their notices and their audit entries in one transaction (one
    per push, whatever the number of alerts: the commit is the dear part)."""
    at = clock.now().astimezone(UTC).replace(tzinfo=None)
    out: list[Alert] = []
    entries = []
    with store.transaction():
        for p, row in found:
            alert, duties = _prepare(reg, p, row, at)
            w, ev, decision, segment = p.watch, p.event, p.decision, p.segment
            user = decision.principal
            notices = create_notices(
                store, identity_id=ev.identity_id, org=user.org if user else "",
                principal=w.owner, case_id=w.case_id, duties=duties, at=at,
                jurisdictions=reg.policies.jurisdictions,
            ) if duties else []
            alert = replace(alert, notices=tuple(notices))
            if w.webhook_url:
                delivery.queue_delivery(store, alert.alert_id, w.watch_id, w.owner,
                                        w.webhook_url, at)
            entries += [*decision_entries(decision), response_entry(
                decision, ACTION, "ok", identity_ids=(ev.identity_id,), sources=(segment,),
                record_ids=(str(row["record_id"]),),
                detail={"watch_id": w.watch_id, "alert_id": alert.alert_id,
                        "notices": notices, "kind": ev.kind, "batch_id": ev.batch_id,
                        "fields": list(decision.decisions[segment].fields or ())},
            )]
            out.append(alert)
        _insert_alerts(store, [(a, p.watch) for a, (p, _) in zip(out, found, strict=True)])
        record_many(store, entries)
    return out


def _insert_alerts(store: Store, alerts: Sequence[tuple[Alert, watches.Watch]]) -> None:
    repo.insert_alerts(store, [repo.AlertRow(
        a.alert_id, a.watch_id, a.owner, w.org, a.case_id, a.identity_id, a.record_id,
        a.segment, a.kind, a.rules, a.notices, json.dumps(a.record, default=str),
        a.raised_at) for a, w in alerts])


def alert_of_row(row: repo.AlertRow) -> Alert:
    """An alert as stored (its record's JSON read back)."""
    return Alert(row.alert_id, row.watch_id, row.owner, row.case_id, row.identity_id,
                 row.record_id, row.segment, row.kind, row.rules, row.notices,
                 json.loads(row.record) if row.record else {}, row.raised_at)


def raise_alerts(store: Store, reg: Registry, batch: Sequence[events.RecordJoined]) -> list[Alert]:
    """Alerts for ``batch`` (see the module doc); committed, not yet delivered.

    Every (event, watch) is decided first; then the records some watch may see are read
    (one read), and all the alerts are written in one transaction."""
    if not batch:
        return []
    today = clock.today()
    by_identity = watches.watching(store, [e.identity_id for e in batch])
    by_criteria = watches.criteria_watches(store)
    if not by_criteria and not any(e.identity_id in by_identity for e in batch):
        return []
    # the segment as the store holds it (not as the event says), for current records only
    held = _segments(store, [e.record_id for e in batch
                             if by_criteria or e.identity_id in by_identity])
    permits: list[_Permit] = []
    for ev in batch:
        segment = held.get(ev.record_id)
        if segment is None:
            continue  # not (or no longer) a current record
        for standing in [*by_identity.get(ev.identity_id, ()), *by_criteria]:
            if watches.stop_reason(standing, today) is not None:
                continue  # stopped: nothing decided, read or logged
            # decided before any value of the record is read (criteria included)
            decision = _decide(reg, standing.watch, segment, ev.identity_id)
            if segment not in decision.permitted:
                continue  # the purpose may not use this source: nothing leaves
            permits.append(_Permit(standing.watch, ev, decision, segment))
    if not permits:
        return []
    rows = _record_rows(store, [p.event.record_id for p in permits])  # permitted ones only
    found: list[tuple[_Permit, dict[str, Any]]] = []
    for p in permits:
        row = rows.get(p.event.record_id)
        if row is None:
            continue  # retired since (a later version, retention)
        crit = p.watch.criteria
        if crit is not None and not _meets(crit, row, p.decision.fields_for(p.segment)):
            continue
        found.append((p, row))
    return _write(store, reg, found) if found else []


def _meets(criteria: dict[str, str], row: dict[str, Any], fields: Sequence[str]) -> bool:
    """A criteria watch matches only on fields its decision lets it see: a match on a
    withheld field (an SSN the purpose may not read) would disclose the value."""
    return set(criteria) <= set(fields) and watches.criteria_match(criteria, row)


def deliver(store: Store, alerts: Sequence[Alert], *, bus: AlertBus = BUS,
            dispatcher: Dispatcher = DISPATCHER) -> None:
    """Hand committed alerts to their owners' live streams and webhooks."""
    for alert in alerts:  # the live streams first: nothing below waits on them
        bus.publish(alert.owner, {"event": "alert", "data": alert.to_dict()},
                    key=alert.alert_id)
    hooked: dict[str, watches.Watch | None] = {}
    for alert in alerts:
        if alert.watch_id not in hooked:
            hooked[alert.watch_id] = watches.get_watch(store, alert.watch_id)
        w = hooked[alert.watch_id]
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


def list_alerts(store: Store, owner: str, *, limit: int = 100) -> list[Alert]:
    return [alert_of_row(r) for r in repo.list_alerts(store, owner, limit=limit)]


__all__ = [
    "ACTION",
    "BUS",
    "DECONFLICT_ACTION",
    "DISPATCHER",
    "Alert",
    "AlertBus",
    "DeadLetter",
    "Dispatcher",
    "Relay",
    "alert_of_row",
    "deliver",
    "delivery_status",
    "install",
    "list_alerts",
    "list_dead_letters",
    "on_joined",
    "raise_alerts",
    "relay",
    "uninstall",
    "use_guard",
]
