"""The audit log's tables behind narrow typed methods, on DuckDB and PostgreSQL.

Tables (made by the migrations): ``audit_log(seq, entry, leaf_hash, chain)``,
``audit_head`` (one row, id 0: size, chain, last_time, cp_size, cp_at),
``audit_checkpoints``, ``audit_cosignatures`` and ``audit_keys``. What the rows mean,
how entries chain and what a checkpoint signs is :mod:`idgraph.audit`'s business; this
module only reads and writes rows.

Appends are serialised across processes: :meth:`AuditRepo.lock` takes the store's
``audit`` lock (PostgreSQL: a transaction-scoped advisory lock; DuckDB: one process
writes the file, its transaction excludes the others), and the caller re-reads the head
after it, inside the same transaction. PostgreSQL runs READ COMMITTED, so every
statement after the lock sees what the previous holder committed.

Where the dialects differ (hashing in SQL, JSON fields of possibly edited rows, the bulk
insert, a duplicate key's exception), the methods branch on :attr:`Store.dialect`.
PostgreSQL has no ``try()`` for JSON that does not parse (an edited row): fields the
verifier reads from every row are extracted in Python there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Final, NamedTuple

from idgraph.store.base import Store

LOCK: Final = "audit"
_BULK_FROM: Final = 1000  # rows; fewer go as one parameterised statement


class DuplicateSeq(Exception):
    """An entry with a sequence number being appended already exists."""


class HeadRow(NamedTuple):
    """The head row as stored (text as written; a cache: verification never trusts it)."""

    size: int
    chain: str
    last_time: str | None
    cp_size: int | None
    cp_at: str | None


class EntryRow(NamedTuple):
    seq: int
    entry: str
    leaf_hash: str


class RebuildRow(NamedTuple):
    seq: int
    leaf_hash: str
    chain: str | None
    entry: str


class LeafRow(NamedTuple):
    """A leaf recomputed from the entry bytes, and whether the stored hash agrees."""

    seq: int
    leaf: bytes
    matches: bool


class ScanRow(NamedTuple):
    """What verification reads of each row; ``time`` is the entry's JSON ``time``
    field (None when the entry does not parse or has none)."""

    seq: int
    entry: str
    leaf_hash: str
    chain: str | None
    time: str | None


class CheckpointRow(NamedTuple):
    id: int
    size: int
    root: str
    time: str
    signature: str
    pubkey: str
    note: str | None
    origin: str | None


class CosignatureRow(NamedTuple):
    checkpoint_id: int
    name: str
    line: str


class KeyRow(NamedTuple):
    pubkey: str
    since_size: int
    until_size: int | None


_CP_COLS = "id, size, root, time, signature, pubkey, note, origin"
_HEAD_COLS = "size, chain, last_time, cp_size, cp_at"


def _field(entry: str, key: str) -> str | None:
    """``json_extract_string(entry, '$.key')`` under ``try``: None when ``entry`` is not
    a JSON object or lacks ``key``."""
    try:
        value = json.loads(entry)
    except ValueError:
        return None
    if not isinstance(value, dict) or key not in value or value[key] is None:
        return None
    got = value[key]
    return got if isinstance(got, str) else json.dumps(got, separators=(",", ":"))


class AuditRepo:
    """The audit tables of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pg = store.dialect == "postgres"

    # -- serialisation ------------------------------------------------------
    def snapshot(self) -> None:
        """Make the transaction just begun read one snapshot (PostgreSQL: REPEATABLE READ,
        read only; DuckDB transactions always do). Call first in a new transaction."""
        if self.pg:
            self.store.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def lock(self) -> None:
        """Queue behind every other appender of the database until the open transaction
        ends (take it first in an append transaction, then read the head)."""
        self.store.lock(LOCK)

    # -- head ---------------------------------------------------------------
    def has_head(self) -> bool:
        return bool(self.store.scalar("SELECT count(*) FROM audit_head"))

    def read_head(self) -> HeadRow | None:
        row = self.store.fetchone(f"SELECT {_HEAD_COLS} FROM audit_head WHERE id = 0")
        if row is None:
            return None
        size, chain, last_time, cp_size, cp_at = row
        return HeadRow(size, chain, last_time, cp_size, cp_at)

    def size(self) -> int:
        """The head's size (0 without a head row)."""
        got = self.store.scalar("SELECT size FROM audit_head WHERE id = 0")
        return int(got) if got is not None else 0

    def insert_head(self, head: HeadRow) -> None:
        self.store.execute(
            f"INSERT INTO audit_head (id, {_HEAD_COLS}) VALUES (0, ?, ?, ?, ?, ?)", list(head))

    def advance_head(self, size: int, chain: str, last_time: str | None,
                     expected: HeadRow | None = None) -> bool:
        """Move the head to ``size``/``chain``/``last_time``; with ``expected``, only if the
        stored row is still exactly that one (one statement checks and moves it). True
        if the row was written."""
        values: list[Any] = [size, chain, last_time]
        if expected is None:
            self.store.execute(
                "UPDATE audit_head SET size = ?, chain = ?, last_time = ? WHERE id = 0", values)
            return True
        cur = self.store.execute(
            "UPDATE audit_head SET size = ?, chain = ?, last_time = ? WHERE id = 0 AND size = ? "
            "AND chain = ? AND last_time IS NOT DISTINCT FROM ? "
            "AND cp_size IS NOT DISTINCT FROM ? AND cp_at IS NOT DISTINCT FROM ?",
            [*values, *expected],
        )
        if self.pg:
            return int(cur.rowcount) == 1
        count = cur.fetchall()
        return bool(count and count[0][0] == 1)

    def mark_checkpoint(self, last_time: str, cp_size: int, cp_at: str) -> None:
        """A checkpoint was signed: entries after it are dated no earlier."""
        self.store.execute(
            "UPDATE audit_head SET last_time = ?, cp_size = ?, cp_at = ? WHERE id = 0",
            [last_time, cp_size, cp_at])

    # -- entries ------------------------------------------------------------
    def insert_entries(self, seqs: Sequence[int], entries: Sequence[str],
                       leaves: Sequence[str], chains: Sequence[str]) -> None:
        """Insert rows (parallel lists); :class:`DuplicateSeq` if a seq exists."""
        if not seqs:
            return
        sql = "INSERT INTO audit_log (seq, entry, leaf_hash, chain) "
        try:
            if len(seqs) == 1:
                self.store.execute(sql + "VALUES (?, ?, ?, ?)",
                                   [seqs[0], entries[0], leaves[0], chains[0]])
            elif len(seqs) < _BULK_FROM:
                if self.pg:
                    self.store.execute(
                        sql + "SELECT * FROM unnest(?::BIGINT[], ?::TEXT[], ?::TEXT[], "
                        "?::TEXT[])", [list(seqs), list(entries), list(leaves), list(chains)])
                else:
                    self.store.execute(
                        sql + "SELECT unnest(?), unnest(?), unnest(?), unnest(?)",
                        [list(seqs), list(entries), list(leaves), list(chains)])
            else:
                import pyarrow as pa

                self.store.append_arrow("audit_log", pa.table({
                    "seq": pa.array(seqs, pa.int64()), "entry": list(entries),
                    "leaf_hash": list(leaves), "chain": list(chains)}))
        except Exception as exc:
            if _is_duplicate(exc):
                raise DuplicateSeq(str(exc)) from None
            raise

    def max_seq(self) -> int | None:
        got = self.store.scalar("SELECT max(seq) FROM audit_log")
        return None if got is None else int(got)

    def entries(self, start: int, stop: int) -> list[EntryRow]:
        """Rows with ``start <= seq < stop``, in order."""
        rows = self.store.fetchall(
            "SELECT seq, entry, leaf_hash FROM audit_log WHERE seq >= ? AND seq < ? "
            "ORDER BY seq", [start, stop])
        return [EntryRow(int(s), e, h) for s, e, h in rows]

    def leaf_hashes(self, start: int, stop: int) -> list[tuple[int, bytes]]:
        """Stored leaf hashes (as bytes) of ``start <= seq < stop``, in order."""
        unhex = "decode(leaf_hash, 'hex')" if self.pg else "from_hex(leaf_hash)"
        rows = self.store.fetchall(
            f"SELECT seq, {unhex} FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq",
            [start, stop])
        return [(int(s), bytes(h)) for s, h in rows]

    def rows_for_rebuild(self) -> list[RebuildRow]:
        rows = self.store.fetchall(
            "SELECT seq, leaf_hash, chain, entry FROM audit_log ORDER BY seq")
        return [RebuildRow(int(s), h, c, e) for s, h, c, e in rows]

    def set_chains(self, fixes: Sequence[tuple[str, int]]) -> None:
        """Write chain values ``(chain, seq)`` (rows from before the chain column)."""
        for chain, seq in fixes:
            self.store.execute("UPDATE audit_log SET chain = ? WHERE seq = ?", [chain, seq])

    def entry_time(self, seq: int) -> str | None:
        """The ``time`` field of entry ``seq`` (None if missing or unreadable)."""
        if self.pg:
            entry = self.store.scalar("SELECT entry FROM audit_log WHERE seq = ?", [seq])
            return None if entry is None else _field(entry, "time")
        got = self.store.scalar(
            "SELECT try(json_extract_string(entry, '$.time')) FROM audit_log WHERE seq = ?",
            [seq])
        return None if got is None else str(got)

    def entries_with_action(self, action: str, start: int = 0) -> list[tuple[int, str]]:
        """``(seq, entry)`` of every entry (from seq ``start`` on) whose JSON ``action`` is
        ``action`` (entries that do not parse are left out), in order."""
        if self.pg:
            rows = self.store.fetchall(
                "SELECT seq, entry FROM audit_log WHERE seq >= ? AND strpos(entry, ?) > 0 "
                "ORDER BY seq", [start, action])
            return [(int(s), e) for s, e in rows if _field(e, "action") == action]
        rows = self.store.fetchall(
            "SELECT seq, entry FROM audit_log WHERE seq >= ? AND "
            "try(json_extract_string(entry, '$.action')) = ? ORDER BY seq", [start, action])
        return [(int(s), e) for s, e in rows]

    def entries_matching(self, actions: Sequence[str] | None = None,
                         outcome: str | None = None,
                         case_id: str | None = None) -> list[tuple[int, str]]:
        """``(seq, entry)`` of entries whose ``action`` is one of ``actions``, whose
        ``outcome`` is ``outcome`` and whose ``case_id`` is ``case_id`` (each when given),
        in order. Entries are the log's own JSON (an unparsable one raises)."""
        field = ("(entry::json ->> '{}')" if self.pg
                 else "json_extract_string(entry, '$.{}')")
        where: list[str] = []
        params: list[Any] = []
        if actions is not None:
            where.append(f"{field.format('action')} = ANY(?)" if self.pg
                         else f"list_contains(?::VARCHAR[], {field.format('action')})")
            params.append(sorted(set(actions)))
        if outcome is not None:
            where.append(f"{field.format('outcome')} = ?")
            params.append(outcome)
        if case_id is not None:
            where.append(f"{field.format('case_id')} = ?")
            params.append(case_id)
        sql = "SELECT seq, entry FROM audit_log"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        return [(int(s), e) for s, e in self.store.fetchall(sql + " ORDER BY seq", params)]

    def case_entries(self, after: int, upto: int) -> list[tuple[str, int, str]]:
        """``(case_id, seq, entry)`` of entries ``after < seq <= upto`` that name a case."""
        if self.pg:
            rows = self.store.fetchall(
                "SELECT seq, entry FROM audit_log WHERE seq > ? AND seq <= ? "
                "AND strpos(entry, '\"case_id\":\"') > 0 ORDER BY seq", [after, upto])
            return [(c, int(s), e) for s, e in rows if (c := _field(e, "case_id")) is not None]
        rows = self.store.fetchall(
            "SELECT json_extract_string(entry, '$.case_id'), seq, entry FROM audit_log "
            "WHERE seq > ? AND seq <= ? AND json_extract_string(entry, '$.case_id') IS NOT NULL "
            "ORDER BY seq", [after, upto])
        return [(str(c), int(s), e) for c, s, e in rows]

    def entries_at(self, seqs: Sequence[int]) -> list[tuple[int, str]]:
        """``(seq, entry)`` of the given sequence numbers, in order."""
        if not seqs:
            return []
        rows = self.store.fetchall(
            "SELECT seq, entry FROM audit_log WHERE seq = ANY(?) ORDER BY seq"
            if self.pg else
            "SELECT seq, entry FROM audit_log WHERE list_contains(?::BIGINT[], seq) ORDER BY seq",
            [list(seqs)])
        return [(int(s), e) for s, e in rows]

    # -- whole-log scans (pages; see the methods) ---------------------------
    def _pages(self, select: str, chunk: int, start: int | None = None
               ) -> Iterator[list[tuple[Any, ...]]]:
        """``select`` (a ``SELECT ... FROM audit_log``, no WHERE/ORDER) over every row
        (``start``: with ``seq >= start``) in seq order, ``chunk`` rows at a time. DuckDB
        streams one result (run no other statement on the store while iterating);
        PostgreSQL pages by seq over its index."""
        first, params = (select, []) if start is None else (select + " WHERE seq >= ?",
                                                            [start])
        if not self.pg:
            result = self.store.execute(first + " ORDER BY seq", params)
            while rows := result.fetchmany(chunk):
                yield rows
            return
        rows = self.store.fetchall(first + " ORDER BY seq LIMIT ?", [*params, chunk])
        while rows:
            yield rows
            if len(rows) < chunk:
                return
            rows = self.store.fetchall(select + " WHERE seq > ? ORDER BY seq LIMIT ?",
                                       [rows[-1][0], chunk])

    def recomputed_leaves(self, chunk: int = 100_000, start: int | None = None
                          ) -> Iterator[list[LeafRow]]:
        """Every row's (``start``: from seq ``start`` on) leaf hash recomputed from its
        entry bytes by the database, with whether the stored ``leaf_hash`` agrees, in seq
        order, in pages."""
        if self.pg:
            select = ("SELECT seq, sha256('\\x00'::BYTEA || convert_to(entry, 'UTF8')), "
                      "leaf_hash FROM audit_log")
            for rows in self._pages(select, chunk, start):
                yield [LeafRow(int(s), bytes(h), bytes(h).hex() == stored)
                       for s, h, stored in rows]
            return
        select = ("SELECT seq, from_hex(h), h = leaf_hash FROM (SELECT seq, leaf_hash, "
                  "sha256('\\x00'::BLOB || encode(entry)) AS h FROM audit_log)")
        for rows in self._pages(select, chunk, start):
            yield [LeafRow(int(s), bytes(h), bool(m)) for s, h, m in rows]

    def scan(self, chunk: int = 50_000) -> Iterator[list[ScanRow]]:
        """Every row as verification reads it, in seq order, in pages."""
        if self.pg:
            for rows in self._pages(
                    "SELECT seq, entry, leaf_hash, chain FROM audit_log", chunk):
                yield [ScanRow(int(s), e, h, c, _field(e, "time")) for s, e, h, c in rows]
            return
        for rows in self._pages(
                "SELECT seq, entry, leaf_hash, chain, try(json_extract_string(entry, '$.time')) "
                "AS t FROM audit_log", chunk):
            yield [ScanRow(int(s), e, h, c, t) for s, e, h, c, t in rows]

    # -- checkpoints --------------------------------------------------------
    def checkpoints(self) -> list[CheckpointRow]:
        """Every checkpoint row, by id (as stored: may not parse)."""
        return [CheckpointRow(*r) for r in self.store.fetchall(
            f"SELECT {_CP_COLS} FROM audit_checkpoints ORDER BY id")]

    def max_checkpoint_size(self) -> int | None:
        got = self.store.scalar("SELECT max(size) FROM audit_checkpoints")
        return None if got is None else int(got)

    def insert_checkpoint(self, row: CheckpointRow) -> None:
        self.store.execute(
            f"INSERT INTO audit_checkpoints ({_CP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            list(row))

    def cosignatures(self) -> list[CosignatureRow]:
        return [CosignatureRow(int(c), n, line) for c, n, line in self.store.fetchall(
            "SELECT checkpoint_id, name, line FROM audit_cosignatures "
            "ORDER BY checkpoint_id, name")]

    def cosignature(self, checkpoint_id: int, name: str) -> str | None:
        got = self.store.scalar(
            "SELECT line FROM audit_cosignatures WHERE checkpoint_id = ? AND name = ?",
            [checkpoint_id, name])
        return None if got is None else str(got)

    def add_cosignature(self, checkpoint_id: int, name: str, line: str, added: str) -> None:
        """Store a cosignature line (kept as is if one exists under that name)."""
        self.store.execute(
            "INSERT INTO audit_cosignatures (checkpoint_id, name, line, added) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [checkpoint_id, name, line, added])

    # -- keys ---------------------------------------------------------------
    def signing_keys(self) -> list[KeyRow]:
        return [KeyRow(p, int(s), None if u is None else int(u)) for p, s, u in
                self.store.fetchall("SELECT pubkey, since_size, until_size FROM audit_keys")]

    def add_key(self, pubkey: str, origin: str, since_size: int, added: str, *,
                if_absent: bool = False) -> None:
        """Record a signing key; ``if_absent``: keep an existing row as it is."""
        self.store.execute(
            "INSERT INTO audit_keys (pubkey, origin, since_size, added) VALUES (?, ?, ?, ?)"
            + (" ON CONFLICT DO NOTHING" if if_absent else ""),
            [pubkey, origin, since_size, added])

    def retire_key(self, pubkey: str, until_size: int) -> None:
        self.store.execute(
            "UPDATE audit_keys SET until_size = ? WHERE pubkey = ?", [until_size, pubkey])


def _is_duplicate(exc: BaseException) -> bool:
    """A primary-key violation, on either backend."""
    import duckdb

    if isinstance(exc, duckdb.ConstraintException):
        return True
    try:
        from psycopg import errors
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc, errors.UniqueViolation)


__all__ = [
    "LOCK", "AuditRepo", "CheckpointRow", "CosignatureRow", "DuplicateSeq", "EntryRow",
    "HeadRow", "KeyRow", "LeafRow", "RebuildRow", "ScanRow",
]
