"""Person search (issue 14, item 2): fuzzy finding, canary isolation, refusal, audit."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from find_fixtures import Row, audit_rows, build_population, fixed_model, query

from idgraph.cases import open_case
from idgraph.link.train import save_model
from idgraph.policy.engine import allowed
from idgraph.policy.legal import add_legal, verify_legal
from idgraph.policy.notices import list_notices
from idgraph.policy.profile import AccessDenied
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.search.criteria import Criteria, CriteriaError, parse_criteria, readings
from idgraph.search.find import Engine, SearchResult, candidates, find
from idgraph.search.index import SearchIndex
from idgraph.search.scope import fragments, member_records, visible_records
from idgraph.search.scoring import (
    Levels,
    at_each_precision,
    prepare_fragments,
    rank_lazily,
    score_identities,
)
from idgraph.store import Store


@dataclass
class World:
    store: Store
    registry: Registry
    engine: Engine

    def search(self, criteria: Criteria, **kw: object) -> SearchResult:
        q = query(**kw)
        return find(self.store, q, criteria, registry=self.registry, engine=self.engine)


def _world(folder: Path, canary: bool) -> World:
    return _world_with(folder, (), canary=canary)


def _world_with(folder: Path, extra: Sequence[Row], canary: bool = True) -> World:
    store = build_population(folder / "data", canary=canary, extra=extra)
    save_model(store, fixed_model(), {"fixed": True})
    index = SearchIndex.at(folder / "index")
    index.add(store)
    return World(store, Registry(store), Engine(store, index))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = _world(tmp_path_factory.mktemp("with_canary"), canary=True)
    yield w
    w.store.close()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = _world(tmp_path_factory.mktemp("without_canary"), canary=False)
    yield w
    w.store.close()


FINDS = [
    # case, criteria, expected top identity
    ("exact", {"name": "william oneil", "dob": "1984-03-07"}, "P1"),
    ("nickname", {"name": "bill oneil", "dob": "1984"}, "P1"),
    ("typo", {"name": "wiliam o'neill", "dob": "1984-03-07"}, "P1"),
    ("swapped day and month", {"name": "william oneil", "dob": "07/03/1984"}, "P1"),
    ("order swapped", {"name": "oneil william", "dob": "1984"}, "P1"),
    ("comma order", {"name": "ONEIL, WILLIAM"}, "P1"),
    ("moved address", {"name": "william oneil", "address": "500 W 120th St", "zip": "10027"},
     "P1"),
    ("compound surname: one part", {"name": "maria lopez", "dob": "1990"}, "P2"),
    ("compound surname: whole", {"name": "maria garcia lopez"}, "P2"),
    ("namesake by birth date", {"name": "maria garcia", "dob": "01/15/1985"}, "P3"),
    ("nickname liz", {"name": "liz taylor", "zip": "77002"}, "P6"),
    ("phone only", {"phone": "(713) 555-0103"}, "P6"),
    ("plate only", {"plate": "xyz 9876"}, "P4"),
    ("month and year", {"name": "katherine johnson", "dob": "07/1995"}, "P7"),
    ("spelling variant", {"name": "jon smith", "dob": "1970-05-05"}, "P4"),
]


@pytest.mark.parametrize(("case", "given", "top"), FINDS, ids=[f[0] for f in FINDS])
def test_finds_the_person(world: World, case: str, given: dict[str, str], top: str) -> None:
    result = world.search(parse_criteria(**given))
    assert result.hits, case
    assert result.hits[0].identity_id == top, [(h.identity_id, h.score) for h in result.hits]
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)


def test_explanation_names_levels_of_given_criteria_only(world: World) -> None:
    result = world.search(parse_criteria(name="bill oneil", dob="1984"))
    hit = result.hits[0]
    comparisons = {e.comparison for e in hit.explanation}
    assert {"first_name", "last_name", "dob"} <= comparisons
    assert not comparisons & {"phone", "ssn", "plate", "address", "email", "dl_key"}
    first = next(e for e in hit.explanation if e.comparison == "first_name")
    assert "nickname" in first.level and first.weight > 0
    assert set(hit.to_dict()) == {"identity_id", "score", "explanation", "fields"}


CANARY_QUERIES = [
    {"name": "william oneil", "dob": "1984-03-07"},
    {"name": "william oneil"},
    {"phone": "2125550101"},
    {"plate": "ABC1234"},
    {"name": "liz taylor"},
    {"address": "500 W 120th St", "zip": "10027"},
]


@pytest.mark.parametrize("given", CANARY_QUERIES)
def test_a_withheld_source_changes_nothing(world: World, plain: World,
                                           given: dict[str, str]) -> None:
    """Under a purpose that may not use the canary, hits and scores are exactly those
    of a store without it."""
    criteria = parse_criteria(**given)
    with_canary = world.search(criteria)
    without = plain.search(criteria)
    assert [h.to_dict() for h in with_canary.hits] == [h.to_dict() for h in without.hits]
    text = json.dumps(with_canary.to_dict())
    assert "Q1" not in text and "canary/" not in text


def test_the_canary_is_used_when_permitted(world: World) -> None:
    """The test above can fail: with GLBA-e8 the canary's records score."""
    result = world.search(parse_criteria(name="william oneil", dob="1984-03-07"),
                          claims=("DPPA-b1", "GLBA-e8"))
    assert {"Q1", "P6"} <= {h.identity_id for h in result.hits}


PROTECTED = ["race", "ethnicity", "religion", "national origin", "Nationality", "ancestry"]


@pytest.mark.parametrize("attribute", PROTECTED)
def test_protected_criterion_refuses_and_is_audited(world: World, attribute: str) -> None:
    before = len(audit_rows(world.store))
    with pytest.raises(AccessDenied) as err:
        find(world.store, query(), parse_criteria(name="maria garcia"),
             registry=world.registry, engine=world.engine, extra={attribute: "x"})
    assert "base.filters_allowed" in err.value.rules
    entries = audit_rows(world.store)[before:]
    (resp,) = [e for e in entries if e["action"] == "search"]
    assert resp["outcome"] == "deny" and resp["identity_ids"] == []
    assert f"extra:{attribute}" in resp["detail"]["criteria"]
    decided = [e for e in entries if e["action"] == "policy.decide"]
    assert decided and all(e["outcome"] == "deny" for e in decided)


def test_lawful_but_unusable_criterion_is_refused(world: World) -> None:
    before = len(audit_rows(world.store))
    with pytest.raises(CriteriaError):
        find(world.store, query(), parse_criteria(name="maria garcia"),
             registry=world.registry, engine=world.engine, extra={"city": "AUSTIN"})
    (resp,) = [e for e in audit_rows(world.store)[before:] if e["action"] == "search"]
    assert resp["outcome"] == "refused"


def test_every_search_is_one_audited_act(world: World) -> None:
    before = len(audit_rows(world.store))
    result = world.search(parse_criteria(name="maria garcia", dob="1985"))
    entries = audit_rows(world.store)[before:]
    assert {e["action"] for e in entries} == {"policy.decide", "search"}
    (resp,) = [e for e in entries if e["action"] == "search"]
    assert resp["outcome"] == "ok"
    assert resp["identity_ids"] == [h.identity_id for h in result.hits]
    assert resp["detail"]["scores"] == [[h.identity_id, h.score] for h in result.hits]
    assert resp["detail"]["criteria"] == ["name", "dob"]
    assert len(resp["detail"]["criteria_sha256"]) == 64
    assert "GARCIA" not in json.dumps(entries).upper()  # values only as a digest


def test_denied_search_is_audited(world: World) -> None:
    with pytest.raises(AccessDenied):
        world.search(parse_criteria(name="maria garcia"), case_id=None)
    assert audit_rows(world.store, "search")[-1]["outcome"] == "deny"


IDENTIFYING_ONLY = ("DPPA-b1", "FCRA-1681f")  # the canary: names and addresses only


def test_withheld_fields_neither_show_nor_score(world: World) -> None:
    """FCRA 1681f: the canary's birth date may not leave, so it may not score either."""
    result = world.search(parse_criteria(name="william oneil", dob="1984-03-07"),
                          claims=IDENTIFYING_ONLY)
    q1 = next(h for h in result.hits if h.identity_id == "Q1")
    assert "dob" not in q1.fields and "birth_year" not in q1.fields
    dob = next(e for e in q1.explanation if e.comparison == "dob")
    assert (dob.level, dob.weight) == ("missing", 0.0)
    assert result.hits[0].identity_id == "P1"  # the DMV's birth date does score


def test_a_withheld_field_finds_nobody(world: World) -> None:
    """The canary's phone is P1's too: under 1681f only P1 is found by it."""
    result = world.search(parse_criteria(phone="2125550101"), claims=IDENTIFYING_ONLY)
    assert [h.identity_id for h in result.hits] == ["P1"]
    wide = world.search(parse_criteria(phone="2125550101"), claims=("DPPA-b1", "GLBA-e8"))
    assert {"P1", "Q1"} <= {h.identity_id for h in wide.hits}


def test_hit_fields_are_the_summary_only(world: World) -> None:
    result = world.search(parse_criteria(name="maria garcia lopez"))
    for h in result.hits:
        assert set(h.fields) <= {"full_name", "first_name", "middle_name", "last_name",
                                 "suffix", "dob", "birth_year"}
    top = result.hits[0]
    assert top.identity_id == "P2" and top.fields.get("last_name") == "GARCIA LOPEZ"
    assert top.fields.get("dob") == "1990-11-02"


PRECISIONS = [
    # dob typed, readings compared (dob_day, dob_month, birth_year)
    ("1984-03-07", [("19840307", "198403", 1984)]),
    ("03/1984", [(None, "198403", 1984), (None, None, 1984)]),
    ("1984", [(None, None, 1984)]),
]


@pytest.mark.parametrize(("dob", "compared"), PRECISIONS)
def test_a_month_is_also_compared_as_a_year(dob: str, compared: list[tuple[object, ...]]
                                            ) -> None:
    rows = at_each_precision(readings(parse_criteria(dob=dob)))
    assert [(r["dob_day"], r["dob_month"], r["birth_year"]) for r in rows] == compared


SCOPES = [("DPPA-b1",), ("DPPA-b1", "GLBA-e8"), ("DPPA-b1", "FCRA-1681f")]


@pytest.mark.parametrize("claims", SCOPES)
def test_the_view_from_the_index_is_the_stores(world: World, claims: tuple[str, ...]) -> None:
    """visible_records reads members from the index; the store's join gives the same."""
    segments = allowed(world.registry, query(claims=claims)).permitted
    ids = ["P1", "P2", "P6", "Q1", "P8"]
    from_index = visible_records(world.store, ids, segments, world.engine.index)
    from_store = visible_records(world.store, ids, segments)
    assert from_index.keys() == from_store.keys()
    for iid, rows in from_index.items():
        keys = set(rows[0]) if rows else set()
        assert [{k: r[k] for k in keys} for r in rows] == [
            {k: r[k] for k in keys} for r in from_store[iid]], iid


def test_a_disclosing_search_owes_the_sources_notice(tmp_path: Path) -> None:
    """N.Y. VTL 201: a New York DMV record that scores a hit for an immigration purpose
    is a disclosure; the notice is owed for the identity found (none for the others)."""
    ny = ("ny_dmv", "1", "P1", "WILLIAM", "", "ONEIL", "1984-03-07", "12 MAIN ST",
          "NEW YORK", "NY", "10027", "2125550777", "", "2024-01-01")
    w = _world_with(tmp_path, [ny])
    add_user(w.store, "lawyer", "counsel", "ice", org_type="government", actor="root")
    open_case(w.store, "IM1", title="removal", kind="immigration", actor="gov")
    doc = add_legal(w.store, actor="gov", type="court_order", number="CO-1",
                    issued=date(2026, 1, 1), expires=date(2099, 1, 1), level="federal",
                    court="E.D.N.Y.", judge="J. Roe", judge_appointment="article_iii",
                    scope_sources=["ny_dmv"], case_id="IM1")
    verify_legal(w.store, doc.legal_id, sha256="ab" * 32, actor="lawyer")
    reg = Registry(w.store)
    q = query(purpose="civil_immigration_enforcement", case_id="IM1", basis=doc.legal_id,
              at=datetime(2026, 11, 27, 10))
    result = find(w.store, q, parse_criteria(name="william oneil", phone="2125550777"),
                  registry=reg, engine=w.engine)
    assert result.hits[0].identity_id == "P1"
    (notice,) = list_notices(w.store)
    assert (notice.identity_id, notice.rule, notice.sources) == (
        "P1", "ny.vtl201.notice", ("ny_dmv",))
    assert result.notices == (notice.notice_id,)
    (resp,) = audit_rows(w.store, "search")[-1:]
    assert resp["detail"]["notices"] == [notice.notice_id]


def test_what_other_records_say_against_the_query_counts(tmp_path: Path) -> None:
    """T1 and T2 agree on the name alone on their utility records; T1's DMV record says
    1994, the query 2004: scored as a whole, T1 carries the disagreement, T2 ranks first
    though T1 < T2 by id."""
    empty = ("", "", "", "", "", "", "")
    rows: list[Row] = [
        ("utility", "71", "T1", "RONALD", "", "MARTINEZ", "", *empty),
        ("tx_dmv", "71", "T1", "RONALD", "", "MARTINEZ", "1994-04-11", *empty),
        ("utility", "72", "T2", "RONALD", "", "MARTINEZ", "", *empty),
    ]
    w = _world_with(tmp_path, rows)
    result = w.search(parse_criteria(name="ronald martinez", dob="2004-04-17"))
    assert [h.identity_id for h in result.hits[:2]] == ["T2", "T1"]
    assert result.hits[0].weight > result.hits[1].weight
    dob = next(e for e in result.hits[1].explanation if e.comparison == "dob")
    assert dob.weight < 0 and dob.source == "tx_dmv"


def test_the_identity_is_scored_as_a_whole(tmp_path: Path) -> None:
    """The birth date is on one record of C1 and the old address on another: the query
    giving both scores the combination (a max over records per comparison), above C2,
    whose one record has the birth date alone; each level names its record's source."""
    rows: list[Row] = [
        ("tx_dmv", "81", "C1", "DORIAN", "", "VASQUEZ", "1979-08-21", "", "", "", "", "",
         "", "2021-01-01"),
        ("utility", "81", "C1", "DORIAN", "", "VASQUEZ", "", "45 CEDAR LN", "AUSTIN", "TX",
         "73301", "", "", "2012-01-01"),
        ("tx_dmv", "82", "C2", "DORIAN", "", "VASQUEZ", "1979-08-21", "9 OTHER RD",
         "DALLAS", "TX", "75201", "", "", "2021-01-01"),
    ]
    w = _world_with(tmp_path, rows)
    result = w.search(parse_criteria(name="dorian vasquez", dob="1979-08-21",
                                     address="45 cedar ln", zip="73301"))
    top, second = result.hits[:2]
    assert (top.identity_id, second.identity_id) == ("C1", "C2")
    by_comparison = {e.comparison: e for e in top.explanation}
    assert by_comparison["dob"].weight > 0 and by_comparison["dob"].source == "tx_dmv"
    address = [e for e in top.explanation if e.source == "utility" and e.weight > 0]
    assert address, top.explanation
    assert set(top.to_dict()["explanation"][0]) == {"comparison", "level", "weight", "source"}


LEVEL_QUERIES = [
    {"name": "william oneil", "dob": "1984-03-07", "zip": "10027"},
    {"name": "bill o'neil", "dob": "03/1984", "phone": "2125550101"},
    {"name": "garcia lopez maria", "address": "9 elm st"},
    {"name": "jon smith", "dob": "1970", "plate": "XYZ9876"},
]


@pytest.mark.parametrize("given", LEVEL_QUERIES)
def test_cached_levels_are_the_scorers(world: World, given: dict[str, str]) -> None:
    """Levels (looked up by the values each comparison reads) equal Scorer.score's, on
    every record of the population, for every reading; also when the cache is warm."""
    segments = allowed(world.registry, query(claims=("DPPA-b1", "GLBA-e8"))).permitted
    scorer = world.engine.scorer(segments)
    ids = sorted({r[0] for r in world.store.fetchall("SELECT identity_id FROM identity_members")})
    records = [r for rows in visible_records(world.store, ids, segments).values() for r in rows]
    levels = Levels(scorer)
    for reading in at_each_precision(readings(parse_criteria(**given))):
        for rec in records * 2:
            got = levels.of(reading, rec)
            assert [h for h, _ in got] == list(scorer.score(reading, rec).levels)
            assert [null for _, null in got] == [scorer.is_missing(h) for h, _ in got]


@pytest.mark.parametrize("given", [*LEVEL_QUERIES, {"name": "maria garcia"}, {"name": "oneil"}])
@pytest.mark.parametrize("claims", SCOPES)
@pytest.mark.parametrize("top", [1, 2, 10])
def test_lazy_ranking_is_the_full_ranking(world: World, given: dict[str, str],
                                          claims: tuple[str, ...], top: int) -> None:
    """rank_lazily splits only the identities that may reach the first places: its hits
    are exactly those of scoring every candidate on all its fragments."""
    decision = allowed(world.registry, query(claims=claims))
    segments = decision.permitted
    criteria = parse_criteria(**given)
    rows = at_each_precision(readings(criteria))
    ids = candidates(world.engine, criteria, segments, top, decision)
    scorer = world.engine.scorer(segments)
    store, index = world.store, world.engine.index
    full = score_identities(scorer, decision, rows, ids, prepare_fragments(
        decision, fragments(store, member_records(store, ids, segments, index))), top)
    lazy = rank_lazily(scorer, decision, rows, ids, member_records(store, ids, segments, index),
                       lambda m: fragments(store, m), top)
    assert lazy == full
