"""DDL of the tables idgraph.link owns (other modules read these names)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from idgraph.store import Store

DDL: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS link_models (
        model_id VARCHAR PRIMARY KEY, created_at TIMESTAMP, model JSON, detail JSON)""",
    """CREATE TABLE IF NOT EXISTS link_runs (
        run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP,
        threshold DOUBLE, n_records BIGINT, n_edges BIGINT, n_identities BIGINT,
        model_id VARCHAR, detail JSON)""",
    """CREATE TABLE IF NOT EXISTS link_edges (
        run_id VARCHAR, record_id_l VARCHAR, record_id_r VARCHAR,
        match_probability DOUBLE, match_weight DOUBLE, accepted BOOLEAN, evidence JSON)""",
    """CREATE TABLE IF NOT EXISTS identity_members (
        identity_id VARCHAR, record_id VARCHAR PRIMARY KEY)""",
    """CREATE TABLE IF NOT EXISTS identity_lineage (
        run_id VARCHAR, identity_id VARCHAR, event VARCHAR, related VARCHAR[],
        "at" TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS judgements (
        judgement_id VARCHAR PRIMARY KEY, record_id_l VARCHAR, record_id_r VARCHAR,
        verdict VARCHAR, "by" VARCHAR, reason VARCHAR, "at" TIMESTAMP)""",
    # read paths: members of an identity; edges of a record (record_id is the PK above).
    # The scoped view reads edges by their left end only; the right end had an index
    # too, read by nothing but retention's rare batch deletes, and keeping it cost 5 s
    # of every resolve's commit at 1M records (1.7M edges): stores made before lose it.
    "CREATE INDEX IF NOT EXISTS identity_members_identity ON identity_members(identity_id)",
    "CREATE INDEX IF NOT EXISTS link_edges_l ON link_edges(record_id_l)",
    "DROP INDEX IF EXISTS link_edges_r",
    # one row: bumped by every write that changes identities or judgements (resolve, a
    # judgement, retention, a live attach), so a long-lived live linker knows when what
    # it holds in memory is stale (:func:`generation`, :func:`bump_generation`)
    """CREATE TABLE IF NOT EXISTS graph_generation (
        id INTEGER PRIMARY KEY, generation BIGINT NOT NULL)""",
)


def ensure_tables(store: Store) -> None:
    """Create the link tables if missing (idempotent)."""
    store.ensure("link", DDL)


def one(store: Store, sql: str, params: Sequence[Any] | None = None) -> Any:
    """First column of the first row, or None.

    Uses ``fetchall`` so no half-read result stays open on the connection (DuckDB 2
    refuses relation queries, which Splink uses, while a result is unfinished).
    """
    rows = store.fetchall(sql, params)
    return rows[0][0] if rows else None


def generation(store: Store) -> int:
    """The identity graph's generation: it changes with every write to the identities
    or the judgements (0 before the first)."""
    ensure_tables(store)
    return int(one(store, "SELECT generation FROM graph_generation WHERE id = 1") or 0)


def bump_generation(store: Store) -> int:
    """Count one more change of the identities or judgements (call it in the writer's
    transaction, so the change and the count commit together); the new generation."""
    ensure_tables(store)
    rows = store.fetchall(
        "INSERT INTO graph_generation VALUES (1, 1) ON CONFLICT (id) DO UPDATE "
        "SET generation = graph_generation.generation + 1 RETURNING generation")
    return int(rows[0][0])
