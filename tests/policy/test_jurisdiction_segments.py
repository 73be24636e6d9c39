"""Issue 11 item 7, written as the attack: rules must key on what a real deployment
declares, and the origin state's rules must follow each record.

* A national DMV compilation declared ``jurisdiction: US`` with a ``dl_state`` column:
  its California records are withheld for civil immigration enforcement
  (``ca.dmv.immigration``), its other records are not.
* ``regimes: [dppa]`` in lower case still triggers the DPPA rules.
* An Illinois ID-card file declared ``kind: id_card`` is caught by ``il.sos.basis``.
* ``jurisdiction: IL`` meant as Illinois is refused (IL is Israel).

Decisions are per segment: ``us_dl`` (records of the source's own jurisdiction) and
``us_dl@US-CA`` (its records from California), each a Cedar ``Source`` entity.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml
from policy_fixtures import audit_rows, link, new_store

from idgraph.cases import open_case
from idgraph.policy.engine import allowed
from idgraph.policy.explain import read_explanation
from idgraph.policy.profile import AccessDenied, read_profile
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.policy.view import member_rows
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.sources import ManifestError, ingest_manifest
from idgraph.store import Store, open_store

IMM = "civil_immigration_enforcement"
CI = "criminal_investigation"

US_DL_ROWS = [  # ID, LAST, FIRST, DL_STATE
    ("CA1", "RIVERA", "ANA", "CA"),
    ("CA2", "RIVERA", "ANA", "California"),
    ("TX1", "RIVERA", "ANA", "tx"),
    ("NY1", "RIVERA", "ANA", "US-NY"),
    ("US1", "RIVERA", "ANA", ""),  # no state given: the compilation's own (US)
]


def _source(folder: Path, sid: str, rows: list[tuple[str, ...]], **manifest: Any) -> Path:
    with open(folder / f"{sid}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "LAST", "FIRST", "DL_STATE"])
        w.writerows(rows)
    doc = {
        "id": sid, "title": sid, "collected_for": "licensing", "retention_days": 3650,
        "input": {"path": f"{sid}.csv", "format": "csv"}, "record_id": "ID",
        "fields": {"last_name": "LAST", "first_name": "FIRST"}, **manifest,
    }
    p = folder / f"{sid}.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("segments")
    st = new_store()
    settings = Settings(data_dir=folder)
    us_dl = _source(
        folder, "us_dl", US_DL_ROWS, kind="dmv", jurisdiction="US",
        regimes=["dppa"],  # lower case: must still trigger every DPPA rule
        fields={"last_name": "LAST", "first_name": "FIRST", "origin_jurisdiction": "DL_STATE"},
    )
    il_id = _source(
        folder, "il_id", [("IDC1", "RIVERA", "ANA", "IL")], kind="id_card",
        jurisdiction="US-IL", regimes=["DPPA", "IL-15-ILCS-335"],
    )
    for p in (us_dl, il_id):
        assert ingest_manifest(st, p, settings).balanced
    # a store registered before manifests were checked: regimes as someone typed them
    st.execute(
        "INSERT INTO sources (source_id, title, kind, jurisdiction, regimes, retention_days) "
        "VALUES ('old_dmv', 'old', 'dmv', 'US-TX', ?, 3650)", [["dppa"]]
    )
    add_user(st, "root", "admin", "ops", org_type="government")
    add_user(st, "gov", "investigator", "ice", org_type="government", actor="root")
    open_case(st, "IM1", title="removal", kind="immigration", actor="gov")
    open_case(st, "C1", title="robbery", kind="criminal", actor="gov")
    link(st, "P1", ["us_dl/TX1", "us_dl/US1", "us_dl/CA1"],
         [("us_dl/TX1", "us_dl/US1"), ("us_dl/US1", "us_dl/CA1")])
    return st


def imm(claims: tuple[str, ...] = ("DPPA-b1",)) -> Query:
    return Query(principal="gov", purpose=IMM, claims=claims, case_id="IM1")


def test_segments_are_cedar_sources_with_the_origin_jurisdiction(store: Store) -> None:
    reg = Registry(store)
    assert sorted(reg.segments) == [
        "il_id", "old_dmv", "us_dl", "us_dl@US-CA", "us_dl@US-NY", "us_dl@US-TX"]
    ca = reg.segments["us_dl@US-CA"]
    assert (ca.source_id, ca.kind, ca.jurisdiction, ca.regimes) == (
        "us_dl", "dmv", "US-CA", ("DPPA",))
    assert reg.segments["us_dl"].jurisdiction == "US"
    assert reg.segments_of["us_dl"][0] == "us_dl"
    assert reg.segments["old_dmv"].regimes == ("DPPA",)  # old store, read canonically


DECISIONS = [
    # query, segment, permit, rule that decides (for a deny) or must be among the rules
    (imm(), "us_dl@US-CA", False, "ca.dmv.immigration"),  # the compilation's CA licences
    (imm(), "us_dl@US-TX", True, None),
    (imm(), "us_dl", True, None),
    (imm(), "us_dl@US-NY", False, "ny.vtl201.basis"),  # NY's rule follows its records too
    (imm(), "il_id", False, "il.sos.basis"),  # an ID-card file is caught
    (imm(()), "us_dl", False, "dppa.permissible_use"),  # [dppa] still means DPPA
    (imm(()), "us_dl@US-TX", False, "dppa.permissible_use"),
    (imm(()), "il_id", False, "dppa.permissible_use"),
    (imm(()), "old_dmv", False, "dppa.permissible_use"),
    (Query(principal="gov", purpose=CI, claims=("DPPA-b1",), case_id="C1"),
     "us_dl@US-CA", True, None),  # California's rule is about immigration only
]


@pytest.mark.parametrize(("query", "segment", "permit", "rule"), DECISIONS)
def test_each_segment_is_decided_under_its_own_jurisdiction(
    store: Store, query: Query, segment: str, permit: bool, rule: str | None
) -> None:
    d = allowed(Registry(store), query).decisions[segment]
    assert d.permit is permit, d.rules
    if rule:
        assert rule in d.rules


def test_asking_for_a_source_decides_every_segment(store: Store) -> None:
    dec = allowed(Registry(store), imm(), ["us_dl"])
    assert set(dec.decisions) == {"us_dl", "us_dl@US-CA", "us_dl@US-NY", "us_dl@US-TX"}
    assert set(dec.permitted) == {"us_dl", "us_dl@US-TX"}
    assert dec.fields_for("us_dl@US-CA") == ()
    assert dec.fields_for("us_dl@US-TX")
    one = allowed(Registry(store), imm(), ["us_dl@US-CA"])
    assert list(one.decisions) == ["us_dl@US-CA"]


def test_view_cuts_records_by_segment(store: Store) -> None:
    rows = member_rows(store, "P1", ["us_dl", "us_dl@US-TX"], ["record_id"])
    assert [r["record_id"] for r in rows] == ["us_dl/TX1", "us_dl/US1"]
    assert member_rows(store, "P1", ["us_dl@US-CA"], ["record_id"]) == [
        {"record_id": "us_dl/CA1"}]


def test_profile_withholds_the_california_records_of_a_us_compilation(store: Store) -> None:
    before = len(audit_rows(store))
    prof = read_profile(store, imm(), "P1")
    assert set(prof.records) == {"us_dl", "us_dl@US-TX"}
    assert "us_dl/CA1" not in prof.record_ids
    assert sorted(prof.record_ids) == ["us_dl/TX1", "us_dl/US1"]
    ca = prof.sources["us_dl@US-CA"]
    assert not ca.included and "ca.dmv.immigration" in ca.rules
    assert prof.sources["us_dl@US-TX"].included and prof.sources["us_dl@US-TX"].records == 1
    out = prof.to_dict()
    assert "us_dl@US-CA" in out["sources"] and "us_dl@US-CA" not in out["records"]
    # the audit entries name segments
    entries = audit_rows(store)[before:]
    decide = {tuple(e["sources"]): e for e in entries if e["action"] == "policy.decide"}
    assert decide[("us_dl@US-CA",)]["outcome"] == "deny"
    assert "ca.dmv.immigration" in decide[("us_dl@US-CA",)]["rules"]
    assert decide[("us_dl@US-TX",)]["outcome"] == "permit"
    resp = next(e for e in entries if e["action"] == "profile.read")
    assert sorted(resp["sources"]) == ["us_dl", "us_dl@US-TX"]
    assert "us_dl@US-CA" in resp["detail"]["withheld"]


def test_other_purposes_still_see_the_california_records(store: Store) -> None:
    q = Query(principal="gov", purpose=CI, claims=("DPPA-b1",), case_id="C1")
    prof = read_profile(store, q, "P1")
    assert set(prof.records) == {"us_dl", "us_dl@US-TX", "us_dl@US-CA"}
    assert "us_dl/CA1" in prof.record_ids


def test_explanation_is_decided_on_the_records_segments(store: Store) -> None:
    with pytest.raises(AccessDenied) as exc:
        read_explanation(store, imm(), "us_dl/TX1", "us_dl/CA1")
    assert "ca.dmv.immigration" in exc.value.rules


def test_illinois_declared_as_il_is_refused(tmp_path: Path) -> None:
    p = _source(tmp_path, "il_sos", [("1", "A", "B", "")], kind="dmv", jurisdiction="IL",
                regimes=["DPPA"])
    with pytest.raises(ManifestError) as exc:
        ingest_manifest(open_store(None), p, Settings(data_dir=tmp_path))
    assert exc.value.key == "jurisdiction"
    assert "Israel" in str(exc.value) and "US-IL" in str(exc.value)
    assert str(p) in str(exc.value) or exc.value.path.endswith("il_sos.yaml")


def test_segments_follow_the_records(store: Store, tmp_path: Path) -> None:
    """A segment exists while records of it do (no table to keep in step)."""
    st = new_store()
    p = _source(tmp_path, "us_dl", [("CA1", "A", "B", "CA")], kind="dmv", jurisdiction="US",
                regimes=["DPPA"],
                fields={"last_name": "LAST", "origin_jurisdiction": "DL_STATE"})
    ingest_manifest(st, p, Settings(data_dir=tmp_path))
    assert set(Registry(st).segments) == {"us_dl", "us_dl@US-CA"}
    st.execute("DELETE FROM records")
    assert set(Registry(st).segments) == {"us_dl"}
