"""Bulk matching (issue 14, item 5): every row reported, one decision, one audited act."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from find_fixtures import audit_rows, build_population, fixed_model, query

from idgraph.link.train import save_model
from idgraph.policy.profile import AccessDenied
from idgraph.policy.registry import Registry
from idgraph.search.find import Engine
from idgraph.search.index import SearchIndex
from idgraph.search.match import MatchError, MatchResult, load_mapping, match_list, row_dicts
from idgraph.store import Store

MAPPING = """fields:
  full_name: {column: NAME, order: first_last}
  dob: {column: BORN, format: "%m/%d/%Y"}
  street: ADDR
  zip: ZIP
  phone: PHONE
record_id: REF
"""

LIST = [
    # line, text, expected (status, identity), problem contains
    (2, 'R1,William ONeil,03/07/1984,,,', ("matched", "P1"), ""),
    (3, 'R2,Liz Taylor,,8 Bay St,77002,', ("matched", "P6"), ""),
    (4, 'R3,"Maria Garcia Lopez,11/02/1990,,,', ("malformed", None), "quote"),
    (5, 'R4,John Smith,13/45/1970,1 Pine Rd,75201,', ("matched", "P4"), "dob"),
    (6, 'R5,,,,,', ("malformed", None), "no value to match on"),
    (7, 'R6,Zebulon Quartermaine,01/01/2001,,,', ("none", None), ""),
    (8, 'R7,,,,,(713) 555-0103', ("matched", "P6"), ""),
    (9, 'R8,too,many,columns,in,this,row', ("malformed", None), "column"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Engine, Path]]:
    folder = tmp_path_factory.mktemp("match")
    store = build_population(folder / "data", canary=True)
    save_model(store, fixed_model(), {"fixed": True})
    index = SearchIndex.at(folder / "index")
    index.add(store)
    (folder / "map.yaml").write_text(MAPPING)
    (folder / "list.csv").write_text(
        "REF,NAME,BORN,ADDR,ZIP,PHONE\n" + "\n".join(t for _, t, _, _ in LIST) + "\n")
    yield store, Engine(store, index), folder
    store.close()


def _run(world: tuple[Store, Engine, Path], **kw: object) -> MatchResult:
    store, engine, folder = world
    mapping = load_mapping(folder / "map.yaml", folder / "list.csv")
    return match_list(store, query(**kw), folder / "list.csv", mapping,
                      registry=Registry(store), engine=engine)


def test_every_row_is_reported(world: tuple[Store, Engine, Path]) -> None:
    result = _run(world)
    got = {r.line: r for r in result.rows}
    assert sorted(got) == [line for line, *_ in LIST]
    for line, _, (status, identity), problem in LIST:
        row = got[line]
        assert row.status == status, (line, row)
        assert (row.hit.identity_id if row.hit else None) == identity, (line, row)
        if problem:
            assert any(problem in p for p in row.problems), (line, row.problems)
    assert got[2].row_id == "R1" and got[2].hit is not None and got[2].hit.score >= 0.5
    assert "first_name" in got[2].explanation_text()


def test_one_audited_act_lists_every_row(world: tuple[Store, Engine, Path]) -> None:
    store = world[0]
    Registry(store)
    before = len(audit_rows(store))
    result = _run(world)
    entries = audit_rows(store)[before:]
    (act,) = [e for e in entries if e["action"] == "match"]
    rows = {line: (iid, score) for line, iid, score in act["detail"]["rows"]}
    assert sorted(rows) == [line for line, *_ in LIST]
    assert rows[2][0] == "P1" and rows[7] == (None, None)
    assert {line for line, _ in act["detail"]["malformed"]} == {4, 6, 9}
    assert sorted(act["identity_ids"]) == sorted(
        {r.hit.identity_id for r in result.rows if r.hit})
    assert {e["action"] for e in entries} <= {"policy.decide", "match", "policy.change"}


POOL_SCOPES = [("DPPA-b1",), ("DPPA-b1", "GLBA-e8"), ("DPPA-b1", "FCRA-1681f")]


@pytest.mark.parametrize("claims", POOL_SCOPES)
def test_the_pool_matches_as_one_process_does(
    world: tuple[Store, Engine, Path], monkeypatch: pytest.MonkeyPatch, claims: tuple[str, ...]
) -> None:
    """Workers (index lookup and scoring in other processes, the edges read here) give
    the in-process results row for row, in order, under every scope; the progress
    callback advances per chunk (3 rows a chunk: several chunks in flight)."""
    store, engine, folder = world
    mapping = load_mapping(folder / "map.yaml", folder / "list.csv")
    monkeypatch.setattr("idgraph.search.match.TASK_ROWS", 3)

    def run(workers: int, progress: list[int]) -> MatchResult:
        return match_list(store, query(claims=claims), folder / "list.csv", mapping,
                          registry=Registry(store), engine=engine, workers=workers,
                          on_rows=progress.append)

    one: list[int] = []
    pooled: list[int] = []
    alone, together = run(1, one), run(2, pooled)
    assert list(row_dicts(together)) == list(row_dicts(alone))
    assert [r.hit for r in together.rows] == [r.hit for r in alone.rows]
    assert sum(pooled) == sum(one) and pooled == [3, 3, 2]
    assert any(r.status == "matched" for r in together.rows)


def test_output_rows(world: tuple[Store, Engine, Path]) -> None:
    out = list(row_dicts(_run(world)))
    assert [r["line"] for r in out] == [line for line, *_ in LIST]
    assert out[0]["identity_id"] == "P1" and float(out[0]["score"]) >= 0.5


def test_needs_a_case(world: tuple[Store, Engine, Path]) -> None:
    with pytest.raises(MatchError):
        _run(world, case_id=None)


def test_denied_list_is_audited(world: tuple[Store, Engine, Path]) -> None:
    with pytest.raises(AccessDenied):
        _run(world, principal="nobody")
    assert audit_rows(world[0], "match")[-1]["outcome"] == "deny"


BAD_MAPPINGS = [
    ("fields:\n  race: R\n", "race"),
    ("fields: []\n", "fields"),
    ("- not a mapping\n", "mapping"),
]


@pytest.mark.parametrize(("text", "named"), BAD_MAPPINGS)
def test_bad_mapping_is_refused(tmp_path: Path, text: str, named: str) -> None:
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(MatchError, match=named):
        load_mapping(tmp_path / "m.yaml", tmp_path / "list.csv")


def _cli(data: Path, *args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from idgraph.cli import app

    res = CliRunner().invoke(app, ["--data-dir", str(data), *args])
    return res.exit_code, res.output


WHO = ["--as", "gov", "--purpose", "criminal_investigation", "--claims", "DPPA-b1",
       "--case", "C1"]


def test_cli_search_associates_match(tmp_path: Path) -> None:
    """The three shells end to end on a data dir (store, model, index)."""
    import json

    data = tmp_path / "data"
    store = build_population(tmp_path / "src", canary=True, db=data / "idgraph.duckdb")
    save_model(store, fixed_model(), {"fixed": True})
    SearchIndex.at(data / "index").add(store)
    store.close()
    code, out = _cli(data, "search", "bill oneil", "--dob", "1984", *WHO, "--json")
    assert code == 0, out
    hits = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert hits[0]["identity_id"] == "P1"
    assert set(hits[0]) == {"identity_id", "score", "explanation", "fields"}
    code, out = _cli(data, "search", "maria garcia", "--where", "religion=x", *WHO)
    assert code == 3, out
    code, out = _cli(data, "associates", "P1", *WHO, "--json")
    assert code == 0, out
    (tmp_path / "map.yaml").write_text(MAPPING)
    (tmp_path / "list.csv").write_text(
        "REF,NAME,BORN,ADDR,ZIP,PHONE\n" + "\n".join(t for _, t, _, _ in LIST) + "\n")
    code, out = _cli(data, "match", str(tmp_path / "list.csv"), "--map",
                     str(tmp_path / "map.yaml"), "--out", str(tmp_path / "out.csv"), *WHO)
    assert code == 0, out
    assert "line 4:" in out and "8 rows" in out
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0].startswith("line,row_id,status") and len(lines) == 1 + len(LIST)
