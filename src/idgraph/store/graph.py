"""The identity graph repository: identities, edges, lineage, judgements, link runs and
models, and the graph's generation, on either backend.

Tables (migration 0001): ``identity_members`` (record -> identity), ``link_edges`` (kept
scored pairs of every run), ``identity_lineage`` (what each run or attach did to ids),
``judgements`` (append-only human verdicts), ``link_runs``, ``link_models`` and
``graph_generation`` (one row, bumped by every change of the identities or judgements).

Batch linkage itself (``idgraph.link.resolve``) runs in a DuckDB workspace
(:meth:`idgraph.store.Store.workspace`) and appends its edges, lineage, run and model
through it, its changed memberships through :meth:`IdentityGraph.apply_memberships`;
what a live attach, a judgement, retention and the readers need is here, in SQL both
backends run (branches on :attr:`Store.dialect` where they differ).

Also here: the linkage model's reads of ``records`` (input rows of records, exact-key
candidates, term-frequency counts), since their SQL is the model's input columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from idgraph.schema import RECORD_COLUMNS
from idgraph.store.base import Dialect, Store

if TYPE_CHECKING:
    import pyarrow as pa

# plain ``IN (?, ?, ...)`` lists up to this many values (DuckDB then uses its ART
# indexes; a longer list is one array parameter)
_IN_LIST_UP_TO: Final = 400
_IDENT: Final = re.compile(r"^[a-z_][a-z0-9_]*$")


class Run(NamedTuple):
    """A link run (``link_runs``)."""

    run_id: str
    threshold: float
    started_at: datetime | None


class LineageRow(NamedTuple):
    """One ``identity_lineage`` row."""

    at: datetime | None
    run_id: str
    event: str
    identity_id: str
    related: tuple[str, ...]


class StoredModel(NamedTuple):
    """A saved model: its id and its JSON text."""

    model_id: str
    model: str


class VerdictRow(NamedTuple):
    """The latest verdict on a judged pair (``a`` < ``b``)."""

    a: str
    b: str
    verdict: str


class EdgeRow(NamedTuple):
    """A ``link_edges`` row written by a live attach (``a`` < ``b``)."""

    record_id_l: str
    record_id_r: str
    match_probability: float
    match_weight: float
    accepted: bool
    evidence: str  # JSON text


class LineageWrite(NamedTuple):
    """A lineage event to write: the identity, the event, the related ids."""

    identity_id: str
    event: str
    related: Sequence[str]


# -- the linkage model's input columns over ``records`` ----------------------------------

_INPUT_HEAD: Final = """record_id, source_id,
       first_name, middle_name, last_name, suffix,
       first_name_canon, first_name_phonetic, last_name_phonetic,
"""
_INPUT_DUCKDB: Final = """\
       CASE WHEN len(last_name_parts) > 0 THEN last_name_parts END AS last_name_parts,
       CASE WHEN dob_precision = 'day' OR (dob IS NOT NULL AND dob_precision IS NULL)
            THEN strftime(dob, '%Y%m%d') END AS dob_day,
       CASE WHEN dob_precision IN ('day', 'month') OR (dob IS NOT NULL AND dob_precision IS NULL)
            THEN strftime(dob, '%Y%m') END AS dob_month,
       coalesce(birth_year, year(dob)) AS birth_year,"""
_INPUT_POSTGRES: Final = """\
       CASE WHEN cardinality(last_name_parts) > 0 THEN last_name_parts END
           AS last_name_parts,
       CASE WHEN dob_precision = 'day' OR (dob IS NOT NULL AND dob_precision IS NULL)
            THEN to_char(dob, 'YYYYMMDD') END AS dob_day,
       CASE WHEN dob_precision IN ('day', 'month') OR (dob IS NOT NULL AND dob_precision IS NULL)
            THEN to_char(dob, 'YYYYMM') END AS dob_month,
       coalesce(birth_year, CAST(extract(year FROM dob) AS INTEGER)) AS birth_year,"""
_INPUT_TAIL: Final = """
       sex, house_number, street, city, state, zip,
       phone, email, ssn,
       CASE WHEN dl_number IS NOT NULL THEN coalesce(dl_state, '') || ':' || dl_number END
           AS dl_key,
       plate"""

# The model's columns of one current record, as expressions over ``records`` (what
# ``idgraph.link.model.INPUT_COLUMNS`` is on DuckDB), per dialect.
INPUT_COLUMNS: Final[dict[Dialect, str]] = {
    "duckdb": _INPUT_HEAD + _INPUT_DUCKDB + _INPUT_TAIL,
    "postgres": _INPUT_HEAD + _INPUT_POSTGRES + _INPUT_TAIL,
}

# the names of INPUT_COLUMNS' columns, in order
INPUT_ROW_COLUMNS: Final[tuple[str, ...]] = (
    "record_id", "source_id", "first_name", "middle_name", "last_name", "suffix",
    "first_name_canon", "first_name_phonetic", "last_name_phonetic", "last_name_parts",
    "dob_day", "dob_month", "birth_year", "sex", "house_number", "street", "city", "state",
    "zip", "phone", "email", "ssn", "dl_key", "plate",
)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


class IdentityGraph:
    """The identity graph of one store (see the module doc)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def dialect(self) -> Dialect:
        return self.store.dialect

    def _in(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """``column`` IN ``values`` as SQL and its parameters (``values`` not empty)."""
        if len(values) <= _IN_LIST_UP_TO:
            return f"{column} IN ({_marks(len(values))})", list(values)
        if self.dialect == "postgres":
            return f"{column} = ANY(?)", [list(values)]
        return f"{column} IN (SELECT unnest(?))", [list(values)]

    # -- generation ------------------------------------------------------------------
    def generation(self) -> int:
        """The graph's generation: it changes with every write to the identities or the
        judgements (0 before the first)."""
        rows = self.store.fetchall("SELECT generation FROM graph_generation WHERE id = 1")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def bump_generation(self) -> int:
        """Count one more change of the identities or judgements (call it in the
        writer's transaction, so the change and the count commit together); the new
        generation."""
        rows = self.store.fetchall(
            "INSERT INTO graph_generation VALUES (1, 1) ON CONFLICT (id) DO UPDATE "
            "SET generation = graph_generation.generation + 1 RETURNING generation")
        return int(rows[0][0])

    # -- identities ------------------------------------------------------------------
    def memberships(self) -> dict[str, str]:
        """Every record's identity (record id -> identity id)."""
        table = self.store.fetch_arrow("SELECT record_id, identity_id FROM identity_members")
        return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist(),
                        strict=True))

    def identity_of(self, record_ids: Sequence[str]) -> dict[str, str]:
        """The identity of each of ``record_ids`` that has one."""
        ids = list(dict.fromkeys(record_ids))
        if not ids:
            return {}
        cond, params = self._in("record_id", ids)
        return {str(r): str(i) for r, i in self.store.fetchall(
            f"SELECT record_id, identity_id FROM identity_members WHERE {cond}", params)}

    def members(self, identity_id: str) -> list[str]:
        """The records of an identity, sorted."""
        return sorted(str(r[0]) for r in self.store.fetchall(
            "SELECT record_id FROM identity_members WHERE identity_id = ?", [identity_id]))

    def members_of(self, identity_ids: Sequence[str]) -> dict[str, list[str]]:
        """identity -> its records (sorted), for the identities that have any."""
        ids = list(dict.fromkeys(identity_ids))
        if not ids:
            return {}
        cond, params = self._in("identity_id", ids)
        out: dict[str, list[str]] = {}
        for ident, rid in self.store.fetchall(
                f"SELECT identity_id, record_id FROM identity_members WHERE {cond} "
                "ORDER BY record_id", params):
            out.setdefault(str(ident), []).append(str(rid))
        return out

    def count_identities(self) -> int:
        return int(self.store.scalar(
            "SELECT count(DISTINCT identity_id) FROM identity_members") or 0)

    def apply_memberships(self, changed: pa.Table, gone: Sequence[str]) -> None:
        """A batch resolve's new identities as changes (one transaction, joined if one is
        open): ``changed`` (columns ``identity_id``, ``record_id``) replaces those
        records' memberships or adds them; the records ``gone`` leave their identity.
        Records named in neither keep theirs (one placed live meanwhile, say)."""
        with self.store.transaction():
            if gone:
                cond, params = self._in("record_id", list(gone))
                self.store.execute(f"DELETE FROM identity_members WHERE {cond}", params)
            if not changed.num_rows:
                return
            data = changed.select(["identity_id", "record_id"])
            if self.dialect == "postgres":
                self.store.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS __idg_members_changed "
                    "(identity_id VARCHAR, record_id VARCHAR) ON COMMIT DELETE ROWS")
                self.store.execute("DELETE FROM __idg_members_changed")
                self.store.append_arrow("__idg_members_changed", data)
                self.store.execute(
                    "INSERT INTO identity_members (identity_id, record_id) "
                    "SELECT identity_id, record_id FROM __idg_members_changed "
                    "ON CONFLICT (record_id) DO UPDATE SET identity_id = excluded.identity_id")
                self.store.execute("DELETE FROM __idg_members_changed")
            else:
                for start in range(0, data.num_rows, 50_000):
                    part = data.slice(start, 50_000)
                    self._insert(
                        "INSERT INTO identity_members (identity_id, record_id)",
                        list(zip(part.column(0).to_pylist(), part.column(1).to_pylist(),
                                 strict=True)),
                        ("VARCHAR", "VARCHAR"),
                        " ON CONFLICT (record_id) DO UPDATE SET identity_id = excluded.identity_id")

    def forget_records(self, record_ids: Sequence[str]) -> None:
        """Take records out of the graph (retention deleted them): their memberships and
        every edge touching them; bumps the generation (live linkers read the identities
        again). Call it in the deleting transaction."""
        ids = list(dict.fromkeys(record_ids))
        if not ids:
            return
        with self.store.transaction():
            cond, params = self._in("record_id", ids)
            self.store.execute(f"DELETE FROM identity_members WHERE {cond}", params)
            self.bump_generation()  # live linkers read the identities again
            left, lp = self._in("record_id_l", ids)
            right, rp = self._in("record_id_r", ids)
            self.store.execute(f"DELETE FROM link_edges WHERE {left} OR {right}", lp + rp)

    # -- runs and edges --------------------------------------------------------------
    def latest_run(self) -> Run | None:
        """The latest link run (by start time), or None before the first."""
        rows = self.store.fetchall(
            "SELECT run_id, threshold, started_at FROM link_runs "
            "ORDER BY started_at DESC NULLS LAST, run_id DESC LIMIT 1")
        if not rows:
            return None
        run_id, threshold, started = rows[0]
        return Run(str(run_id), float(threshold), started)

    def has_run(self) -> bool:
        return bool(self.store.fetchall("SELECT 1 FROM link_runs LIMIT 1"))

    def accepted_edges(self, record_ids: Sequence[str]) -> list[tuple[str, str]]:
        """Accepted edges of the latest run with both ends in ``record_ids``."""
        ids = list(dict.fromkeys(record_ids))
        run = self.latest_run()
        if len(ids) < 2 or run is None:
            return []
        cond, params = self._in("record_id_l", ids)
        keep = set(ids)
        return [(str(a), str(b)) for a, b in self.store.fetchall(
            f"SELECT record_id_l, record_id_r FROM link_edges WHERE {cond} "
            "AND accepted AND run_id = ?", [*params, run.run_id]) if b in keep]

    def accepted_edges_of_identities(self, identity_ids: Sequence[str]) -> list[tuple[str, str]]:
        """Accepted edges of the latest run leaving a member of ``identity_ids`` (by their
        left end: a superset of the edges among each identity's members)."""
        ids = list(dict.fromkeys(identity_ids))
        run = self.latest_run()
        if not ids or run is None:
            return []
        cond, params = self._in("m.identity_id", ids)
        return [(str(a), str(b)) for a, b in self.store.fetchall(
            "SELECT e.record_id_l, e.record_id_r FROM link_edges e JOIN identity_members m "
            f"ON m.record_id = e.record_id_l WHERE e.accepted AND e.run_id = ? AND {cond}",
            [run.run_id, *params])]

    def edges_of(self, record_id: str, run_id: str | None = None
                 ) -> list[tuple[str, str, float, float, bool, str | None]]:
        """Kept edges of a record (of ``run_id``, or of any run): both ends, probability,
        weight, accepted, evidence JSON."""
        sql = ("SELECT record_id_l, record_id_r, match_probability, match_weight, accepted, "
               "evidence FROM link_edges WHERE (record_id_l = ? OR record_id_r = ?)")
        params: list[Any] = [record_id, record_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        return [(str(a), str(b), float(p), float(w), bool(acc),
                 None if ev is None else str(ev))
                for a, b, p, w, acc, ev in self.store.fetchall(
                    sql + " ORDER BY match_probability DESC, record_id_l, record_id_r",
                    params)]

    def run_edge_count(self, run_id: str) -> int:
        return int(self.store.scalar("SELECT count(*) FROM link_edges WHERE run_id = ?",
                                     [run_id]) or 0)

    # -- lineage ---------------------------------------------------------------------
    def _lineage(self, where: str, params: list[Any], order: str) -> list[LineageRow]:
        return [LineageRow(at, str(run), str(ev), str(ident), tuple(rel or ()))
                for at, run, ev, ident, rel in self.store.fetchall(
                    'SELECT "at", run_id, event, identity_id, related FROM identity_lineage '
                    f"WHERE {where} ORDER BY {order}", params)]

    def lineage_of(self, identity_id: str) -> list[LineageRow]:
        """Lineage events naming ``identity_id`` (as the identity or a related one), in
        time order."""
        related = ("list_contains(related, ?)" if self.dialect == "duckdb"
                   else "? = ANY(related)")
        return self._lineage(f"identity_id = ? OR {related}", [identity_id, identity_id],
                             '"at", run_id, identity_id, event')

    def lineage_events(self, events: Sequence[str],
                       identity_ids: Sequence[str] | None = None) -> list[LineageRow]:
        """Lineage rows of the given kinds of event (``identity_ids``: only those naming
        one of them as the identity or a related one), in time order."""
        if not events or (identity_ids is not None and not identity_ids):
            return []
        ev, params = self._in("event", list(events))
        where = ev
        if identity_ids is not None:
            ids = list(identity_ids)
            if self.dialect == "duckdb":
                where += " AND (list_contains(?, identity_id) OR list_has_any(related, ?))"
            else:
                where += " AND (identity_id = ANY(?) OR related::text[] && ?::text[])"
            params += [ids, ids]
        return self._lineage(where, params, '"at", run_id, identity_id, event')

    def retired_moves(self) -> list[tuple[str, str]]:
        """(retired id, an id now holding its records) of every ``retired`` event."""
        out: list[tuple[str, str]] = []
        for ident, related in self.store.fetchall(
                "SELECT identity_id, related FROM identity_lineage WHERE event = 'retired'"):
            out.extend((str(ident), str(r)) for r in related or ())
        return out

    # -- judgements ------------------------------------------------------------------
    def add_judgement(self, judgement_id: str, record_id_l: str, record_id_r: str,
                      verdict: str, by: str, reason: str, at: datetime) -> None:
        """Append a judgement and bump the generation (one transaction, joined if open)."""
        with self.store.transaction():
            self.store.execute(
                'INSERT INTO judgements (judgement_id, record_id_l, record_id_r, verdict, "by", '
                'reason, "at") VALUES (?, ?, ?, ?, ?, ?, ?)',
                [judgement_id, record_id_l, record_id_r, verdict, by, reason, at])
            self.bump_generation()  # live linkers read the judgements again

    def latest_verdicts(self) -> list[VerdictRow]:
        """The latest verdict of every judged pair (lower id first), in pair order."""
        if self.dialect == "duckdb":
            sql = """SELECT least(record_id_l, record_id_r), greatest(record_id_l, record_id_r),
                      arg_max(verdict, ("at", judgement_id))
               FROM judgements GROUP BY 1, 2 ORDER BY 1, 2"""
        else:
            sql = """SELECT DISTINCT ON (a, b) a, b, verdict FROM (
                SELECT least(record_id_l, record_id_r) AS a,
                       greatest(record_id_l, record_id_r) AS b, verdict, "at", judgement_id
                FROM judgements) AS j
               ORDER BY a, b, "at" DESC NULLS LAST, judgement_id DESC"""
        return [VerdictRow(str(a), str(b), str(v)) for a, b, v in self.store.fetchall(sql)]

    def judgements_of(self, record_id: str) -> list[tuple[str, str, str, str, str, str,
                                                            datetime | None]]:
        """Every judgement naming a record, oldest first (id, l, r, verdict, by, reason,
        at)."""
        return [(str(j), str(a), str(b), str(v), str(by or ""), str(why or ""), at)
                for j, a, b, v, by, why, at in self.store.fetchall(
                    'SELECT judgement_id, record_id_l, record_id_r, verdict, "by", reason, "at" '
                    'FROM judgements WHERE record_id_l = ? OR record_id_r = ? '
                    'ORDER BY "at", judgement_id', [record_id, record_id])]

    # -- models ----------------------------------------------------------------------
    def save_model(self, model_id: str, created_at: datetime, model_json: str,
                   detail_json: str) -> None:
        """Store a model (its id a content hash: saving it again changes nothing)."""
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO link_models (model_id, created_at, model, detail) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [model_id, created_at, model_json, detail_json])

    def latest_model(self) -> StoredModel | None:
        """The most recently saved model, if any."""
        rows = self.store.fetchall(
            "SELECT model_id, model FROM link_models ORDER BY created_at DESC, model_id LIMIT 1")
        return StoredModel(str(rows[0][0]), str(rows[0][1])) if rows else None

    # -- live attach -----------------------------------------------------------------
    def write_placements(self, run_id: str, at: datetime, members: Sequence[tuple[str, str]],
                         edges: Sequence[EdgeRow], lineage: Sequence[LineageWrite]) -> int:
        """A live attach's writes, in one transaction (joined if one is open): the
        memberships (identity, record; replacing a record's old one), the kept edges and
        the lineage events under ``run_id``; bumps the generation and returns it."""
        with self.store.transaction():
            self._insert(
                "INSERT INTO identity_members (identity_id, record_id)", list(members),
                ("VARCHAR", "VARCHAR"),
                " ON CONFLICT (record_id) DO UPDATE SET identity_id = excluded.identity_id")
            if edges:
                self._insert(
                    "INSERT INTO link_edges (run_id, record_id_l, record_id_r, "
                    "match_probability, match_weight, accepted, evidence)",
                    [(run_id, *e) for e in edges],
                    ("VARCHAR", "VARCHAR", "VARCHAR", "DOUBLE", "DOUBLE", "BOOLEAN", "JSON"))
            if lineage:
                self._insert(
                    'INSERT INTO identity_lineage (run_id, identity_id, event, related, "at")',
                    [(run_id, e.identity_id, e.event, list(e.related), at) for e in lineage],
                    ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR[]", "TIMESTAMP"))
            return self.bump_generation()

    def _insert(self, head: str, rows: Sequence[tuple[Any, ...]], types: Sequence[str],
                tail: str = "") -> None:
        """One parameterised insert of ``rows`` (columns of ``types``)."""
        if not rows:
            return
        if self.dialect == "postgres":
            marks = "(" + ", ".join("?" * len(types)) + ")"
            self.store.executemany(f"{head} VALUES {marks}{tail}", rows)
        elif len(rows) <= 4:  # as VALUES: cheaper to plan
            marks = "(" + ", ".join("?" * len(types)) + ")"
            self.store.execute(f"{head} VALUES {', '.join([marks] * len(rows))}{tail}",
                               [v for row in rows for v in row])
        else:  # one list parameter per column, unnested
            columns = ", ".join(f"unnest(?::{t}[])" for t in types)
            self.store.execute(f"{head} SELECT {columns}{tail}",
                               [list(c) for c in zip(*rows, strict=True)])

    # -- the linkage model's reads of records ----------------------------------------
    def record_exists(self, record_id: str) -> bool:
        """Whether any version of the record is stored."""
        return bool(self.store.fetchall("SELECT 1 FROM records WHERE record_id = ? LIMIT 1",
                                        [record_id]))

    def input_rows(self, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The current records ``record_ids`` as model input rows (the columns of
        :data:`INPUT_ROW_COLUMNS`), in the order asked; ids not current are left out."""
        ids = list(dict.fromkeys(record_ids))
        if not ids:
            return []
        cond, params = self._in("record_id", ids)
        rows = self.store.fetchall(
            f"SELECT is_current, {INPUT_COLUMNS[self.dialect]} FROM records WHERE {cond}",
            params)
        names = ("is_current", *INPUT_ROW_COLUMNS)
        by_id: dict[str, dict[str, Any]] = {}
        for r in rows:
            row = dict(zip(names, r, strict=True))
            if row.pop("is_current"):
                by_id[row["record_id"]] = row
        return [by_id[i] for i in ids if i in by_id]

    def exact_key_candidates(self, record_id: str, keys: dict[str, Any], limit: int
                             ) -> list[str]:
        """Current records (not ``record_id``) sharing an exact key: SSN, phone, licence
        (``dl_number``, ``dl_state``), given name with surname and birth year
        (``first_name_canon``, ``last_name``, ``birth_year``), or house, street and ZIP."""
        year = ("year(dob)" if self.dialect == "duckdb"
                else "CAST(extract(year FROM dob) AS INTEGER)")
        rows = self.store.fetchall(
            f"""SELECT record_id FROM records WHERE is_current AND record_id <> ? AND (
                   ssn = ? OR phone = ?
                   OR (dl_number = ? AND coalesce(dl_state, '') = ?)
                   OR (first_name_canon = ? AND last_name = ?
                       AND coalesce(birth_year, {year}) = ?)
                   OR (house_number = ? AND street = ? AND zip = ?))
               ORDER BY record_id LIMIT ?""",
            [record_id, keys.get("ssn"), keys.get("phone"), keys.get("dl_number"),
             keys.get("dl_state"), keys.get("first_name_canon"), keys.get("last_name"),
             keys.get("birth_year"), keys.get("house_number"), keys.get("street"),
             keys.get("zip"), limit])
        return [str(r[0]) for r in rows]

    def value_counts(self, column: str) -> list[tuple[str, str | None, Any, int]]:
        """(source, origin jurisdiction, value, current records) of a column of
        ``records`` (values not NULL): the term frequencies' counts."""
        if column not in RECORD_COLUMNS or not _IDENT.match(column):
            raise ValueError(f"not a record column: {column!r}")
        return [(str(s), None if o is None else str(o), v, int(n))
                for s, o, v, n in self.store.fetchall(
                    f"SELECT source_id, origin_jurisdiction, {column}, count(*) FROM records "
                    f"WHERE is_current AND {column} IS NOT NULL "
                    f"GROUP BY source_id, origin_jurisdiction, {column}")]


def graph(store: Store) -> IdentityGraph:
    """The identity graph repository of ``store``."""
    return IdentityGraph(store)


__all__ = ["INPUT_COLUMNS", "INPUT_ROW_COLUMNS", "EdgeRow", "IdentityGraph", "LineageRow",
           "LineageWrite", "Run", "StoredModel", "VerdictRow", "graph"]
