"""The read path: canary isolation, minimisation, notices, audit of every response."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from policy_fixtures import (
    add_record,
    add_source,
    add_verified,
    audit_rows,
    link,
    new_store,
    seed,
)

from idgraph.policy.notices import list_notices
from idgraph.policy.profile import AccessDenied, read_profile
from idgraph.policy.view import GraphMissing, components
from idgraph.schema import Query
from idgraph.store import Store

CANARY_NAME = "QUIXOTL ZANZIBARIUS"
CANARY_PHONE = "+15559990123"
CI = "criminal_investigation"


def build() -> Store:
    """Identity I: court record A and jail record B, linked ONLY through a canary record."""
    store = new_store()
    seed(store)
    add_source(store, "canary", "credit_header", "US", ["GLBA"], 3650)
    a = add_record(
        store,
        "court",
        "1",
        full_name="ANA LOPEZ",
        last_name="LOPEZ",
        case_number="CR-1",
        address="1 MAIN ST, ALBANY, NY 12207",
    )
    b = add_record(
        store,
        "jail",
        "1",
        full_name="ANA LOPEZ",
        last_name="LOPEZ",
        booked_at=datetime(2025, 5, 1),
        released_at=datetime(2025, 5, 2),
        facility="ALBANY COUNTY",
    )
    c = add_record(
        store,
        "canary",
        "1",
        full_name=CANARY_NAME,
        last_name="ZANZIBARIUS",
        phone=CANARY_PHONE,
        address="9 CANARY WHARF, NY 10001",
    )
    d = add_record(
        store,
        "tx_dmv",
        "1",
        full_name="ANA LOPEZ",
        last_name="LOPEZ",
        ssn="123456789",
        plate="ABC123",
        dob=date(1990, 1, 1),
    )
    link(store, "I", [a, b, c, d], [(a, c), (c, b), (a, d)])
    return store


def q(**kw: object) -> Query:
    base: dict[str, object] = {
        "principal": "gov",
        "purpose": CI,
        "case_id": "C1",
        "claims": ("DPPA-b1",),
    }
    base.update(kw)
    return Query.model_validate(base)


def test_canary_never_leaves_and_never_bridges() -> None:
    store = build()
    prof = read_profile(store, q(), "I")
    text = json.dumps(prof.to_dict())
    assert CANARY_NAME not in text and CANARY_PHONE not in text and "canary/1" not in text
    ids = set(prof.record_ids)
    # A and B were joined only through the canary: they must not both appear.
    assert not {"court/1", "jail/1"} <= ids
    assert ids == {"court/1", "tx_dmv/1"}  # the larger component (A-D)
    assert prof.sources["canary"].included is False
    assert "glba.exception" in prof.sources["canary"].rules
    reads = audit_rows(store, "profile.read")
    assert "canary/1" not in reads[-1]["record_ids"]
    assert CANARY_NAME not in json.dumps(audit_rows(store))


def test_canary_visible_when_permitted() -> None:
    store = build()
    prof = read_profile(store, q(claims=("DPPA-b1", "GLBA-e8")), "I")
    assert set(prof.record_ids) == {"court/1", "jail/1", "canary/1", "tx_dmv/1"}
    assert CANARY_PHONE in json.dumps(prof.to_dict())


def test_anchor_picks_component() -> None:
    store = build()
    prof = read_profile(store, q(), "I", anchor="jail/1")
    assert prof.record_ids == ("jail/1",)
    assert prof.events[0]["kind"] == "booking" and prof.events[0]["facility"] == "ALBANY COUNTY"


MINIMISE = [
    # claims, ssn shown on tx_dmv record, dob shown
    (("DPPA-b1",), True, True),
    (("DPPA-b2",), False, True),
]


@pytest.mark.parametrize(("claims", "ssn", "dob"), MINIMISE)
def test_profile_minimises(claims: tuple[str, ...], ssn: bool, dob: bool) -> None:
    store = build()
    prof = read_profile(store, q(claims=claims), "I")
    (dmv,) = prof.records["tx_dmv"]
    assert ("ssn" in dmv, "dob" in dmv) == (ssn, dob)
    assert "raw" not in dmv and "row_hash" not in dmv
    assert ("123456789" in json.dumps(prof.to_dict())) is ssn
    assert prof.vehicles[0]["plate"] == "ABC123"


def test_1681f_identifying_only() -> None:
    store = build()
    prof = read_profile(store, q(claims=("DPPA-b1", "FCRA-1681f")), "I")
    (rec,) = prof.records["canary"]
    assert rec["full_name"] == CANARY_NAME and "phone" not in rec
    assert "fcra.1681f_identifying_only" in prof.sources["canary"].rules


DENIED = [
    ("nobody", "C1", "base.principal_active"),
    ("gov", None, "base.case_open"),
]


@pytest.mark.parametrize(("who", "case_id", "rule"), DENIED)
def test_denied_read_is_audited(who: str, case_id: str | None, rule: str) -> None:
    store = build()
    with pytest.raises(AccessDenied) as err:
        read_profile(store, q(principal=who, case_id=case_id), "I")
    assert rule in err.value.rules
    decided = audit_rows(store, "policy.decide")
    assert len(decided) == 11 and all(e["outcome"] == "deny" for e in decided)
    assert audit_rows(store, "profile.read")[-1]["outcome"] == "deny"


def test_every_read_audits_decisions_and_response() -> None:
    store = build()
    prof = read_profile(store, q(), "I")
    decided = audit_rows(store, "policy.decide")
    assert {e["sources"][0] for e in decided} == set(prof.sources)
    read = audit_rows(store, "profile.read")[-1]
    assert read["outcome"] == "ok" and read["identity_ids"] == ["I"]
    assert sorted(read["record_ids"]) == sorted(prof.record_ids)


def test_ny_notice_created_for_immigration_disclosure() -> None:
    store = build()
    add_record(store, "ny_dmv", "1", full_name="ANA LOPEZ", last_name="LOPEZ")
    link(store, "J", ["ny_dmv/1"], [])
    basis = add_verified(
        store,
        type="court_order",
        number="CO-1",
        issued=date(2026, 1, 1),
        expires=date(2099, 1, 1),
        level="federal",
        court="E.D.N.Y.",
        judge="J. Roe",
        judge_appointment="article_iii",
        scope_identities=["J"],
        case_id="IM1",
    )
    at = datetime(2026, 11, 27, 10)  # a Friday
    imm = {"purpose": "civil_immigration_enforcement", "case_id": "IM1", "basis": basis}
    prof = read_profile(store, q(**imm, at=at), "J")
    assert prof.record_ids == ("ny_dmv/1",)
    (notice,) = list_notices(store)
    assert (notice.identity_id, notice.rule, notice.due_date) == (
        "J",
        "ny.vtl201.notice",
        date(2026, 11, 30),
    )
    assert notice.sources == ("ny_dmv",) and prof.notices == (notice.notice_id,)
    # The same warrant does not cover identity I.
    prof_i = read_profile(store, q(**imm, at=at), "I")
    assert "ny_dmv/1" not in prof_i.record_ids and len(list_notices(store)) == 1


def test_missing_graph_fails_clearly() -> None:
    store = new_store()
    seed(store)
    with pytest.raises(GraphMissing, match="run linkage first"):
        read_profile(store, q(), "I")


COMPONENTS = [
    (["a", "b", "c"], [("a", "b")], [["a", "b"], ["c"]]),
    (["a", "b", "c", "d"], [("a", "b"), ("c", "d"), ("b", "x")], [["a", "b"], ["c", "d"]]),
    (["a", "b", "c"], [("a", "b"), ("b", "c")], [["a", "b", "c"]]),
    ([], [("a", "b")], []),
]


@pytest.mark.parametrize(("nodes", "edges", "expected"), COMPONENTS)
def test_components(
    nodes: list[str], edges: list[tuple[str, str]], expected: list[list[str]]
) -> None:
    assert components(nodes, edges) == expected


EDGE_ROWS = [
    # (run of the edge, accepted, A and B linked?)
    ("r1", True, True),
    ("r1", False, False),  # rejected edge
    ("r0", True, False),  # edge of an older run
]


@pytest.mark.parametrize(("run", "accepted", "linked"), EDGE_ROWS)
def test_only_accepted_edges_of_latest_run(run: str, accepted: bool, linked: bool) -> None:
    store = new_store()
    seed(store)
    a = add_record(store, "court", "1", full_name="ANA LOPEZ")
    b = add_record(store, "jail", "1", full_name="ANA LOPEZ")
    link(store, "I", [a, b], [])
    store.execute("INSERT INTO link_runs (run_id, started_at, threshold) "
                  "VALUES ('r0', TIMESTAMP '2025-01-01', 0.9)")
    store.execute(
        "INSERT INTO link_edges VALUES (?, ?, ?, 0.9, 5.0, ?, '{}')", [run, a, b, accepted]
    )
    prof = read_profile(store, q(), "I")
    assert (len(prof.record_ids) == 2) is linked
