"""Red team (issue 11 item 7): segments under manifests an outsider writes.

* A licence file declared ``jurisdiction: IL`` + ``country_level: true`` (Israel), kind
  ``dmv``, no regimes and no origin column, holding Illinois licences (``dl_state`` IL):
  before this change every record sat in the Israel segment and Illinois' rules never
  saw it. A licence or ID card is a record of the state that issued it, so a dmv or
  id_card record's ``dl_state`` gives its origin when no origin column is mapped.
* A record that moves segment on re-ingest (origin column changed) is no longer seen
  through its old segment.
* Retention removing the last record of a segment removes the segment.
* An origin equal to the source's own jurisdiction is the source's own segment.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml
from policy_fixtures import LINK_DDL, link

from idgraph.cases import open_case
from idgraph.policy.profile import read_profile
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.policy.view import member_rows
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.sources import ingest_manifest
from idgraph.store import Store, open_store

IMM = "civil_immigration_enforcement"
HEAD = ["ID", "LAST", "FIRST", "DLN", "DL_STATE", "ORIGIN"]


def _source(folder: Path, sid: str, rows: list[tuple[str, ...]], **manifest: Any) -> Path:
    with open(folder / f"{sid}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEAD)
        w.writerows(rows)
    doc = {
        "id": sid, "title": sid, "collected_for": "licensing", "retention_days": 3650,
        "input": {"path": f"{sid}.csv", "format": "csv"}, "record_id": "ID",
        "fields": {"last_name": "LAST", "first_name": "FIRST", "dl_number": "DLN",
                   "dl_state": "DL_STATE"},
        **manifest,
    }
    p = folder / f"{sid}.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _store() -> Store:
    st = open_store(None)
    for stmt in LINK_DDL:
        st.execute(stmt)
    add_user(st, "root", "admin", "ops", org_type="government")
    add_user(st, "gov", "investigator", "ice", org_type="government", actor="root")
    open_case(st, "IM1", title="removal", kind="immigration", actor="gov")
    return st


def imm() -> Query:
    return Query(principal="gov", purpose=IMM, claims=("DPPA-b1",), case_id="IM1")


ESCAPES = [  # sid, manifest, rows, segment the records must land in, rule that withholds
    ("il_as_israel", {"kind": "dmv", "jurisdiction": "IL", "country_level": True},
     [("1", "RIVERA", "ANA", "R12345678901", "IL", "")], "US-IL", "il.sos"),
    ("il_ids_as_israel", {"kind": "id_card", "jurisdiction": "IL", "country_level": True},
     [("1", "RIVERA", "ANA", "R12345678901", "Illinois", "")], "US-IL", "il.sos"),
    ("il_bad_number", {"kind": "dmv", "jurisdiction": "IL", "country_level": True},
     [("1", "RIVERA", "ANA", "D1234567", "IL", "")], "US-IL", "il.sos"),
    ("ca_as_canada", {"kind": "dmv", "jurisdiction": "CA", "country_level": True},
     [("1", "RIVERA", "ANA", "B1234567", "CA", "")], "US-CA", "ca.dmv"),
    ("us_no_origin_col", {"kind": "dmv", "jurisdiction": "US", "regimes": ["DPPA"]},
     [("1", "RIVERA", "ANA", "B1234567", "ca ", "")], "US-CA", "ca.dmv"),
    # an origin column is mapped but blank on this row: the licence's state still decides
    ("us_blank_origin", {"kind": "dmv", "jurisdiction": "US", "regimes": ["DPPA"],
                         "fields": {"last_name": "LAST", "first_name": "FIRST",
                                    "dl_number": "DLN", "dl_state": "DL_STATE",
                                    "origin_jurisdiction": "ORIGIN"}},
     [("1", "RIVERA", "ANA", "B1234567", "CA", "")], "US-CA", "ca.dmv"),
]


@pytest.mark.parametrize(("sid", "manifest", "rows", "origin", "rule"), ESCAPES)
def test_licences_follow_their_issuing_state(
    tmp_path: Path, sid: str, manifest: dict[str, Any], rows: list[tuple[str, ...]],
    origin: str, rule: str,
) -> None:
    st = _store()
    assert ingest_manifest(st, _source(tmp_path, sid, rows, **manifest),
                           Settings(data_dir=tmp_path)).balanced
    seg = f"{sid}@{origin}"
    assert seg in Registry(st).segments
    link(st, "P1", [f"{sid}/1"], [])
    prof = read_profile(st, imm(), "P1")
    assert f"{sid}/1" not in prof.record_ids
    assert not prof.sources[seg].included
    assert any(r.startswith(rule) for r in prof.sources[seg].rules)


def test_origin_column_wins_and_own_origin_is_the_own_segment(tmp_path: Path) -> None:
    st = _store()
    fields = {"last_name": "LAST", "dl_number": "DLN", "dl_state": "DL_STATE",
              "origin_jurisdiction": "ORIGIN"}
    p = _source(tmp_path, "ca_dmv", [("1", "A", "B", "B1234567", "NV", "ca"),
                                     ("2", "A", "B", "B7654321", "CA", "")],
                kind="dmv", jurisdiction="US-CA", regimes=["DPPA"], fields=fields)
    ingest_manifest(st, p, Settings(data_dir=tmp_path))
    got = dict(st.fetchall("SELECT source_record_id, origin_jurisdiction FROM records"))
    assert got == {"1": None, "2": None}
    assert set(Registry(st).segments) == {"ca_dmv"}


def test_a_record_that_moves_segment_leaves_the_old_one(tmp_path: Path) -> None:
    st = _store()
    fields = {"last_name": "LAST", "origin_jurisdiction": "ORIGIN"}
    kw = {"kind": "dmv", "jurisdiction": "US", "regimes": ["DPPA"], "fields": fields}
    settings = Settings(data_dir=tmp_path)
    ingest_manifest(st, _source(tmp_path, "us_dl", [("1", "A", "B", "", "", "TX")], **kw),
                    settings)
    link(st, "P1", ["us_dl/1"], [])
    assert list(read_profile(st, imm(), "P1").record_ids) == ["us_dl/1"]
    ingest_manifest(st, _source(tmp_path, "us_dl", [("1", "A", "B", "", "", "CA")], **kw),
                    settings)
    assert set(Registry(st).segments) == {"us_dl", "us_dl@US-CA"}
    assert member_rows(st, "P1", ["us_dl@US-TX"], ["record_id"]) == []
    prof = read_profile(st, imm(), "P1")
    assert not prof.record_ids and "us_dl@US-TX" not in prof.records
    # retention removes the last record of the segment: the segment goes with it
    st.execute("DELETE FROM records")
    assert set(Registry(st).segments) == {"us_dl"}
