"""Shared fixtures for the link tests: a store, a record writer, a fixed model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from link_fixtures import AddRecord

from idgraph.link.model import settings_dict
from idgraph.link.train import TrainedModel, save_model
from idgraph.schema import RECORD_COLUMNS
from idgraph.store import Store, open_store
from pgdb import fresh_database

# IDGRAPH_LINK_TEST_BACKEND=postgres: the link tests' store is a fresh PostgreSQL
# database (a diagnostic run: some tests read the store with DuckDB's SQL)
BACKEND = os.environ.get("IDGRAPH_LINK_TEST_BACKEND", "duckdb")


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    if BACKEND == "postgres":
        with fresh_database() as url:
            pg = open_store(url, data_dir=tmp_path, threads=1, memory_limit="1GB")
            yield pg
            pg.close()
        return
    s = open_store(None, threads=1, memory_limit="1GB")
    yield s
    s.close()


def _fill(level_count: int) -> list[tuple[float, float]]:
    """(m, u) for non-null levels, strongest first; the last is the else level."""
    pairs = [(0.9 / 2**i, 0.0005 * 4**i) for i in range(level_count - 1)]
    pairs.append((0.02, 0.98))
    return pairs


def fixed_model_dict(prior: float = 1e-3) -> dict[str, Any]:
    """The idgraph model with hand-set parameters (no training: tests stay fast)."""
    model = settings_dict(prior=prior)
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        for lv, (m, u) in zip(levels, _fill(len(levels)), strict=True):
            lv["m_probability"], lv["u_probability"] = m, u
    return model


@pytest.fixture()
def model(store: Store) -> TrainedModel:
    return save_model(store, fixed_model_dict(), {"fixed": True})


@pytest.fixture()
def add(store: Store) -> AddRecord:
    """add("src/1", first_name=..., ...) inserts a current record; returns its id."""

    def _add(record_id: str, **values: Any) -> str:
        source, _, local = record_id.partition("/")
        dob = values.get("dob")
        row: dict[str, Any] = {
            "record_id": record_id, "source_id": source, "source_record_id": local,
            "version": 1, "is_current": True,
            "first_name_canon": values.get("first_name"),
            "dob_precision": "day" if isinstance(dob, date) else None,
            "birth_year": dob.year if isinstance(dob, date) else None,
            **values,
        }
        cols = [c for c in RECORD_COLUMNS if c in row]
        store.fetchall(
            f"INSERT INTO records ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [row[c] for c in cols],
        )
        return record_id

    return _add
