"""Candidate pairs: every pair some blocking rule makes, once.

Splink makes each rule's pairs with a join that excludes, pair by pair, the pairs of
all the rules before it: the last of 20 rules tests 19 OR-ed conditions on each of its
pairs. At ~1M records that step took 18.6 s of the 44.5 s prediction. Here each rule is
a plain self-join, and the union is de-duplicated by one hash aggregate on the pair
(9.6 s on the same records; the pairs are the same). The table has Splink's
blocked-pairs schema and is handed to Splink's ``predict`` through its public
``register_blocked_pairs_for_predict``, so Splink still computes every comparison.

:class:`Blocking` makes the pairs on a second connection while the first trains the
model (Splink's training is mostly Python, the join mostly DuckDB's threads): at 1M
records that hides most of the 9.6 s.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

import duckdb

from idgraph.link.model import BLOCKING_RULES, INPUT_TABLE
from idgraph.link.train import SCRATCH_CATALOG
from idgraph.store import DuckDBStore

# the candidate pairs, in Splink's blocked-pairs schema (match_key, join_key_l, join_key_r)
BLOCKED_PAIRS: Final = "__idg_blocked_pairs"


def blocked_pairs_sql(rules: tuple[str, ...] = BLOCKING_RULES,
                      table: str = INPUT_TABLE) -> str:
    """A query of the distinct pairs (``join_key_l`` < ``join_key_r``, the ``uid`` of
    the two records) the rules make, each with ``match_key``: the index of the first
    rule that makes it (as Splink numbers them)."""
    if not rules:
        raise ValueError("no blocking rules")
    if len(rules) > 255:
        raise ValueError(f"{len(rules)} blocking rules: at most 255")
    joins = "\nUNION ALL\n".join(
        f"SELECT CAST({i} AS UTINYINT) AS rule, l.uid AS uid_l, r.uid AS uid_r "
        f"FROM {table} AS l JOIN {table} AS r ON ({rule}) AND l.uid < r.uid"
        for i, rule in enumerate(rules)
    )
    return (f"SELECT CAST(min(rule) AS VARCHAR) AS match_key, uid_l AS join_key_l, "
            f"uid_r AS join_key_r FROM ({joins}) GROUP BY uid_l, uid_r")


def create_blocked_pairs(store: DuckDBStore, name: str,
                         rules: tuple[str, ...] = BLOCKING_RULES) -> int:
    """Materialise the candidate pairs as table ``name``; how many there are."""
    return _make(store.con, name, blocked_pairs_sql(rules))


class Blocking:
    """The candidate pairs, made in the background as table ``name`` of the scratch
    catalog (where Splink runs; see :func:`idgraph.link.train.scratch`).

    The second connection cannot see the first's TEMP tables, so the input is copied
    into the scratch catalog first (an in-memory database both connections share).
    Call :meth:`result` before reading the table, and always (it joins the thread).
    """

    def __init__(self, store: DuckDBStore, name: str = BLOCKED_PAIRS,
                 rules: tuple[str, ...] = BLOCKING_RULES) -> None:
        self._store = store
        self._input = f"{SCRATCH_CATALOG}.__idg_block_input"
        store.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {SCRATCH_CATALOG}")
        store.execute(f"CREATE OR REPLACE TABLE {self._input} AS SELECT * FROM {INPUT_TABLE}")
        self._cursor = store.con.cursor()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="idgraph-blocking")
        self._pairs = f"{SCRATCH_CATALOG}.{name}"
        self._future: Future[int] = self._pool.submit(
            _make, self._cursor, self._pairs,
            blocked_pairs_sql(rules, self._input))

    def result(self) -> int:
        """Wait for the pairs; how many there are (re-raises what went wrong)."""
        try:
            return self._future.result()
        finally:
            self._pool.shutdown()
            self._cursor.close()
            self._store.execute(f"DROP TABLE IF EXISTS {self._input}")

    def abandon(self) -> None:
        """Wait for the thread and drop what it made (training failed: the error that
        matters is that one)."""
        with contextlib.suppress(Exception):
            self.result()
        self._store.execute(f"DROP TABLE IF EXISTS {self._pairs}")


def _make(con: duckdb.DuckDBPyConnection, table: str, query: str) -> int:
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {query}")
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
