"""Stored evidence, the scratch catalog, and comparison levels that read the schema."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from link_fixtures import AddRecord

from idgraph.link._explain import explain
from idgraph.link.evidence import decode_evidence
from idgraph.link.resolve import resolve
from idgraph.link.train import TrainedModel
from idgraph.settings import Settings
from idgraph.store import Store

SETTINGS = Settings(match_threshold=0.9)
HOME: dict[str, Any] = {"last_name": "MILLER", "house_number": "12", "street": "OAK ST",
                        "zip": "12345", "city": "SPRINGFIELD", "state": "IL"}


def test_stored_evidence_decodes_to_what_explain_shows(
    store: Store, model: TrainedModel, add: AddRecord
) -> None:
    a = add("dmv/1", first_name="JOHN", dob=date(1980, 3, 4), ssn="123456789", **HOME)
    b = add("voter/1", first_name="JOHN", dob=date(1980, 3, 4), ssn="123456789", **HOME)
    run = resolve(store, SETTINGS)
    (stored,) = store.fetchall("SELECT evidence FROM link_edges WHERE run_id = ?", [run.run_id])
    decoded = decode_evidence(model.model, stored[0])
    shown = {f.comparison: f for f in explain(store, a, b).features}
    assert set(decoded) == set(shown)
    for name, item in decoded.items():
        assert item["level"] == shown[name].level, name
        assert item["weight"] == pytest.approx(shown[name].weight, abs=1e-3), name


def test_splink_tables_stay_out_of_the_store(
    store: Store, model: TrainedModel, add: AddRecord
) -> None:
    home = store.scalar("SELECT current_database()")
    add("dmv/1", first_name="ANN", dob=date(1990, 1, 2), **HOME)
    add("voter/1", first_name="ANN", dob=date(1990, 1, 2), **HOME)
    resolve(store, SETTINGS)
    assert store.scalar("SELECT current_database()") == home
    leftovers = store.scalar(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
        "AND table_name LIKE '__splink%'", [home])
    assert leftovers == 0


def _levels(store: Store, a: str, b: str) -> dict[str, str]:
    return {f.comparison: f.level for f in explain(store, a, b).features}


LEVEL_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    ("a missing ZIP is not another ZIP",
     {"zip": "12345"}, {"zip": None}, "address", "same house and street, ZIP missing"),
    ("same house and street, other ZIP",
     {"zip": "12345"}, {"zip": "54321"}, "address", "same house and street, other ZIP"),
    ("licences of two states say nothing",
     {"dl_state": "NY", "dl_number": "111"}, {"dl_state": "IL", "dl_number": "222"},
     "dl_key", "missing or other state"),
    ("licences of one state differ",
     {"dl_state": "NY", "dl_number": "111"}, {"dl_state": "NY", "dl_number": "222"},
     "dl_key", "different"),
    ("a name swap counts once, under the given name",
     {"first_name": "LEE", "last_name": "MORGAN"}, {"first_name": "MORGAN", "last_name": "LEE"},
     "last_name", "missing, or swapped with the given name (counted there)"),
]


@pytest.mark.parametrize(("case", "left", "right", "comparison", "level"), LEVEL_CASES,
                         ids=[c[0] for c in LEVEL_CASES])
def test_comparison_levels(store: Store, model: TrainedModel, add: AddRecord, case: str,
                           left: dict[str, Any], right: dict[str, Any], comparison: str,
                           level: str) -> None:
    base = {"first_name": "ANN", "dob": date(1990, 1, 2), **HOME}
    a = add("dmv/1", **{**base, **left})
    b = add("voter/1", **{**base, **right})
    assert _levels(store, a, b)[comparison] == level
