"""Live attach of streams: chunks whose records find each other, durable before they
return, the local re-cluster under the batch rules, and the search index in step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from link_fixtures import AddRecord

from idgraph.link.attach import LiveLinker
from idgraph.link.ids import ID_KEY, new_id
from idgraph.link.judge import judge
from idgraph.link.resolve import register_after_resolve, resolve, unregister_after_resolve
from idgraph.link.train import TrainedModel
from idgraph.schema import segment_key
from idgraph.search.index import SearchIndex
from idgraph.settings import Settings
from idgraph.store import Store

SETTINGS = Settings(match_threshold=0.9)
ADDRESS: dict[str, Any] = {"house_number": "12", "street": "OAK ST", "zip": "12345",
                           "city": "SPRINGFIELD", "state": "IL", "phone": "+12175550100"}


def person(first: str, dob: date | None, **extra: Any) -> dict[str, Any]:
    return {"first_name": first, "last_name": "MILLER", "dob": dob, **ADDRESS, **extra}


def members(store: Store) -> dict[str, str]:
    return {str(r): str(i) for r, i in store.fetchall(
        "SELECT record_id, identity_id FROM identity_members")}


def nobody(_row: dict[str, Any]) -> list[str]:
    """A candidate source that knows none of the chunk's records (an index that holds
    them only after the chunk commits)."""
    return []


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


def test_records_of_one_chunk_find_each_other(
    store: Store, household: dict[str, str], add: AddRecord
) -> None:
    zed = {"first_name": "ZED", "last_name": "QUINN", "dob": date(1999, 1, 1),
           "ssn": "444556666", "house_number": "7", "street": "ELM ST", "zip": "54321"}
    first, second = add("voter/1", **zed), add("court/1", **{**zed, "first_name": "ZEDD"})
    linker = LiveLinker.from_store(store)
    results = linker.attach_many([first, second], nobody, chunk=10)
    assert [r.event for r in results] == ["new", "attach"]
    assert results[0].identity_id == results[1].identity_id
    seen = members(store)
    assert seen[first] == seen[second] == results[0].identity_id
    assert results[0].identity_id not in {seen[r] for r in household.values()}
    # named under the deployment's key, as batch names a new identity
    assert results[0].identity_id == new_id(first, set(), store.secret(ID_KEY))


@pytest.mark.parametrize("chunk", [1, 2, 100])  # 100: one insert of many rows
def test_attach_many_is_durable_when_it_returns(
    store: Store, household: dict[str, str], add: AddRecord, chunk: int
) -> None:
    rids = [add(f"voter/{k}", **person("JOHN", date(1980, 3, 4))) for k in range(6)]
    results = LiveLinker.from_store(store).attach_many(rids, chunk=chunk)
    other = store.sibling()  # a second connection sees committed data only
    try:
        seen = dict(other.fetchall(
            "SELECT record_id, identity_id FROM identity_members"))
        lineage = other.fetchall(
            "SELECT count(*) FROM identity_lineage WHERE event = 'attach'")
        edges = other.fetchall("SELECT count(*) FROM link_edges WHERE record_id_l LIKE "
                               "'voter/%' OR record_id_r LIKE 'voter/%'")
    finally:
        other.close()
    john = seen[household["john"]]
    assert [seen[r] for r in rids] == [john] * 6 == [r.identity_id for r in results]
    assert lineage == [(6,)] and edges == [(sum(r.edges for r in results),)]


def test_nothing_is_written_before_the_chunk_commits(
    store: Store, household: dict[str, str], add: AddRecord
) -> None:
    rid = add("voter/1", **person("JOHN", date(1980, 3, 4)))
    linker = LiveLinker.from_store(store)

    def look(row: dict[str, Any]) -> list[str]:
        assert store.fetchall("SELECT count(*) FROM identity_members WHERE record_id = ?",
                              [row["record_id"]]) == [(0,)]
        return []

    linker.attach_many([rid], look)
    assert rid in members(store)


# (name, new record, the household member it must not join, the rule)
REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("a Jr at the Sr's address and phone is not the Sr",
     person("JOHN", None, suffix="JR", house_number="40", phone="+12175550199"), "sr",
     "suffix"),
    ("a birth date no typo explains is not Mary",
     person("MARY", date(1961, 11, 23), phone="+12175550142"), "mary", "dob"),
    ("another SSN is not John", person("JOHN", date(1980, 3, 4), ssn="123999888"), "john",
     "ssn"),
]


@pytest.mark.parametrize(("name", "values", "not_with", "rule"), REFUSED,
                         ids=[c[0] for c in REFUSED])
def test_the_local_recluster_keeps_the_cannot_link_rules(
    store: Store, household: dict[str, str], add: AddRecord, name: str,
    values: dict[str, Any], not_with: str, rule: str,
) -> None:
    rid = add("voter/9", **values)
    before = members(store)
    result = LiveLinker.from_store(store).attach(rid)
    assert result.local, name  # the local re-cluster decided
    after = members(store)
    assert after[rid] != after[household[not_with]], name
    assert {r: after[r] for r in before} == before, name  # nobody else moved
    assert result.refused == rule, name


def test_the_local_recluster_honours_a_different_judgement(
    store: Store, household: dict[str, str], add: AddRecord
) -> None:
    rid = add("voter/9", **person("JOHN", date(1980, 3, 4)))
    judge(store, rid, household["john"], "different", by="tester", reason="not him")
    result = LiveLinker.from_store(store).attach(rid)
    assert result.local and result.event == "new" and result.refused == "judgement"
    assert members(store)[rid] != members(store)[household["john"]]


def test_a_record_splitting_an_identity_as_batch_does(
    store: Store, model: TrainedModel, add: AddRecord
) -> None:
    """A record without a birth date joined the 1999 ZED QUINN. A new record agreeing
    with it far more strongly, born 1960, takes it: batch's greedy pass merges the
    strongest pair first and the 1999 records can no longer join (their birth date).
    The larger part keeps the identity's id; the other is ``split`` from it."""
    zed = {"first_name": "ZED", "last_name": "QUINN", "house_number": "7",
           "street": "ELM ST", "zip": "54321", "phone": "+13125550111"}
    bare = add("dmv/1", **zed, ssn="444556666", middle_name="ALAN")
    b = add("voter/1", **zed, dob=date(1999, 1, 1))
    c = add("court/1", **zed, dob=date(1999, 1, 1))
    resolve(store, SETTINGS)
    ident = members(store)[bare]
    assert members(store)[c] == ident == members(store)[b]
    rid = add("utility/1", **zed, ssn="444556666", middle_name="ALAN", dob=date(1960, 5, 5))
    result = LiveLinker.from_store(store).attach(rid)
    seen = members(store)
    assert result.local and seen[bare] == seen[rid] != seen[c] == seen[b] == ident
    assert result.moved == (bare,) and result.event == "attach"
    events = store.fetchall("SELECT identity_id, event, related FROM identity_lineage "
                            "WHERE run_id = ? ORDER BY event", [result.run_id])
    assert (seen[rid], "split", [ident]) in events
    assert (seen[rid], "attach", [rid]) in events
    resolve(store, SETTINGS)  # batch agrees, ids and all
    assert members(store) == seen


def test_the_search_index_agrees_after_a_live_chunk(
    store: Store, household: dict[str, str], add: AddRecord, tmp_path: Path
) -> None:
    index = SearchIndex.at(tmp_path / "index")
    index.rebuild(store)

    def refresh(s: Store, ids: Sequence[str] | None) -> None:
        index.set_identities(s, ids)

    rids = [add("voter/1", **person("JOHN", date(1980, 3, 4))),
            add("voter/2", first_name="ZED", last_name="QUINN", dob=date(1999, 1, 1),
                ssn="444556666"),
            add("court/2", first_name="ZED", last_name="QUINN", dob=date(1999, 1, 1),
                ssn="444556666")]
    segments = [segment_key(s, o) for s, o in store.fetchall(
        "SELECT DISTINCT source_id, origin_jurisdiction FROM records")]

    def found(row: dict[str, Any]) -> list[str]:
        return [c.record_id for c in index.candidates(row, segments)]

    register_after_resolve(refresh)
    try:
        # member rows as the index keeps them: no read of the records
        linker = LiveLinker.from_store(store, rows=index.stored_rows)
        results = linker.attach_many(rids, found, chunk=3)
    finally:
        unregister_after_resolve(refresh)
    assert results[1].identity_id == results[2].identity_id
    assert results[0].identity_id == members(store)[household["john"]]
    assert index.check(store).empty, index.check(store).lines()


def test_hooks_run_once_per_commit_after_it(
    store: Store, household: dict[str, str], add: AddRecord
) -> None:
    rids = [add(f"voter/{k}", **person("JOHN", date(1980, 3, 4))) for k in range(5)]
    calls: list[tuple[list[str], int]] = []

    def hook(s: Store, ids: Sequence[str] | None) -> None:
        assert ids is not None
        other = s.sibling()  # sees committed data only
        try:
            committed = other.scalar(
                "SELECT count(*) FROM identity_members WHERE record_id LIKE 'voter/%'")
        finally:
            other.close()
        calls.append((sorted(ids), committed))

    register_after_resolve(hook)
    try:
        LiveLinker.from_store(store).attach_many(rids, chunk=3)
    finally:
        unregister_after_resolve(hook)
    assert calls == [(rids[:3], 3), (rids[3:], 5)]
