"""The decision point and the registry's acts on each backend (``any_store``: a DuckDB
file, then a fresh PostgreSQL database): the same outcomes on both. Synthetic data only.
(The whole policy suite runs on PostgreSQL with ``IDGRAPH_POLICY_TESTS_ON=postgres``.)"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from policy_fixtures import add_record, add_source, add_verified, audit_rows, link, seed

from idgraph.cases import close_case, list_cases
from idgraph.policy.legal import reshaped_scopes
from idgraph.policy.notices import create_notices, list_notices, mark_sent
from idgraph.policy.profile import read_profile
from idgraph.policy.registry import Registry
from idgraph.policy.retention import apply_retention, list_runs, tombstoned
from idgraph.policy.sar import answering, close_sar, open_sar
from idgraph.schema import Query
from idgraph.store import Store

CANARY = "QUIXOTL ZANZIBARIUS"


@pytest.fixture
def store(any_store: Store) -> Store:
    seed(any_store)
    add_source(any_store, "canary", "credit_header", "US", ["GLBA"], 3650)
    a = add_record(any_store, "court", "1", full_name="ANA LOPEZ", case_number="CR-1")
    b = add_record(any_store, "jail", "1", full_name="ANA LOPEZ", facility="ALBANY COUNTY")
    c = add_record(any_store, "canary", "1", full_name=CANARY, phone="+15559990123")
    d = add_record(any_store, "tx_dmv", "1", full_name="ANA LOPEZ", plate="ABC123",
                   origin_jurisdiction="US-CA")
    link(any_store, "I", [a, b, c, d], [(a, c), (c, b), (a, d)])
    return any_store


def q(**kw: object) -> Query:
    base: dict[str, object] = {"principal": "gov", "purpose": "criminal_investigation",
                               "case_id": "C1", "claims": ("DPPA-b1",)}
    return Query.model_validate({**base, **kw})


def test_profile_cuts_the_canary(store: Store) -> None:
    prof = read_profile(store, q(), "I")
    assert CANARY not in json.dumps(prof.to_dict())
    assert set(prof.record_ids) == {"court/1", "tx_dmv/1"}  # jail joined only via canary
    prof = read_profile(store, q(claims=("DPPA-b1", "GLBA-e8")), "I")
    assert set(prof.record_ids) == {"court/1", "jail/1", "canary/1", "tx_dmv/1"}
    assert audit_rows(store, "profile.read")[-1]["outcome"] == "ok"


def test_registry_reads_segments_and_tables(store: Store) -> None:
    reg = Registry(store)
    assert "tx_dmv@US-CA" in reg.segments and reg.segments_of["tx_dmv"][0] == "tx_dmv"
    assert {"C1", "SA1", "P1"} <= set(reg.cases) and reg.cases["C1"].members == ("gov",)
    assert reg.users["gov"].org == "ice"
    assert Registry(store).policies.digest == reg.policies.digest  # recorded once
    assert len([e for e in audit_rows(store) if e["action"] == "policy.change"]) == 1


def test_legal_process_and_its_reshaped_scope(store: Store) -> None:
    lid = add_verified(store, type="judicial_warrant", number="W-1", issued=date(2026, 1, 1),
                       court="Albany County Court", judge="J. Doe", judge_appointment="state",
                       level="state", scope_identities=("I",), case_id="C1")
    assert reshaped_scopes(store) == set()
    lineage = ('INSERT INTO identity_lineage (run_id, identity_id, event, related, "at") '
               "VALUES (?, ?, ?, ?, ?)")
    store.execute(lineage, ["r0", "X", "merged", ["I"], datetime(2000, 1, 1)])  # before it
    store.execute(lineage, ["r1", "Z", "split", ["I"], datetime(2099, 1, 1)])  # split off I
    assert reshaped_scopes(store) == set()
    store.execute(lineage, ["r2", "X", "merged", ["I"], datetime(2099, 1, 1)])  # I merged away
    assert reshaped_scopes(store) == {lid}


def test_subject_access_request(store: Store) -> None:
    sar = open_sar(store, "I", case_id="SA1", requester="walk-in, ID checked",
                   received=date(2026, 1, 5), actor="rec")
    assert [s.sar_id for s in answering(store)] == [sar.sar_id]
    close_sar(store, sar.sar_id, actor="rec")
    assert answering(store) == []


def test_notices_and_closing(store: Store) -> None:
    (nid,) = create_notices(store, identity_id="I", org="ice", principal="gov", case_id="C1",
                            duties=[("il_sos", "il.sos.notice", "notice:3bd")],
                            at=datetime(2026, 11, 27, 9))
    (notice,) = list_notices(store)
    assert notice.notice_id == nid and notice.due_date == date(2026, 12, 2)
    mark_sent(store, nid, by="rec")
    assert list_notices(store) == []
    close_case(store, "C1", actor="gov")
    assert [c.case_id for c in list_cases(store, status="closed")] == ["C1"]


def test_retention_removes_and_tombstones(store: Store) -> None:
    run = apply_retention(store, as_of=datetime(2026, 3, 1), actor="rec")  # utility: 30 days
    assert run.removed == 0
    add_record(store, "utility", "1", full_name="ANA LOPEZ")  # ingested 2026-01-01
    link(store, "I", ["utility/1"], [("utility/1", "court/1")])
    run = apply_retention(store, as_of=datetime(2026, 3, 1), actor="rec")
    assert run.record_ids == ("utility/1",) and run.by_source == {"utility": 1}
    assert tombstoned(store, [("utility/1", "h-utility/1"), ("court/1", "h-court/1")]) == {
        ("utility/1", "h-utility/1")}
    assert store.scalar("SELECT count(*) FROM records WHERE record_id = 'utility/1'") == 0
    assert store.scalar("SELECT count(*) FROM identity_members "
                        "WHERE record_id = 'utility/1'") == 0
    assert store.scalar("SELECT count(*) FROM link_edges WHERE record_id_l = 'utility/1'") == 0
    assert [r.removed for r in list_runs(store)] == [0, 1]
