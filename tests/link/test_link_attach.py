"""Live attach: one new record joins its identity, or makes a new one, under the rules
and judgements batch resolve honours, and is written as batch writes it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from link_fixtures import AddRecord

from idgraph.link.attach import (
    AttachError,
    AttachResult,
    LiveLinker,
    attach,
    register_after_attach,
    unregister_after_attach,
)
from idgraph.link.judge import judge
from idgraph.link.resolve import resolve
from idgraph.link.train import TrainedModel
from idgraph.policy.view import member_rows, scoped_view
from idgraph.settings import Settings
from idgraph.store import Store

SETTINGS = Settings(match_threshold=0.9)
ADDRESS: dict[str, Any] = {"house_number": "12", "street": "OAK ST", "zip": "12345",
                           "city": "SPRINGFIELD", "state": "IL", "phone": "+12175550100"}


def person(first: str, dob: date | None, **extra: Any) -> dict[str, Any]:
    return {"first_name": first, "last_name": "MILLER", "dob": dob, **ADDRESS, **extra}


def identity_of(store: Store, record_id: str) -> str | None:
    rows = store.fetchall("SELECT identity_id FROM identity_members WHERE record_id = ?",
                          [record_id])
    return str(rows[0][0]) if rows else None


@pytest.fixture()
def household(store: Store, model: TrainedModel, add: AddRecord) -> dict[str, str]:
    """A resolved store: John (with SSN), his father John Sr, and Mary."""
    ids = {
        "john": add("dmv/1", **person("JOHN", date(1980, 3, 4), ssn="123456789")),
        "sr": add("dmv/2", **person("JOHN", date(1950, 6, 1), suffix="SR", ssn="987654321",
                                     house_number="40", phone="+12175550199")),
        "mary": add("dmv/3", **person("MARY", date(1982, 7, 9), ssn="111223333",
                                       phone="+12175550142")),
    }
    resolve(store, SETTINGS)
    return ids


# (name, new record, who it joins: a key of the household, or None for a new identity,
#  the rule that refused its best identity)
CASES: list[tuple[str, dict[str, Any], str | None, str | None]] = [
    ("the same person from another source joins him",
     person("JOHN", date(1980, 3, 4)), "john", None),
    ("a nickname and no birth date, his SSN", {**person("JACK", None), "ssn": "123456789",
                                              "first_name_canon": "JOHN"}, "john", None),
    ("a new person makes a new identity",
     {"first_name": "ZED", "last_name": "QUINN", "dob": date(1999, 1, 1)}, None, None),
    ("a Jr at the Sr's address and phone is not the Sr",
     person("JOHN", None, suffix="JR", house_number="40", phone="+12175550199"), None,
     "suffix"),
    ("a birth date no typo explains is not Mary",
     person("MARY", date(1961, 11, 23), phone="+12175550142"), None, "dob"),
]


@pytest.mark.parametrize(("name", "values", "joins", "refused"), CASES,
                         ids=[c[0] for c in CASES])
def test_attach_places_the_record(
    store: Store, household: dict[str, str], add: AddRecord, name: str,
    values: dict[str, Any], joins: str | None, refused: str | None,
) -> None:
    rid = add("voter/9", **values)
    result = attach(store, rid)
    assert identity_of(store, rid) == result.identity_id, name
    if joins is None:
        assert result.event == "new"
        assert result.identity_id not in {identity_of(store, r) for r in household.values()}
    else:
        assert result.event == "attach"
        assert result.identity_id == identity_of(store, household[joins])
    assert result.refused == refused


def test_a_different_judgement_is_honoured(
    store: Store, household: dict[str, str], add: AddRecord
) -> None:
    rid = add("voter/9", **person("JOHN", date(1980, 3, 4)))
    judge(store, rid, household["john"], "different", by="tester", reason="not him")
    result = attach(store, rid)
    assert result.event == "new" and result.refused == "judgement"


def test_a_same_judgement_forces_the_identity(
    store: Store, household: dict[str, str], add: AddRecord
) -> None:
    rid = add("voter/9", first_name="ZED", last_name="QUINN")
    judge(store, rid, household["mary"], "same", by="tester", reason="married name")
    result = attach(store, rid)
    assert result.forced and result.identity_id == identity_of(store, household["mary"])


def test_lineage_edges_and_the_scoped_view(
    store: Store, household: dict[str, str], add: AddRecord
) -> None:
    rid = add("voter/9", **person("JOHN", date(1980, 3, 4)))
    seen: list[AttachResult] = []

    def hook(_store: Store, result: AttachResult) -> None:
        seen.append(result)

    register_after_attach(hook)
    try:
        result = attach(store, rid)
    finally:
        unregister_after_attach(hook)
    run_id = store.fetchall("SELECT max_by(run_id, started_at) FROM link_runs")[0][0]
    assert result.run_id == run_id
    lineage = store.fetchall(
        "SELECT identity_id, event, related FROM identity_lineage WHERE run_id = ? "
        "AND event = 'attach'", [run_id])
    assert lineage == [(result.identity_id, "attach", [rid])]
    edges = store.fetchall("SELECT record_id_l, record_id_r, accepted FROM link_edges "
                           "WHERE run_id = ? AND (record_id_l = ? OR record_id_r = ?)",
                           [run_id, rid, rid])
    assert (household["john"], rid, True) in edges and result.edges == len(edges)
    members = [r["record_id"] for r in member_rows(store, result.identity_id, ["voter", "dmv"])]
    assert rid in members
    assert rid in scoped_view(store, result.identity_id, ["voter", "dmv"]).record_ids
    assert [r.record_id for r in seen] == [rid]


def test_candidates_are_injected(store: Store, household: dict[str, str],
                                 add: AddRecord) -> None:
    rid = add("voter/9", **person("JOHN", date(1980, 3, 4)))
    linker = LiveLinker.from_store(store)
    asked: list[str] = []

    def nobody(row: dict[str, Any]) -> list[str]:
        asked.append(row["record_id"])
        return []

    assert linker.attach(rid, candidates=nobody).event == "new" and asked == [rid]
    again = linker.attach(rid, candidates=lambda _row: [household["john"], "nowhere/1"])
    assert again.identity_id == identity_of(store, household["john"])
    assert store.fetchall("SELECT count(*) FROM identity_members WHERE record_id = ?",
                          [rid]) == [(1,)]


def test_attach_needs_a_run_and_a_current_record(
    store: Store, model: TrainedModel, add: AddRecord
) -> None:
    rid = add("voter/9", **person("JOHN", None))
    with pytest.raises(AttachError, match="no link run"):
        attach(store, rid)
    resolve(store, SETTINGS)
    with pytest.raises(AttachError, match="not a current record"):
        attach(store, "voter/404")


def test_a_record_bridging_two_identities_merges_them(
    store: Store, model: TrainedModel, add: AddRecord
) -> None:
    # one person known twice: by SSN at an old address, by phone at the new one
    old = add("dmv/1", first_name="ANA", last_name="RUIZ", dob=date(1970, 1, 2),
              ssn="555667777", house_number="1", street="ELM ST", zip="11111")
    new = add("utility/1", first_name="ANA", last_name="RUIZ", phone="+13125550123",
              house_number="9", street="PINE RD", zip="22222")
    newer = add("utility/2", first_name="ANA", last_name="RUIZ", phone="+13125550123",
                house_number="9", street="PINE RD", zip="22222")
    resolve(store, SETTINGS)
    assert identity_of(store, old) != identity_of(store, new)
    keeper = identity_of(store, new)  # two records against one: its id is kept
    retired = identity_of(store, old)
    rid = add("voter/9", first_name="ANA", last_name="RUIZ", dob=date(1970, 1, 2),
              ssn="555667777", phone="+13125550123", house_number="9", street="PINE RD",
              zip="22222")
    result = attach(store, rid)
    assert result.identity_id == keeper and result.merged == (retired,)
    assert {identity_of(store, r) for r in (old, new, newer, rid)} == {keeper}
    events = store.fetchall("SELECT identity_id, event, related FROM identity_lineage "
                            "WHERE run_id = ? ORDER BY event", [result.run_id])
    assert (retired, "retired", [keeper]) in events
    assert (keeper, "merged", [retired]) in events
    assert LiveLinker.from_store(store).attach(rid).merged == ()  # nothing left to bridge


def test_a_bare_record_of_a_two_generation_household_is_held(
    store: Store, household: dict[str, str], add: AddRecord
) -> None:
    # JOHN at the Sr's address too: two generations of JOHN MILLER under one roof
    add("voter/1", **person("JOHN", date(1980, 3, 4), house_number="40",
                            phone="+12175550177", middle_name="ALAN"))
    resolve(store, SETTINGS)
    # fits the son far better than the father (the middle name), yet could be either
    bare = add("utility/9", **person("JOHN", None, house_number="40", phone=None,
                                     middle_name="ALAN"))
    result = attach(store, bare)
    assert result.event == "new" and result.refused == "homonym"
    # the same, agreeing on the Sr's phone: that joins it
    phoned = add("utility/10", **person("JOHN", None, house_number="40",
                                        phone="+12175550199"))
    assert attach(store, phoned).identity_id == identity_of(store, household["sr"])
