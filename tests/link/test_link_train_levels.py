"""Predictions keep every comparison's level without the compared values (the shim)."""

from __future__ import annotations

from datetime import date

import pytest
from link_fixtures import AddRecord
from splink.internals.comparison import Comparison

from idgraph.link.evidence import comparison_names
from idgraph.link.train import (
    TrainedModel,
    build_linker,
    levels_without_values,
    prepare_input,
    scratch,
)
from idgraph.store import Store


def _predicted_columns(store: Store, model: TrainedModel, keep_values: bool) -> list[str]:
    with scratch(store):
        linker = build_linker(store, model.model, keep_values=keep_values)
        pred = linker.inference.predict(warning_mode="never")
        return [d[0] for d in store.con.execute(
            f"SELECT * FROM {pred.physical_name} LIMIT 0").description]


def test_levels_kept_values_dropped(store: Store, model: TrainedModel, add: AddRecord) -> None:
    for rid in ("a/1", "b/1"):
        add(rid, first_name="JOHN", last_name="MILLER", dob=date(1980, 3, 4), ssn="123456789")
    prepare_input(store)
    names = comparison_names(model.model)
    plain = _predicted_columns(store, model, keep_values=False)
    assert not any(c.startswith("gamma_") for c in plain)  # what Splink does unaided
    original = Comparison._columns_to_select_for_predict
    with levels_without_values() as active:
        assert active
        cols = _predicted_columns(store, model, keep_values=False)
    assert Comparison._columns_to_select_for_predict is original  # restored
    assert {f"gamma_{n}" for n in names} <= set(cols)
    assert {f"mw_{n}" for n in names} <= set(cols)  # the weights evidence is made of
    assert "first_name_l" not in cols and "ssn_r" not in cols
    assert len(cols) < len(_predicted_columns(store, model, keep_values=True))


def test_unknown_splink_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def other(self: Comparison, retain_matching_columns: bool) -> list[str]:
        return []

    monkeypatch.setattr(Comparison, "_columns_to_select_for_predict", other)
    with levels_without_values() as active:
        assert not active
        assert Comparison._columns_to_select_for_predict is other
