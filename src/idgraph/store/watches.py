"""The monitor's repository: watches, deconfliction notices, alerts, webhook deliveries,
feed tokens and feed receipts, on either backend.

Tables (migration 0001): ``watches``, ``watch_deconflictions``, ``alerts``,
``webhook_deliveries``, ``feed_tokens`` and ``feed_receipts``. Also here, because their
SQL is the monitor's: the standing of a watch (its case, its legal process, its owner,
read with it), the identities a watch follows through the link stage's
``identity_lineage``, the current records an alert announces, the records a feed's
batch placed, and the alerts an audit log's disclosure entries name (retention).

The rows come back as the NamedTuples below (JSON columns as their text); the business
rules (who may create, cancel, see) live in :mod:`idgraph.monitor` and
:mod:`idgraph.app`. Statements run on DuckDB and PostgreSQL (branches on
:attr:`Store.dialect` where they differ).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final, NamedTuple

from idgraph.schema import RECORD_COLUMNS
from idgraph.store.base import Store

__all__ = [
    "AlertRow",
    "DeadLetterRow",
    "DeconflictionRow",
    "FeedReceiptRow",
    "FeedTokenRow",
    "FeedTotals",
    "JoinedRecord",
    "PendingDelivery",
    "PendingPush",
    "StandingRow",
    "WatchRow",
    "active_token_count",
    "alert_ids_disclosing",
    "alert_ids_of_records",
    "alerts_since",
    "cancel_watch",
    "claim_delivery",
    "criteria_watches",
    "current_records",
    "current_segments",
    "dead_letters",
    "deconflictions_for",
    "deconflictions_since",
    "delivery_status",
    "feed_token",
    "feed_totals",
    "finish_deliveries",
    "followed_identities",
    "get_watch",
    "has_alerts",
    "hold",
    "insert_alerts",
    "insert_deconflictions",
    "insert_feed_token",
    "insert_receipt",
    "insert_watch",
    "joined_records",
    "latest_alert_at",
    "latest_deconfliction_at",
    "list_alerts",
    "list_feed_tokens",
    "list_watches",
    "mark_placed",
    "mark_undeliverable",
    "note_receipt_error",
    "pending_deliveries",
    "push_placed",
    "push_receipt",
    "queue_delivery",
    "release",
    "remove_alerts",
    "revoke_feed_token",
    "try_hold",
    "unplaced_pushes",
    "watch_secret",
    "watching",
]

# ``x IN <this>``: one list parameter, as both dialects read it
_IDS: Final[str] = "(SELECT unnest(CAST(? AS VARCHAR[])))"


def _tuple(v: Any) -> tuple[str, ...]:
    return tuple(str(x) for x in v or ())


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


# -- watches ----------------------------------------------------------------------------

class WatchRow(NamedTuple):
    """A ``watches`` row without its secret (``criteria``: the JSON text, or None)."""

    watch_id: str
    owner: str
    org: str
    identity_id: str | None
    criteria: str | None
    case_id: str
    purpose: str
    claims: tuple[str, ...]
    basis: str | None
    expires: date
    webhook_url: str | None
    status: str
    created_at: datetime


_W_COLS: Final[tuple[str, ...]] = WatchRow._fields
_COLS: Final[str] = ", ".join(_W_COLS)
_WCOLS: Final[str] = ", ".join(f"w.{c}" for c in _W_COLS)
_NW: Final[int] = len(_W_COLS)


def _watch(r: Sequence[Any]) -> WatchRow:
    return WatchRow(str(r[0]), str(r[1]), str(r[2]), _text(r[3]), _text(r[4]), str(r[5]),
                    str(r[6]), _tuple(r[7]), _text(r[8]), r[9], _text(r[10]), str(r[11]),
                    r[12])


def insert_watch(store: Store, row: WatchRow, secret: str) -> None:
    """Insert a watch with its webhook secret (hex)."""
    store.execute(
        f"INSERT INTO watches ({_COLS}, secret) VALUES ({', '.join('?' * (_NW + 1))})",
        [row.watch_id, row.owner, row.org, row.identity_id, row.criteria, row.case_id,
         row.purpose, list(row.claims), row.basis, row.expires, row.webhook_url, row.status,
         row.created_at, secret])


def get_watch(store: Store, watch_id: str) -> WatchRow | None:
    row = store.fetchone(f"SELECT {_COLS} FROM watches WHERE watch_id = ?", [watch_id])
    return None if row is None else _watch(row)


def watch_secret(store: Store, watch_id: str) -> str | None:
    """The watch's webhook secret (hex), or None for an unknown watch."""
    return _text(store.scalar("SELECT secret FROM watches WHERE watch_id = ?", [watch_id]))


def list_watches(store: Store, *, org: str | None = None, owner: str | None = None,
                 status: str | None = None) -> list[WatchRow]:
    """Watches (of ``org``, of ``owner``, in ``status``), oldest first."""
    where, params = ["1 = 1"], []
    for col, val in (("org", org), ("owner", owner), ("status", status)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    return [_watch(r) for r in store.fetchall(
        f"SELECT {_COLS} FROM watches WHERE {' AND '.join(where)} "
        "ORDER BY created_at, watch_id", params)]


def cancel_watch(store: Store, watch_id: str, *, actor: str, at: datetime) -> None:
    store.execute(
        "UPDATE watches SET status = 'cancelled', cancelled_by = ?, cancelled_at = ? "
        "WHERE watch_id = ?", [actor, at, watch_id])


class StandingRow(NamedTuple):
    """A watch with what decides whether it still stands: its case's status, its legal
    process's expiry (and whether the process is known), its owner's standing."""

    watch: WatchRow
    case_status: str | None
    legal_expires: date | None
    legal_known: bool
    owner_active: bool


_STANDING_COLS: Final[str] = (
    f"{_WCOLS}, c.status, l.expires, l.legal_id IS NOT NULL, "
    "coalesce(u.org = w.org AND NOT u.disabled, false)")
_STANDING_JOINS: Final[str] = (
    "LEFT JOIN cases c ON c.case_id = w.case_id "
    "LEFT JOIN legal_process l ON l.legal_id = w.basis "
    "LEFT JOIN users u ON u.name = w.owner ")


def _standing(r: Sequence[Any]) -> StandingRow:
    return StandingRow(_watch(r[:_NW]), _text(r[_NW]), r[_NW + 1], bool(r[_NW + 2]),
                       bool(r[_NW + 3]))


# Where a watched identity went, from the link stage's lineage: an id that no cluster
# kept is ``retired`` with ``related`` = the ids now holding its records. A watch follows
# those edges, transitively (UNION: a cycle ends).
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
        " UNION SELECT f.watch_id, m.dst FROM follow f JOIN moves m ON m.src = f.ident) ")


# a watch can reach an event's identity only if it is on it, or on a retired id
_FOLLOW_EVENTS: Final[str] = _follow(
    f"identity_id IN {_IDS} OR identity_id IN (SELECT src FROM moves)")
_FOLLOW_ONE: Final[str] = _follow("watch_id = ?")


def watching(store: Store, identity_ids: Sequence[str]) -> list[tuple[str, StandingRow]]:
    """(identity, standing) of every active identity watch that covers one of
    ``identity_ids`` (on it, or on an id since retired into it), each pair once, the
    watches oldest first."""
    ids = sorted(set(identity_ids))
    if not ids:
        return []
    rows = store.fetchall(
        _FOLLOW_EVENTS + f", hit AS (SELECT DISTINCT watch_id, ident FROM follow "
        f"WHERE ident IN {_IDS}) "
        f"SELECT h.ident, {_STANDING_COLS} FROM hit h "
        f"JOIN watches w ON w.watch_id = h.watch_id {_STANDING_JOINS}"
        "WHERE w.status = 'active' ORDER BY w.created_at, w.watch_id, h.ident", [ids, ids])
    return [(str(r[0]), _standing(r[1:])) for r in rows]


def followed_identities(store: Store, watch_id: str) -> list[str]:
    """The identities an active watch covers now: its own and, once that id is retired,
    every one holding its records."""
    return [str(r[0]) for r in store.fetchall(
        _FOLLOW_ONE + "SELECT DISTINCT ident FROM follow ORDER BY ident", [watch_id])]


def criteria_watches(store: Store) -> list[StandingRow]:
    """Active watches by search criteria, with their standing, oldest first."""
    return [_standing(r) for r in store.fetchall(
        f"SELECT {_STANDING_COLS} FROM watches w {_STANDING_JOINS}"
        "WHERE w.status = 'active' AND w.criteria IS NOT NULL "
        "ORDER BY w.created_at, w.watch_id")]


class DeconflictionRow(NamedTuple):
    notice_id: str
    identity_id: str
    watch_id: str
    other_watch_id: str
    recipient: str
    org: str
    other_org: str
    other_owner: str
    created_at: datetime


_D_COLS: Final[str] = ", ".join(DeconflictionRow._fields)


def insert_deconflictions(store: Store, rows: Sequence[DeconflictionRow]) -> None:
    if rows:
        store.executemany(
            f"INSERT INTO watch_deconflictions ({_D_COLS}) "
            f"VALUES ({', '.join('?' * len(DeconflictionRow._fields))})", list(rows))


def deconflictions_since(store: Store, since: datetime | None, *, limit: int = 1000
                         ) -> list[DeconflictionRow]:
    """Every recipient's deconfliction notices made at or after ``since`` (all when
    None), oldest first."""
    where, params = ("WHERE created_at >= ? ", [since]) if since is not None else ("", [])
    return [DeconflictionRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]),
                             str(r[5]), str(r[6]), str(r[7]), r[8]) for r in store.fetchall(
        f"SELECT {_D_COLS} FROM watch_deconflictions {where}"
        "ORDER BY created_at, notice_id LIMIT ?", [*params, limit])]


def latest_deconfliction_at(store: Store) -> datetime | None:
    value = store.scalar("SELECT max(created_at) FROM watch_deconflictions")
    return value if isinstance(value, datetime) else None


def deconflictions_for(store: Store, recipient: str) -> list[DeconflictionRow]:
    return [DeconflictionRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]),
                             str(r[5]), str(r[6]), str(r[7]), r[8]) for r in store.fetchall(
        f"SELECT {_D_COLS} FROM watch_deconflictions WHERE recipient = ? "
        "ORDER BY created_at, notice_id", [recipient])]


# -- alerts -----------------------------------------------------------------------------

class AlertRow(NamedTuple):
    """An ``alerts`` row (``record``: the minimised record's JSON text)."""

    alert_id: str
    watch_id: str
    owner: str
    org: str | None
    case_id: str | None
    identity_id: str
    record_id: str
    segment: str
    kind: str
    rules: tuple[str, ...]
    notices: tuple[str, ...]
    record: str | None
    raised_at: datetime


_A_COLS: Final[tuple[str, ...]] = AlertRow._fields
_A_TYPES: Final[tuple[str, ...]] = (
    "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR",
    "VARCHAR", "VARCHAR", "VARCHAR[]", "VARCHAR[]", "JSON", "TIMESTAMP")


def _alert(r: Sequence[Any]) -> AlertRow:
    return AlertRow(str(r[0]), str(r[1]), str(r[2]), _text(r[3]), _text(r[4]), str(r[5]),
                    str(r[6]), str(r[7]), str(r[8]), _tuple(r[9]), _tuple(r[10]),
                    _text(r[11]), r[12])


def insert_alerts(store: Store, rows: Sequence[AlertRow]) -> None:
    """Insert alerts (one statement; in the caller's transaction)."""
    if not rows:
        return
    values = [[*r[:9], list(r.rules), list(r.notices), r.record, r.raised_at] for r in rows]
    cols = ", ".join(_A_COLS)
    if store.dialect == "postgres":
        store.executemany(
            f"INSERT INTO alerts ({cols}) VALUES ({', '.join('?' * len(_A_COLS))})", values)
        return
    # DuckDB: one list parameter per column, unnested (one statement however many)
    store.execute(f"INSERT INTO alerts ({cols}) SELECT " + ", ".join(
        f"unnest(?::{t}[])" for t in _A_TYPES), [list(c) for c in zip(*values, strict=True)])


def list_alerts(store: Store, owner: str, *, limit: int = 100) -> list[AlertRow]:
    """``owner``'s alerts, newest first."""
    return [_alert(r) for r in store.fetchall(
        f"SELECT {', '.join(_A_COLS)} FROM alerts WHERE owner = ? "
        "ORDER BY raised_at DESC, alert_id LIMIT ?", [owner, limit])]


def alerts_since(store: Store, since: datetime | None, *, limit: int = 1000
                 ) -> list[AlertRow]:
    """Every owner's alerts raised at or after ``since`` (all when None), oldest first
    (a stream relay across processes)."""
    where, params = ("WHERE raised_at >= ? ", [since]) if since is not None else ("", [])
    return [_alert(r) for r in store.fetchall(
        f"SELECT {', '.join(_A_COLS)} FROM alerts {where}"
        "ORDER BY raised_at, alert_id LIMIT ?", [*params, limit])]


def latest_alert_at(store: Store) -> datetime | None:
    """When the latest alert was raised (None: none yet)."""
    value = store.scalar("SELECT max(raised_at) FROM alerts")
    return value if isinstance(value, datetime) else None


def alert_ids_disclosing(store: Store, record_ids: Sequence[str], action: str) -> list[str]:
    """The alert ids that the audit log's disclosure entries of ``action`` (``alert``)
    name for any of ``record_ids`` (``record_ids`` and ``detail.alert_id`` of the entry):
    the real record of an alert whose row shows a pseudonym."""
    ids = sorted(set(record_ids))
    if not ids:
        return []
    if store.dialect == "postgres":
        sql = ("SELECT DISTINCT entry::jsonb -> 'detail' ->> 'alert_id' FROM audit_log "
               "WHERE entry LIKE '%\"alert\"%' AND entry::jsonb ->> 'action' = ? "
               "AND jsonb_exists_any(entry::jsonb -> 'record_ids', CAST(? AS TEXT[]))")
    else:
        sql = ("SELECT DISTINCT json_extract_string(entry, '$.detail.alert_id') "
               "FROM audit_log WHERE contains(entry, '\"alert\"') "
               "AND json_extract_string(entry, '$.action') = ? AND list_has_any("
               "CAST(json_extract(entry, '$.record_ids') AS VARCHAR[]), CAST(? AS VARCHAR[]))")
    return sorted({str(r[0]) for r in store.fetchall(sql, [action, ids]) if r[0]})


def alert_ids_of_records(store: Store, record_ids: Sequence[str]) -> list[str]:
    """Alerts whose shown record id is one of ``record_ids``."""
    ids = sorted(set(record_ids))
    if not ids:
        return []
    return sorted(str(r[0]) for r in store.fetchall(
        f"SELECT alert_id FROM alerts WHERE record_id IN {_IDS}", [ids]))


def remove_alerts(store: Store, alert_ids: Sequence[str]) -> list[str]:
    """Delete the alerts (those that exist of ``alert_ids``) and their webhook delivery
    rows; the ids removed, sorted. In the caller's transaction (or one of its own)."""
    ids = sorted(set(alert_ids))
    if not ids:
        return []
    with store.transaction():
        gone = sorted(str(r[0]) for r in store.fetchall(
            f"SELECT alert_id FROM alerts WHERE alert_id IN {_IDS}", [ids]))
        if gone:
            store.execute(f"DELETE FROM alerts WHERE alert_id IN {_IDS}", [gone])
            store.execute(f"DELETE FROM webhook_deliveries WHERE alert_id IN {_IDS}", [gone])
    return gone


def has_alerts(store: Store) -> bool:
    return bool(store.fetchall("SELECT 1 FROM alerts LIMIT 1"))


# -- the records alerts announce ----------------------------------------------------------

def current_records(store: Store, record_ids: Sequence[str], columns: Sequence[str]
                    ) -> dict[str, dict[str, Any]]:
    """The current rows of ``record_ids`` (``columns``, the first ``record_id``), by id."""
    bad = [c for c in columns if c not in RECORD_COLUMNS]
    if bad or not columns or columns[0] != "record_id":
        raise ValueError(f"not record columns (record_id first): {list(columns)}")
    ids = sorted(set(record_ids))
    if not ids:
        return {}
    rows = store.fetchall(
        f"SELECT {', '.join(columns)} FROM records WHERE is_current AND record_id IN {_IDS}",
        [ids])
    return {str(r[0]): dict(zip(columns, r, strict=True)) for r in rows}


def current_segments(store: Store, record_ids: Sequence[str]
                     ) -> list[tuple[str, str, str | None]]:
    """(record id, source id, origin jurisdiction) of the current ``record_ids``."""
    ids = sorted(set(record_ids))
    if not ids:
        return []
    return [(str(r[0]), str(r[1]), _text(r[2])) for r in store.fetchall(
        "SELECT record_id, source_id, origin_jurisdiction FROM records "
        f"WHERE is_current AND record_id IN {_IDS}", [ids])]


# -- webhook deliveries -----------------------------------------------------------------

def queue_delivery(store: Store, alert_id: str, watch_id: str, owner: str, url: str,
                   at: datetime) -> None:
    """A ``pending`` delivery row (in the caller's transaction, beside its alert)."""
    store.execute(
        "INSERT INTO webhook_deliveries (alert_id, watch_id, owner, url, status, "
        "attempts, queued_at) VALUES (?, ?, ?, ?, 'pending', 0, ?)",
        [alert_id, watch_id, owner, url, at])


def finish_deliveries(store: Store, outcomes: Sequence[tuple[str, bool, int, str | None]],
                      at: datetime) -> None:
    """Write outcomes (alert id, delivered, attempts, last error): ``delivered`` or
    ``dead``; one transaction."""
    if not outcomes:
        return
    with store.transaction():
        store.executemany(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, last_error = ?, "
            "finished_at = ? WHERE alert_id = ?",
            [("delivered" if ok else "dead", attempts, err or None, at, alert_id)
             for alert_id, ok, attempts, err in outcomes])


def mark_undeliverable(store: Store, stops: Sequence[tuple[str, str]], at: datetime) -> None:
    """Mark pending deliveries (alert id, why) ``dead`` without sending; one transaction."""
    if not stops:
        return
    with store.transaction():
        store.executemany(
            "UPDATE webhook_deliveries SET status = 'dead', last_error = ?, "
            "finished_at = ? WHERE alert_id = ? AND status = 'pending'",
            [(why, at, alert_id) for alert_id, why in stops])


class PendingDelivery(NamedTuple):
    """A pending delivery with what decides whether it may still go: its watch's status
    and secret, whether the owner is active, and its stored alert (None: removed)."""

    alert_id: str
    url: str
    watch_status: str | None
    secret: str | None
    owner_active: bool
    alert: AlertRow | None
    queued_at: datetime | None


def pending_deliveries(store: Store) -> list[PendingDelivery]:
    """Every ``pending`` delivery, oldest first."""
    acols = ", ".join(f"a.{c}" for c in _A_COLS)
    out: list[PendingDelivery] = []
    for r in store.fetchall(
            "SELECT d.alert_id, d.url, w.status, w.secret, "
            "coalesce(u.org = w.org AND NOT u.disabled, false), a.alert_id IS NOT NULL, "
            f"{acols}, d.queued_at FROM webhook_deliveries d "
            "LEFT JOIN watches w ON w.watch_id = d.watch_id "
            "LEFT JOIN users u ON u.name = w.owner "
            "LEFT JOIN alerts a ON a.alert_id = d.alert_id "
            "WHERE d.status = 'pending' ORDER BY d.queued_at, d.alert_id"):
        out.append(PendingDelivery(str(r[0]), str(r[1]), _text(r[2]), _text(r[3]),
                                   bool(r[4]), _alert(r[6:-1]) if r[5] else None, r[-1]))
    return out


def claim_delivery(store: Store, alert_id: str, queued_at: datetime | None,
                   at: datetime) -> bool:
    """Take a pending delivery to send it again: its ``queued_at`` moves from the value
    read (``queued_at``) to ``at`` (or a microsecond past the value read, if ``at`` is
    not later), atomically; False when another process took it first (or it is no longer
    pending)."""
    if queued_at is not None and at <= queued_at:
        at = queued_at + timedelta(microseconds=1)
    return bool(store.fetchall(
        "UPDATE webhook_deliveries SET queued_at = ? WHERE alert_id = ? "
        "AND status = 'pending' AND queued_at IS NOT DISTINCT FROM ? RETURNING alert_id",
        [at, alert_id, queued_at]))


class DeadLetterRow(NamedTuple):
    alert_id: str
    watch_id: str
    owner: str
    url: str
    attempts: int
    last_error: str | None
    queued_at: datetime
    finished_at: datetime | None


def dead_letters(store: Store, *, owner: str | None = None,
                 org: str | None = None) -> list[DeadLetterRow]:
    """Deliveries that failed every attempt (of ``owner``'s or ``org``'s watches)."""
    where, params = ["d.status = 'dead'"], []
    if owner is not None:
        where.append("d.owner = ?")
        params.append(owner)
    if org is not None:
        where.append("w.org = ?")
        params.append(org)
    return [DeadLetterRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]),
                          int(r[4] or 0), _text(r[5]), r[6], r[7])
            for r in store.fetchall(
                "SELECT d.alert_id, d.watch_id, d.owner, d.url, d.attempts, d.last_error, "
                "d.queued_at, d.finished_at FROM webhook_deliveries d "
                f"JOIN watches w ON w.watch_id = d.watch_id WHERE {' AND '.join(where)} "
                "ORDER BY d.queued_at, d.alert_id", params)]


def delivery_status(store: Store, alert_id: str) -> tuple[str, int | None] | None:
    """(status, attempts) of an alert's delivery, or None when it has none."""
    row = store.fetchone(
        "SELECT status, attempts FROM webhook_deliveries WHERE alert_id = ?", [alert_id])
    return None if row is None else (str(row[0]), None if row[1] is None else int(row[1]))


# -- feed tokens ------------------------------------------------------------------------

class FeedTokenRow(NamedTuple):
    """A feed token as it may be listed: never its digest."""

    token_id: str
    source_id: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None


_T_COLS: Final[str] = ", ".join(FeedTokenRow._fields)


def _token(r: Sequence[Any]) -> FeedTokenRow:
    return FeedTokenRow(str(r[0]), str(r[1]), r[2], str(r[3]), r[4], r[5])


def insert_feed_token(store: Store, row: FeedTokenRow, digest: str) -> None:
    store.execute(
        f"INSERT INTO feed_tokens ({_T_COLS}, digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [*row, digest])


def feed_token(store: Store, token_id: str) -> tuple[FeedTokenRow, str] | None:
    """A token and the SHA-256 digest of its secret (to check a bearer), or None."""
    row = store.fetchone(f"SELECT {_T_COLS}, digest FROM feed_tokens WHERE token_id = ?",
                         [token_id])
    return None if row is None else (_token(row), str(row[6]))


def revoke_feed_token(store: Store, token_id: str, at: datetime) -> None:
    """Revoke a token (a revoked one keeps its first revocation time)."""
    store.execute("UPDATE feed_tokens SET revoked_at = ? WHERE token_id = ? "
                  "AND revoked_at IS NULL", [at, token_id])


def list_feed_tokens(store: Store, source_id: str | None = None) -> list[FeedTokenRow]:
    """The feed tokens (of ``source_id``), oldest first."""
    where, params = ("WHERE source_id = ? ", [source_id]) if source_id is not None else ("", [])
    return [_token(r) for r in store.fetchall(
        f"SELECT {_T_COLS} FROM feed_tokens {where}ORDER BY created_at, token_id", params)]


def active_token_count(store: Store, source_id: str, now: datetime) -> int:
    return int(store.scalar(
        "SELECT count(*) FROM feed_tokens WHERE source_id = ? AND revoked_at IS NULL "
        "AND expires_at > ?", [source_id, now]) or 0)


# -- feed receipts ----------------------------------------------------------------------

class FeedReceiptRow(NamedTuple):
    """A ``feed_receipts`` row as a push writes it (not placed, no error yet)."""

    push_id: str
    source_id: str
    token_id: str | None
    batch_id: str
    body_sha256: str
    received_at: datetime
    committed_at: datetime
    lines: int
    stored: int
    duplicate: int
    quarantined: int


def insert_receipt(store: Store, row: FeedReceiptRow) -> None:
    """Insert a push's receipt (in the push's transaction)."""
    store.execute(
        f"INSERT INTO feed_receipts ({', '.join(FeedReceiptRow._fields)}) "
        f"VALUES ({', '.join('?' * len(FeedReceiptRow._fields))})", list(row))


class PendingPush(NamedTuple):
    push_id: str
    source_id: str
    batch_id: str


def push_receipt(store: Store, push_id: str) -> PendingPush | None:
    row = store.fetchone(
        "SELECT push_id, source_id, batch_id FROM feed_receipts WHERE push_id = ?", [push_id])
    return None if row is None else PendingPush(str(row[0]), str(row[1]), str(row[2]))


def unplaced_pushes(store: Store, source_id: str | None = None) -> list[PendingPush]:
    """Committed pushes (of ``source_id``) not placed yet, oldest first."""
    sql = "SELECT push_id, source_id, batch_id FROM feed_receipts WHERE placed_at IS NULL"
    params: list[Any] = []
    if source_id is not None:
        sql += " AND source_id = ?"
        params.append(source_id)
    return [PendingPush(str(a), str(b), str(c)) for a, b, c in store.fetchall(
        sql + " ORDER BY received_at, push_id", params)]


def mark_placed(store: Store, push_id: str, at: datetime) -> bool:
    """Mark a push placed; False when it was already (another process placed it: only
    the process that marks it sends its events)."""
    with store.transaction():
        return bool(store.fetchall(
            "UPDATE feed_receipts SET placed_at = ? WHERE push_id = ? AND placed_at IS NULL "
            "RETURNING push_id", [at, push_id]))


def note_receipt_error(store: Store, push_id: str, error: str, at: datetime) -> None:
    with store.transaction():
        store.execute("UPDATE feed_receipts SET error = ?, error_at = ? WHERE push_id = ?",
                      [error[:500], at, push_id])


def push_placed(store: Store, push_id: str) -> bool:
    """Whether the push is marked placed."""
    return bool(store.fetchall(
        "SELECT 1 FROM feed_receipts WHERE push_id = ? AND placed_at IS NOT NULL", [push_id]))


# Claims a process holds across transactions (a push's placement): on PostgreSQL a
# session advisory lock on the store's own connection, let go by :func:`release` or when
# the process (its connection) dies; on DuckDB one process writes the file: nothing to
# hold. Names share the store's lock namespace (``idgraph:<name>``).
def hold(store: Store, name: str) -> None:
    """Take the claim ``name``, waiting for another process that holds it."""
    if store.dialect == "postgres":
        store.fetchall("SELECT pg_advisory_lock(hashtext(?))", [f"idgraph:{name}"])


def try_hold(store: Store, name: str) -> bool:
    """Take the claim ``name`` if no other process holds it; whether taken."""
    if store.dialect != "postgres":
        return True
    return bool(store.scalar("SELECT pg_try_advisory_lock(hashtext(?))", [f"idgraph:{name}"]))


def release(store: Store, name: str) -> None:
    """Let go of the claim ``name`` (taken with :func:`hold` or :func:`try_hold`)."""
    if store.dialect == "postgres":
        store.fetchall("SELECT pg_advisory_unlock(hashtext(?))", [f"idgraph:{name}"])


class FeedTotals(NamedTuple):
    """A source's pushes: totals since the first, and over a window."""

    stored: int
    duplicate: int
    quarantined: int
    pending: int
    last_push_at: datetime | None
    window_pushes: int
    window_stored: int
    window_lag_seconds: float | None  # receipt to placement, worst push in the window
    last_error: str | None
    last_error_at: datetime | None


def feed_totals(store: Store, source_id: str, since: datetime) -> FeedTotals:
    tot = store.fetchone(
        "SELECT coalesce(sum(stored), 0), coalesce(sum(duplicate), 0), "
        "coalesce(sum(quarantined), 0), count(*) FILTER (WHERE placed_at IS NULL), "
        "max(received_at) FROM feed_receipts WHERE source_id = ?", [source_id])
    lag = ("max(epoch(placed_at) - epoch(received_at))" if store.dialect == "duckdb"
           else "max(extract(epoch FROM placed_at - received_at))")
    win = store.fetchone(
        f"SELECT count(*), coalesce(sum(stored), 0), {lag} "
        "FROM feed_receipts WHERE source_id = ? AND received_at >= ?", [source_id, since])
    err = store.fetchone(
        "SELECT error, error_at FROM feed_receipts WHERE source_id = ? AND error IS NOT NULL "
        "ORDER BY error_at DESC LIMIT 1", [source_id])
    assert tot is not None and win is not None
    return FeedTotals(
        int(tot[0]), int(tot[1]), int(tot[2]), int(tot[3]), tot[4], int(win[0]), int(win[1]),
        None if win[2] is None else float(win[2]),
        None if err is None else _text(err[0]), None if err is None else err[1])


class JoinedRecord(NamedTuple):
    """A current record of a batch placed into an identity."""

    record_id: str
    identity_id: str
    source_id: str
    origin_jurisdiction: str | None
    version: int


def joined_records(store: Store, batch_id: str) -> list[JoinedRecord]:
    """The batch's current records that have an identity, by source line."""
    return [JoinedRecord(str(a), str(b), str(c), _text(d), int(e)) for a, b, c, d, e in
            store.fetchall(
                "SELECT r.record_id, m.identity_id, r.source_id, r.origin_jurisdiction, "
                "r.version FROM records r JOIN identity_members m ON m.record_id = r.record_id "
                "WHERE r.batch_id = ? AND r.is_current ORDER BY r.source_line, r.record_id",
                [batch_id])]
