"""Associates (issue 14, item 4): shared address, phone or vehicle, in scope, audited."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from find_fixtures import CANARY, add_record, audit_rows, link, new_store, query

from idgraph.policy.profile import AccessDenied
from idgraph.policy.registry import Registry
from idgraph.search.associates import associates
from idgraph.store import Store

HOME = {"house_number": "1", "street": "MAIN ST", "zip": "10001"}
PHONE = "+12125550101"
CANARY_PHONE = "+12125550199"


def _at(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1)


def build() -> Store:
    store = new_store()
    # the subject: a DMV record (home, phone, plate), a court record, a canary record
    s1 = add_record(store, "tx_dmv", "1", last_name="LOPEZ", phone=PHONE, plate="ABC123",
                    observed_at=_at(2024), **HOME)
    s2 = add_record(store, "court", "1", last_name="LOPEZ", case_number="CR-1")
    s3 = add_record(store, CANARY, "1", last_name="LOPEZ", phone=CANARY_PHONE)
    link(store, "S", [s1, s2, s3])
    # A1: lived at the home half a year later (dated, overlapping)
    link(store, "A1", [add_record(store, "utility", "1", last_name="DIAZ",
                                  observed_at=_at(2024, 7), **HOME)])
    # A2: had the subject's phone nine years earlier (dated, not overlapping)
    link(store, "A2", [add_record(store, "jail", "2", last_name="ROE", phone=PHONE,
                                  booked_at=_at(2015), released_at=_at(2015, 2))])
    # A3: the same plate, undated
    link(store, "A3", [add_record(store, "court", "3", last_name="KIM", plate="ABC123")])
    # A4: the home, known only from the canary source
    link(store, "A4", [add_record(store, CANARY, "4", last_name="CANARYX",
                                  observed_at=_at(2024), **HOME)])
    # A5: the home on a record outside A5's visible component (an isolated fragment)
    a5 = [add_record(store, "utility", f"5{i}", last_name="FRAG") for i in range(2)]
    link(store, "A5", a5)
    iso = add_record(store, "utility", "59", last_name="FRAG", observed_at=_at(2024), **HOME)
    store.execute("INSERT INTO identity_members VALUES ('A5', ?)", [iso])
    # A6: shares only the canary record's phone
    link(store, "A6", [add_record(store, "utility", "6", last_name="SIX", phone=CANARY_PHONE)])
    return store


def _ids(result: Any) -> dict[str, list[tuple[str, str, bool]]]:
    return {
        a.identity_id: [(e.kind, e.value, e.dated) for e in a.evidence]
        for a in result.associates
    }


SCOPES = [
    # claims, expected associates
    (("DPPA-b1",), {"A1": [("address", "1 MAIN ST 10001", True)],
                    "A3": [("vehicle", "ABC123", False)]}),
    (("DPPA-b1", "GLBA-e8"), {"A1": [("address", "1 MAIN ST 10001", True)],
                              "A3": [("vehicle", "ABC123", False)],
                              "A4": [("address", "1 MAIN ST 10001", True)],
                              "A6": [("phone", CANARY_PHONE, False)]}),
]


@pytest.mark.parametrize(("claims", "expected"), SCOPES)
def test_associates_within_scope(claims: tuple[str, ...], expected: dict[str, Any]) -> None:
    store = build()
    result = associates(store, query(claims=claims), "S")
    assert _ids(result) == expected
    text = json.dumps(result.to_dict())
    if "GLBA-e8" not in claims:
        for secret in ("CANARYX", CANARY_PHONE, "canary/", "A4", "A6"):
            assert secret not in text
        assert "canary/" not in json.dumps(audit_rows(store, "associates.read"))


def test_evidence_names_records_on_both_sides() -> None:
    store = build()
    result = associates(store, query(), "S")
    (a1,) = [a for a in result.associates if a.identity_id == "A1"]
    (ev,) = a1.evidence
    assert ev.subject_records == ("tx_dmv/1",) or ev.subject_records[0].startswith("tx_dmv/~")
    assert ev.associate_records == ("utility/1",)


def test_one_audited_act_with_the_associates() -> None:
    store = build()
    reg = Registry(store)  # loading the policy set is audited once (policy.change)
    before = len(audit_rows(store))
    result = associates(store, query(), "S", registry=reg)
    entries = audit_rows(store)[before:]
    (resp,) = [e for e in entries if e["action"] == "associates.read"]
    assert resp["outcome"] == "ok"
    assert resp["identity_ids"] == ["S", *(a.identity_id for a in result.associates)]
    assert resp["detail"]["associates"] == ["A1", "A3"]
    assert set(resp["record_ids"]) == {"tx_dmv/1", "utility/1", "court/3"}
    assert {e["action"] for e in entries} == {"policy.decide", "associates.read"}


def test_dates_decide_overlap() -> None:
    store = build()
    wide = associates(store, query(), "S", window=datetime(2025, 1, 1) - datetime(2014, 1, 1))
    assert "A2" in _ids(wide)


def test_denied_is_audited() -> None:
    store = build()
    with pytest.raises(AccessDenied):
        associates(store, query(case_id=None), "S")
    assert audit_rows(store, "associates.read")[-1]["outcome"] == "deny"
