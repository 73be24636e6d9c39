"""Live feeds: records pushed to a source (HTTP or a watched folder) as JSON lines.

A push is one ingest batch (one transaction) of the source, read with the source's own
manifest (its mapping and normalisers; the lines are JSON objects whatever format the
manifest's file has), judged line by line: a line that is not a JSON object, has no
record id, or whose origin is unknown is quarantined with its line number and the
reason, the rest are stored. Its receipt (``feed_receipts``) and its audit
entry commit in the same transaction as its records, so whatever a push acknowledges is
committed, and a crash before the commit leaves nothing (the sender sends it again).

Idempotent: a line whose record (source record id) is already stored with the same
content is answered ``duplicate`` and stored no second time (the ingest's row hash).

After the commit the search index is updated (the ingest's hooks), each new or changed
record is placed into its identity with the live linker (:func:`place`), the receipt
is marked placed and :func:`idgraph.monitor.events.record_joined` is called (by the one
process that marks it placed, when several share a PostgreSQL database: the events of
a push go out once). A crash
between the commit and the placement is repaired by :func:`place_pending` (the next
push of the source runs it first): the records are placed and the events sent then.

Feed tokens (``idgf_<id>_<secret>``) are bound to one source; only the SHA-256 of the
secret is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from idgraph import clock
from idgraph.audit import record
from idgraph.audit.entry import AuditEntry
from idgraph.link.attach import AttachError
from idgraph.link.score import ModelError
from idgraph.monitor import events
from idgraph.search.live import index_placed, place_batches
from idgraph.settings import Settings
from idgraph.sources.ingest import FIELD, ROW, IngestSummary, ingest_chunks
from idgraph.sources.manifest import Manifest, parse_manifest
from idgraph.sources.readers import Chunk, read_chunks
from idgraph.store import Store
from idgraph.store import records as records_repo
from idgraph.store import watches as repo

TOKEN_PREFIX: Final[str] = "idgf_"
_TOKEN = re.compile(r"idgf_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{20,100})")
MAX_DAYS: Final[int] = 366

STORED, DUPLICATE, QUARANTINED = "stored", "duplicate", "quarantined"


class FeedError(Exception):
    """A push or token that cannot be used (unknown source, bad token: see ``reason``)."""

    def __init__(self, reason: str, *, status: str = "invalid") -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


# -- tokens ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedToken:
    token_id: str
    source_id: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None


def _fields(tok: FeedToken) -> tuple[str, str, datetime, str, datetime, datetime | None]:
    return (tok.token_id, tok.source_id, tok.created_at, tok.created_by, tok.expires_at,
            tok.revoked_at)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def source_exists(store: Store, source_id: str) -> bool:
    return records_repo.source_exists(store, source_id)


def mint_token(store: Store, source_id: str, *, by: str, days: int) -> tuple[FeedToken, str]:
    """A new feed token for ``source_id``: its row and the bearer (shown once)."""
    if not source_exists(store, source_id):
        raise FeedError(f"no source {source_id!r} (ingest its manifest first)",
                        status="not_found")
    if not 1 <= days <= MAX_DAYS:
        raise FeedError(f"days must be between 1 and {MAX_DAYS}")
    token_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789")
                       for _ in range(12))
    secret = secrets.token_urlsafe(32)
    now = clock.now_naive()
    tok = FeedToken(token_id, source_id, now, by, now + timedelta(days=days), None)
    repo.insert_feed_token(store, repo.FeedTokenRow(*_fields(tok)), _digest(secret))
    return tok, f"{TOKEN_PREFIX}{token_id}_{secret}"


def check_token(store: Store, bearer: str) -> tuple[FeedToken | None, str | None]:
    """The token ``bearer`` names and None, or (None or the token, why it is refused).

    The secret's digest is compared in constant time (against a dummy when the id is
    unknown)."""
    m = _TOKEN.fullmatch(bearer) if len(bearer) <= 200 else None
    found = repo.feed_token(store, m.group(1)) if m else None
    given = _digest(m.group(2) if m else bearer[:200])
    stored = found[1] if found else "0" * 64
    good = hmac.compare_digest(stored, given) and found is not None
    if m is None:
        return None, "malformed feed token"
    if not good or found is None:
        return None, "unknown feed token"
    tok = FeedToken(*found[0])
    if tok.revoked_at is not None:
        return tok, "feed token revoked"
    if clock.now_naive() >= tok.expires_at:
        return tok, "feed token expired"
    return tok, None


def revoke_token(store: Store, token_id: str) -> FeedToken:
    """Revoke a feed token (at once: the next push with it is refused); its row."""
    found = repo.feed_token(store, token_id)
    if found is None:
        raise FeedError(f"no feed token {token_id!r}", status="not_found")
    repo.revoke_feed_token(store, token_id, clock.now_naive())
    return FeedToken(*found[0])


# -- pushes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineResult:
    """What became of one line of a push."""

    line: int
    status: str  # stored | duplicate | quarantined
    source_record_id: str | None = None
    record_id: str | None = None
    kind: str | None = None  # new | changed (stored)
    reasons: tuple[str, ...] = ()  # why quarantined, or fields dropped from a stored record


@dataclass
class FeedReceipt:
    """What a push did: one line result per non-blank line, in line order; every stored
    or duplicate line is committed when the receipt is returned."""

    push_id: str
    source_id: str
    batch_id: str
    lines: list[LineResult] = field(default_factory=list)
    placed: bool = False
    place_error: str | None = None
    events: int = 0

    def count(self, status: str) -> int:
        return sum(1 for r in self.lines if r.status == status)

    @property
    def stored(self) -> int:
        return self.count(STORED)

    @property
    def duplicate(self) -> int:
        return self.count(DUPLICATE)

    @property
    def quarantined(self) -> int:
        return self.count(QUARANTINED)


def feed_manifest(store: Store, source_id: str) -> Manifest:
    """The source's manifest as registered, reading JSON lines (UTF-8)."""
    text = records_repo.source_manifest(store, source_id)
    if text is None:
        raise FeedError(f"no source {source_id!r}", status="not_found")
    data = json.loads(text)
    m = parse_manifest(data)
    spec = m.input.model_copy(update={"format": "jsonl", "encoding": "utf-8"})
    return m.model_copy(update={"input": spec})


class _Lines:
    """The chunks of a push, remembering every line that held a row (good or bad)."""

    def __init__(self, chunks: Iterator[Chunk], record_id: str) -> None:
        self.chunks, self.record_id = chunks, record_id
        self.lines: dict[int, str | None] = {}

    def __iter__(self) -> Iterator[Chunk]:
        for c in self.chunks:
            ids = c.columns.get(self.record_id) or [None] * len(c.lines)
            self.lines.update(zip(c.lines, ids, strict=True))
            self.lines.update((line, None) for line, _ in c.errors)
            yield c


def _results(store: Store, batch_id: str, lines: dict[int, str | None]) -> list[LineResult]:
    stored = {int(r.source_line): r for r in records_repo.batch_records(store, batch_id)
              if r.source_line is not None}
    bad: dict[int, list[str]] = {}
    dropped: dict[int, list[str]] = {}
    srid = dict(lines)
    for line, rid, fld, reason, kind in records_repo.batch_quarantine(store, batch_id):
        if line is None:
            continue
        where = bad if kind == ROW else dropped
        text = f"{fld}: {reason}" if fld and kind == FIELD else str(reason)
        where.setdefault(int(line), []).append(text)
        srid[int(line)] = srid.get(int(line)) or rid
    out: list[LineResult] = []
    for line in sorted(set(lines) | set(bad) | set(stored)):
        if line in bad:
            out.append(LineResult(line, QUARANTINED, srid.get(line), None, None,
                                  tuple(bad[line])))
        elif line in stored:
            _, rid, record_id, version = stored[line]
            out.append(LineResult(line, STORED, rid, record_id,
                                  "new" if int(version) <= 1 else "changed",
                                  tuple(dropped.get(line, ()))))
        else:
            out.append(LineResult(line, DUPLICATE, srid.get(line), None, None,
                                  tuple(dropped.get(line, ()))))
    return out


def push(
    store: Store, settings: Settings, source_id: str, body: bytes, *,
    token_id: str | None, principal: str, env: Any = None,
) -> FeedReceipt:
    """Store one push (see the module doc) and return its receipt.

    ``principal`` names the sender in the audit entry (``feed:<token id>`` or a user);
    ``env`` is what the :mod:`~idgraph.monitor.events` listeners receive."""
    place_pending(store, source_id, env=env)
    m = feed_manifest(store, source_id)
    received = clock.now_naive()
    sha = hashlib.sha256(body).hexdigest()
    push_id = f"{received:%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}"
    batch_id = f"{source_id}-feed-{push_id}"
    # The settings' limits apply as to a file; the push is read from a private file in
    # the data folder (mode 0700; removed at once), never the shared temporary folder.
    root = Path(settings.data_dir) / "spool"
    root.mkdir(parents=True, exist_ok=True)
    spool = Path(tempfile.mkdtemp(prefix="feed-", dir=root))
    path = spool / "push.jsonl"
    path.write_bytes(body)
    try:
        chunks = _Lines(read_chunks(path, "jsonl", chunk_rows=settings.ingest_chunk_rows,
                                    max_field_bytes=settings.ingest_max_field_bytes),
                        m.record_id)
        receipt = FeedReceipt(push_id, source_id, batch_id)

        def commit(s: IngestSummary) -> None:
            receipt.lines = _results(store, batch_id, chunks.lines)
            repo.insert_receipt(store, repo.FeedReceiptRow(
                push_id, source_id, token_id, batch_id, sha, received, clock.now_naive(),
                len(receipt.lines), receipt.stored, receipt.duplicate, receipt.quarantined))
            record(store, AuditEntry(
                principal=principal, action="feed.push", outcome="ok",
                sources=(source_id,),
                detail={"push_id": push_id, "batch": batch_id, "lines": len(receipt.lines),
                        "stored": receipt.stored, "duplicate": receipt.duplicate,
                        "quarantined": receipt.quarantined, "body_sha256": sha,
                        **({"token_id": token_id} if token_id else {})}))

        ingest_chunks(store, m, chunks, settings, source_file=f"feed:{push_id}", sha=sha,
                      batch_id=batch_id, in_transaction=commit)
    finally:
        path.unlink(missing_ok=True)
        spool.rmdir()
    _place_and_tell(store, receipt_row(store, push_id), env=env, receipt=receipt)
    return receipt


_Pending = repo.PendingPush


def receipt_row(store: Store, push_id: str) -> _Pending:
    found = repo.push_receipt(store, push_id)
    if found is None:
        raise FeedError(f"no push {push_id!r}", status="not_found")
    return found


def _place_and_tell(store: Store, p: _Pending, *, env: Any,
                    receipt: FeedReceipt | None = None, wait: bool = True) -> bool:
    """Place a committed push and send its events, holding the push's placement claim
    (PostgreSQL: a session lock, so a process that dies lets go of it; DuckDB: nothing to
    hold). ``wait``: for the claim (the push's own process); else give up at once if
    another live process is placing it. Whether this call placed it."""
    claim = f"feed-place:{p.push_id}"
    if wait:
        repo.hold(store, claim)
    elif not repo.try_hold(store, claim):
        return False  # another live process is placing it now
    try:
        if repo.push_placed(store, p.push_id):  # placed meanwhile, events sent there
            if receipt is not None:
                receipt.placed = True
            return False
        summary = IngestSummary(p.source_id, f"feed:{p.push_id}", p.batch_id)
        try:
            _place_then_tell(store, p, summary, env=env, receipt=receipt)
        finally:  # the events go out before the index learns the identities (a commit)
            try:
                index_placed(store)
            except Exception as exc:  # placed and told: `idgraph index check` repairs it
                note_error(store, p.push_id,
                           f"placed, but the search index lags: {type(exc).__name__}")
        return True
    finally:
        with suppress(Exception):  # a broken connection let go of it already
            repo.release(store, claim)


def _place_then_tell(store: Store, p: _Pending, summary: IngestSummary, *, env: Any,
                     receipt: FeedReceipt | None) -> None:
    try:
        place_batches(store, [summary], index_later=True)
    except (AttachError, ModelError) as exc:
        note_error(store, p.push_id, f"records stored but not placed: {exc}")
        if receipt is not None:
            receipt.place_error = str(exc)
        return
    except Exception as exc:  # committed and acknowledged: placed by the next push
        why = f"records stored but not placed: {type(exc).__name__}"
        note_error(store, p.push_id, why)
        if receipt is not None:
            receipt.place_error = why
        return
    if not repo.mark_placed(store, p.push_id, clock.now_naive()):
        # another process sharing the database placed it meanwhile and sent its events
        if receipt is not None:
            receipt.placed = True
        return
    joined = joined_events(store, p.batch_id)
    if receipt is not None:
        receipt.placed, receipt.events = True, len(joined)
    events.record_joined(env, joined)


def joined_events(store: Store, batch_id: str) -> list[events.RecordJoined]:
    """One event per current record of the batch placed into an identity."""
    at = clock.now()
    return [events.RecordJoined(r.record_id, r.identity_id, r.source_id,
                                r.origin_jurisdiction, batch_id,
                                "new" if r.version <= 1 else "changed", at)
            for r in repo.joined_records(store, batch_id)]


def note_error(store: Store, push_id: str, error: str) -> None:
    repo.note_receipt_error(store, push_id, error, clock.now_naive())


def place_pending(store: Store, source_id: str | None = None, *, env: Any = None) -> int:
    """Place the records of committed pushes that were never placed (a crash between
    commit and placement) and send their events; returns the pushes this call placed. A
    push whose placement failed (no link run) is tried again; one another live process
    is placing now (PostgreSQL) is left to it."""
    return sum(_place_and_tell(store, p, env=env, wait=False)
               for p in repo.unplaced_pushes(store, source_id))


# -- status ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A source's feed: throughput over the window, totals, lag, the last error."""

    source_id: str
    window_seconds: int
    pushes: int  # in the window
    records_per_second: float  # stored lines per second over the window
    stored: int  # totals since the first push
    duplicate: int
    quarantined: int
    pending: int  # committed pushes not placed yet
    lag_seconds: float | None  # receipt to placement, worst push in the window
    last_push_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    tokens: int  # active tokens


def status(store: Store, source_id: str, *, window: int = 60) -> FeedStatus:
    if not source_exists(store, source_id):
        raise FeedError(f"no source {source_id!r}", status="not_found")
    now = clock.now_naive()
    t = repo.feed_totals(store, source_id, now - timedelta(seconds=window))
    return FeedStatus(
        source_id=source_id, window_seconds=window, pushes=t.window_pushes,
        records_per_second=round(t.window_stored / window, 3),
        stored=t.stored, duplicate=t.duplicate, quarantined=t.quarantined,
        pending=t.pending,
        lag_seconds=None if t.window_lag_seconds is None else round(t.window_lag_seconds, 3),
        last_push_at=t.last_push_at, last_error=t.last_error,
        last_error_at=t.last_error_at, tokens=repo.active_token_count(store, source_id, now))
