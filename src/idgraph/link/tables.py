"""The link tables' helpers (the tables themselves are made by the store's migrations;
their SQL lives in :mod:`idgraph.store.graph`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from idgraph.store import Store
from idgraph.store.graph import IdentityGraph


def ensure_tables(store: Store) -> None:
    """Nothing: the link tables are made by the store's migrations (kept because other
    packages still call it)."""


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
    return IdentityGraph(store).generation()


def bump_generation(store: Store) -> int:
    """Count one more change of the identities or judgements (call it in the writer's
    transaction, so the change and the count commit together); the new generation."""
    return IdentityGraph(store).bump_generation()
