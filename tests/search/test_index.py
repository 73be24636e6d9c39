"""The search index: candidates through the normalisers' keys, the segment scope, and
keeping the index in step with ingest, resolve and retention (``check`` names drift)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from index_fixtures import add_person
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.link.resolve import after_resolve
from idgraph.link.score import input_rows
from idgraph.policy.retention import apply_retention
from idgraph.search.criteria import parse_criteria
from idgraph.search.documents import document, select
from idgraph.search.index import SearchIndex, SearchIndexError
from idgraph.search.sync import install_hooks, uninstall_hooks
from idgraph.settings import Settings
from idgraph.sources.ingest import ingest_paths
from idgraph.store import Store, open_store

# record id -> (identity, origin jurisdiction, raw values): synthetic people and
# namesakes who must not outrank them
PEOPLE: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "dmv/1": ("P-1", None, {"name": "William ONeil", "dob": "1984-03-07",
                            "address": "12 Main St, Springfield IL 62704",
                            "phone": "(217) 555-0134", "plate": "ABC1234"}),
    "dmv/2": ("P-2", None, {"name": "Maria Garcia-Lopez", "dob": "1990-11-02",
                            "address": "40 Oak Ave, Austin TX 78701", "ssn": "212-45-6781"}),
    "court/3": ("P-3", None, {"name": "Katherine Smyth", "dob": "1975-07-03",
                              "address": "9 Elm St, Aurora IL 60506"}),
    "court/4": ("P-4", None, {"name": "Navarrete Ramon", "dob": "1966-05-20",
                              "order": "last_first"}),
    "dmv/5": ("P-5", None, {"name": "Juan de la Cruz", "dob": "1970-01-15",
                            "dl": "A1234567", "dl_state": "CA"}),
    "dmv/6": ("P-6", None, {"name": "Wanda ONeil", "dob": "1952-09-09",
                            "address": "12 Main St, Springfield IL 62704"}),
    "dmv/7": ("P-7", None, {"name": "William Oakley", "dob": "1984-08-01"}),
    "court/8": ("P-8", None, {"name": "Maria Garcia", "dob": "1961-04-04"}),
    "court/9": ("P-9", None, {"name": "Kathy Smith", "dob": "1999-12-30"}),
    "dmv/10": ("P-1", "US-CA", {"name": "Bill O'Neil", "dob": "1984",
                                "address": "300 Pine Rd, Fresno CA 93650"}),
}
# a segment no query below may read: holds the exact values the queries ask for
CANARY: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "canary/1": ("P-1", None, {"name": "William ONeil", "dob": "1984-03-07",
                               "phone": "(217) 555-0134", "plate": "ABC1234"}),
    "canary/2": ("P-99", None, {"name": "Maria Garcia-Lopez", "dob": "1990-11-02",
                                "ssn": "212-45-6781"}),
}
PERMITTED = {"dmv", "court", "dmv@US-CA"}


def _fill(store: Store, people: dict[str, tuple[str, str | None, dict[str, Any]]]) -> None:
    for rid, (identity, origin, raw) in people.items():
        add_person(store, rid, identity=identity, origin=origin, **raw)


@pytest.fixture()
def store() -> Iterator[Store]:
    s = open_store(None, threads=1, memory_limit="1GB")
    _fill(s, PEOPLE)
    _fill(s, CANARY)
    yield s
    s.close()


@pytest.fixture()
def index(store: Store, tmp_path: Path) -> SearchIndex:
    ix = SearchIndex.at(tmp_path / "index")
    ix.rebuild(store)
    return ix


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SearchIndex, SearchIndex]]:
    """Read-only: the index of PEOPLE and CANARY, and an index in which the canary never
    was (PEOPLE only)."""
    stores = []
    indexes = []
    for name, people in (("with", [PEOPLE, CANARY]), ("without", [PEOPLE])):
        s = open_store(None, threads=1, memory_limit="1GB")
        for group in people:
            _fill(s, group)
        ix = SearchIndex.at(tmp_path_factory.mktemp(name) / "index")
        ix.rebuild(s)
        stores.append(s)
        indexes.append(ix)
    yield indexes[0], indexes[1]
    for s in stores:
        s.close()


# (criteria, the record that must come first, why)
FOUND: list[tuple[dict[str, str], str, str]] = [
    ({"name": "Bill O'Neil", "dob": "1984-03-07"}, "dmv/1", "nickname"),
    ({"name": "Wiliam O'Neal", "dob": "1984"}, "dmv/1", "typos (phonetic key)"),
    ({"name": "ONeil William", "dob": "03/07/1984"}, "dmv/1", "name order swapped"),
    ({"name": "Maria Lopez", "dob": "1990-11-02"}, "dmv/2", "compound surname part"),
    ({"name": "Garcia Lopez, Maria"}, "dmv/2", "compound surname, comma"),
    ({"name": "Katherine Smyth", "dob": "1975-03-07"}, "court/3", "day and month swapped"),
    ({"name": "Cathy Smith", "dob": "1975-07-03"}, "court/3", "nickname and spelling"),
    ({"name": "Ramon Navarrete", "dob": "1966"}, "court/4", "record written surname first"),
    ({"name": "Juan Cruz", "dob": "1970-01"}, "dmv/5", "particle surname part"),
    ({"name": "William O'Neil", "dob": "1984-03-07",
      "address": "77 River Rd, Dayton OH 45402"}, "dmv/1", "moved: name and dob only"),
    ({"phone": "217.555.0134"}, "dmv/1", "phone"),
    ({"plate": "abc 1234"}, "dmv/1", "plate"),
    ({"identifier": "212 45 6781"}, "dmv/2", "SSN"),
    ({"identifier": "A1234567"}, "dmv/5", "licence number, no state"),
    ({"identifier": "CA:A1234567"}, "dmv/5", "licence number with state"),
    ({"address": "12 Main Street", "name": "Wanda O'Neil"}, "dmv/6", "address and name"),
]


@pytest.mark.parametrize(("given", "expected", "why"), FOUND, ids=[f[2] for f in FOUND])
def test_candidates_found(shared: tuple[SearchIndex, SearchIndex], given: dict[str, str],
                          expected: str, why: str) -> None:
    found = shared[0].candidates(parse_criteria(**given), PERMITTED, limit=5)
    assert found and found[0].record_id == expected, (why, found)


def test_candidate_fields(shared: tuple[SearchIndex, SearchIndex]) -> None:
    found = shared[0].candidates(parse_criteria(name="Bill ONeil", dob="1984"), PERMITTED)
    by_id = {c.record_id: c for c in found}
    assert by_id["dmv/10"].segment == "dmv@US-CA" and by_id["dmv/10"].identity_id == "P-1"
    # each identity's best record before any identity's second record
    identities = [c.identity_id for c in found]
    firsts = identities[: len(set(identities))]
    assert len(set(firsts)) == len(firsts)


def test_segment_scope(shared: tuple[SearchIndex, SearchIndex]) -> None:
    """Only permitted segments come back; an empty scope finds nothing."""
    index = shared[0]
    query = parse_criteria(name="William ONeil", dob="1984-03-07", phone="2175550134")
    assert {c.segment for c in index.candidates(query, {"dmv@US-CA"})} == {"dmv@US-CA"}
    assert index.candidates(query, set()) == []
    assert any(c.segment == "canary" for c in index.candidates(query, {"canary"}))


CANARY_QUERIES = [dict(given) for given, _, _ in FOUND] + [
    {"name": "Maria Garcia-Lopez", "identifier": "212456781", "dob": "1990-11-02"},
]


@pytest.mark.parametrize("given", CANARY_QUERIES)
def test_canary_changes_nothing(shared: tuple[SearchIndex, SearchIndex],
                                given: dict[str, str]) -> None:
    """The candidates (ids, order and scores) of a query that may not read the canary
    are those of an index in which the canary never was."""
    index, without = shared
    query = parse_criteria(**given)
    with_canary = index.candidates(query, PERMITTED, limit=50)
    assert with_canary == without.candidates(query, PERMITTED, limit=50)
    assert all(not c.record_id.startswith("canary/") for c in with_canary)


def test_limit_and_query_forms(shared: tuple[SearchIndex, SearchIndex]) -> None:
    index = shared[0]
    query = parse_criteria(name="Maria Garcia")
    assert len(index.candidates(query, PERMITTED, limit=1)) == 1
    from idgraph.search.criteria import normalised, readings

    assert index.candidates(readings(query), PERMITTED) == index.candidates(query, PERMITTED)
    assert index.candidates(normalised(query), PERMITTED)


def test_rows_are_the_scorers_input_rows(store: Store, index: SearchIndex) -> None:
    """rows(): an identity's members in the permitted segments, each exactly the row the
    scorer reads from the store; a withheld segment's members are not there."""
    got = index.rows(["P-1", "P-2", "P-404"], PERMITTED)
    assert set(got) == {"P-1", "P-2"}
    assert [r["record_id"] for r in got["P-1"]] == ["dmv/1", "dmv/10"]  # not canary/1
    for rows in got.values():
        want = input_rows(store, [r["record_id"] for r in rows])
        for have, row in zip(rows, want, strict=True):
            assert {k: have[k] for k in row} == row
            assert have["segment"] in PERMITTED and have["full_name"]
    assert index.rows(["P-1"], {"canary"})["P-1"][0]["record_id"] == "canary/1"
    assert index.rows(["P-1"], set()) == {}


# --- check ------------------------------------------------------------------------------


def _plant_removed_doc(store: Store, ix: SearchIndex) -> tuple[str, str]:
    ix.remove(["dmv/2"])
    return "missing", "dmv/2"


def _plant_unindexed_record(store: Store, ix: SearchIndex) -> tuple[str, str]:
    add_person(store, "dmv/77", name="Nora Quist", dob="1991")
    return "missing", "dmv/77"


def _plant_identity(store: Store, ix: SearchIndex) -> tuple[str, str]:
    store.execute("UPDATE identity_members SET identity_id = 'P-42' WHERE record_id = 'dmv/6'")
    return "identity", "dmv/6"


def _plant_value(store: Store, ix: SearchIndex) -> tuple[str, str]:
    store.execute("UPDATE records SET zip = '10027' WHERE record_id = 'court/3'")
    return "values", "court/3"


def _plant_gone_record(store: Store, ix: SearchIndex) -> tuple[str, str]:
    store.execute("DELETE FROM records WHERE record_id = 'court/9'")
    return "extra", "court/9"


def _plant_segment(store: Store, ix: SearchIndex) -> tuple[str, str]:
    store.execute("UPDATE records SET origin_jurisdiction = 'US-NV' "
                  "WHERE record_id = 'dmv/7'")
    return "segment", "dmv/7"


PLANTS = [_plant_removed_doc, _plant_unindexed_record, _plant_identity, _plant_value,
          _plant_gone_record, _plant_segment]


@pytest.mark.parametrize("plant", PLANTS, ids=[p.__name__ for p in PLANTS])
def test_check_names_planted_difference(store: Store, index: SearchIndex, plant: Any) -> None:
    assert index.check(store).empty
    kind, rid = plant(store, index)
    diff = index.check(store)
    assert not diff.empty
    assert getattr(diff, kind) == (rid,)
    assert sum(diff.counts().values()) == 1
    assert any(rid in line for line in diff.lines())
    index.rebuild(store)
    assert index.check(store).empty


def test_set_identities_rewrites_changed_only(store: Store, index: SearchIndex) -> None:
    store.execute("UPDATE identity_members SET identity_id = 'P-42' WHERE record_id = 'dmv/6'")
    assert index.set_identities(store) == 1
    assert index.check(store).empty
    assert index.set_identities(store) == 0
    found = index.candidates(parse_criteria(name="Wanda ONeil"), PERMITTED, limit=1)
    assert found[0].identity_id == "P-42"


def test_duplicate_documents_are_named(store: Store, index: SearchIndex) -> None:
    with index._writer() as writer:  # a document written twice (a broken writer)
        for row in select(store, True, ["dmv/7"]):
            writer.add_document(document(row))
    assert index.check(store).duplicate == ("dmv/7",)


def test_other_layout_is_refused(tmp_path: Path) -> None:
    ix = SearchIndex.at(tmp_path / "index")
    (ix.path / "idgraph-index.json").write_text('{"layout": 0}')
    with pytest.raises(SearchIndexError, match="rebuild"):
        SearchIndex.at(tmp_path / "index")
    assert not ix.check(open_store(None)).empty
    assert SearchIndex.create(tmp_path / "index").count() == 0


# --- hooks: ingest, resolve, retention ------------------------------------------------------

MANIFEST = """id: clinic
title: test clinic (synthetic)
kind: other
jurisdiction: US-IL
regimes: []
collected_for: testing
retention_days: 30
input:
  path: clinic.csv
  format: csv
record_id: ID
fields:
  full_name: NAME
  dob: DOB
  zip: ZIP
"""


@pytest.fixture()
def hooks() -> Iterator[None]:
    install_hooks()
    yield
    uninstall_hooks()


def _ingest(folder: Path, store: Store, rows: list[str]) -> None:
    (folder / "clinic.yaml").write_text(MANIFEST)
    (folder / "clinic.csv").write_text("ID,NAME,DOB,ZIP\n" + "\n".join(rows) + "\n")
    ingest_paths(store, [folder], Settings(data_dir=folder, ingest_workers=0))


def test_ingest_keeps_index_in_step(tmp_path: Path, hooks: None) -> None:
    store = open_store(tmp_path / "idgraph.duckdb", threads=1, memory_limit="1GB")
    _ingest(tmp_path, store, ["1,Ada Quist,1980-02-03,62704", "2,Bo Lind,1970-01-01,10027"])
    ix = SearchIndex.of_store(store)
    assert ix is not None and ix.count() == 2 and ix.check(store).empty
    query = parse_criteria(name="Ada Quist")
    assert [c.record_id for c in ix.candidates(query, {"clinic"})] == ["clinic/1"]
    # a changed row: its new version replaces the old document; a new row is added
    _ingest(tmp_path, store, ["1,Ada Quist-Berg,1980-02-03,62704",
                              "2,Bo Lind,1970-01-01,10027", "3,Cy Ott,1990-05-05,60506"])
    assert ix.count() == 3 and ix.check(store).empty
    assert ix.candidates(parse_criteria(name="Ada Berg"), {"clinic"})[0].record_id == "clinic/1"
    # a resolve (or a live attach) refreshes identity ids through link's hook list
    store.execute("INSERT INTO identity_members VALUES ('P-A', 'clinic/1')")
    after_resolve(store)
    assert ix.check(store).empty
    assert ix.candidates(query, {"clinic"})[0].identity_id == "P-A"
    store.execute("UPDATE identity_members SET identity_id = 'P-B'")
    after_resolve(store, ["clinic/1", "clinic/2"])  # clinic/2: no identity, unchanged
    assert ix.candidates(query, {"clinic"})[0].identity_id == "P-B"
    assert ix.check(store).empty and ix.count() == 3
    # retention removes its records from the index in the same run
    run = apply_retention(store, as_of=datetime(2100, 1, 1))
    assert run.removed == 3
    assert ix.count() == 0 and ix.check(store).empty
    store.close()


def test_first_ingest_into_old_data_dir_builds_whole_index(tmp_path: Path) -> None:
    store = open_store(tmp_path / "idgraph.duckdb", threads=1, memory_limit="1GB")
    _ingest(tmp_path, store, ["1,Ada Quist,1980-02-03,62704"])  # no hooks: no index
    assert SearchIndex.of_store(store) is None
    install_hooks()
    try:
        _ingest(tmp_path, store, ["1,Ada Quist,1980-02-03,62704", "2,Bo Lind,1970,10027"])
    finally:
        uninstall_hooks()
    ix = SearchIndex.of_store(store)
    assert ix is not None and ix.count() == 2 and ix.check(store).empty
    store.close()


def test_cli_check_and_rebuild(tmp_path: Path, hooks: None) -> None:
    store = open_store(tmp_path / "idgraph.duckdb", threads=1, memory_limit="1GB")
    _ingest(tmp_path, store, ["1,Ada Quist,1980-02-03,62704", "2,Bo Lind,1970,10027"])
    store.execute("UPDATE records SET zip = '60506' WHERE record_id = 'clinic/2'")
    store.close()
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path), "index"]
    bad = runner.invoke(app, [*args, "check"])
    assert bad.exit_code == 1 and "clinic/2" in bad.output and "other values" in bad.output
    as_json = runner.invoke(app, [*args, "check", "--json"])
    assert as_json.exit_code == 1 and '"values": ["clinic/2"]' in as_json.output
    assert runner.invoke(app, [*args, "rebuild"]).exit_code == 0
    good = runner.invoke(app, [*args, "check"])
    assert good.exit_code == 0 and "agrees" in good.output
