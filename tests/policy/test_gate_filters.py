"""Issue 11, item 6: search and filter criteria are a typed allow-list; anything else
refuses the whole query, every source, and the refusal is audited.
"""

from __future__ import annotations

import pytest
from policy_fixtures import add_record, audit_rows, link, new_store, seed

from idgraph.policy.engine import allowed, decide
from idgraph.policy.fields import FILTERABLE, FilterKind, filter_name, refused_filters
from idgraph.policy.profile import AccessDenied, read_profile
from idgraph.policy.registry import Registry
from idgraph.schema import CANONICAL_FIELDS, Query

Q = Query(principal="gov", purpose="criminal_investigation", claims=("DPPA-b1",), case_id="C1")

REFUSED = [
    "national origin",  # passed the old four-word deny-list
    "nationality",
    "ancestry",
    "Race",
    "ethnicity",
    "religion",
    "National-Origin",
    "national_origin",
    "skin colour",
    "immigration status",
    "origin_jurisdiction",  # where a record was compiled is not a criterion
    "",
]


@pytest.mark.parametrize("criterion", REFUSED)
def test_criterion_outside_the_allow_list_refuses_every_source(criterion: str) -> None:
    store = new_store()
    seed(store)
    dec = allowed(Registry(store), Q, filters=["last_name", criterion])
    assert dec.decisions and not dec.any_permitted
    assert all("base.filters_allowed" in d.rules for d in dec.decisions.values())


ALLOWED = ["last_name", "Last Name", "DOB", "dl-number", "zip", "ssn", "birth_year", "sex"]


@pytest.mark.parametrize("criterion", ALLOWED)
def test_canonical_fields_are_criteria(criterion: str) -> None:
    store = new_store()
    seed(store)
    d = allowed(Registry(store), Q, ["court"], filters=[criterion]).decisions["court"]
    assert d.permit and "base.filters_allowed" not in d.rules


def test_allow_list_is_the_typed_canonical_fields() -> None:
    assert set(FILTERABLE) == set(CANONICAL_FIELDS) - {"origin_jurisdiction"}
    assert FILTERABLE["dob"] is FilterKind.DATE and FILTERABLE["last_name"] is FilterKind.NAME
    assert filter_name("  Last  Name ") == "last_name"
    assert refused_filters(["city", "nationality"]) == ("nationality",)


def test_refusal_is_audited_with_the_criteria() -> None:
    store = new_store()
    seed(store)
    decide(store, Q, filters=["full_name", "national origin"])
    entries = audit_rows(store, "policy.decide")
    assert entries and all(e["outcome"] == "deny" for e in entries)
    assert all("base.filters_allowed" in e["rules"] for e in entries)
    assert all("national origin" in e["detail"]["filters"] for e in entries)


def test_profile_read_with_a_protected_filter_is_refused() -> None:
    store = new_store()
    seed(store)
    link(store, "X", [add_record(store, "court", "1", full_name="ANA LOPEZ")], [])
    with pytest.raises(AccessDenied) as err:
        read_profile(store, Q, "X", filters=["ancestry"])
    assert "base.filters_allowed" in err.value.rules
    assert audit_rows(store, "profile.read")[-1]["outcome"] == "deny"
