"""Issue 11, item 3: purpose laundering. Purposes are tied to case kinds, and a
subject-access read answers a registered request for that identity and nothing else.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from policy_fixtures import add_record, add_verified, audit_rows, link, new_store, seed
from typer.testing import CliRunner

from idgraph.cases import KINDS, open_case
from idgraph.cli import app
from idgraph.policy.acts import ActDenied
from idgraph.policy.catalogue import load_catalogue
from idgraph.policy.engine import allowed
from idgraph.policy.profile import AccessDenied, read_profile
from idgraph.policy.registry import Registry
from idgraph.policy.sar import SarError, close_sar, list_sars, open_sar
from idgraph.schema import Query
from idgraph.store import Store, open_store

IMM = "civil_immigration_enforcement"
CI = "criminal_investigation"
SA = "subject_access"
FED = {
    "level": "federal", "court": "S.D.N.Y.", "judge": "J. Roe", "judge_appointment": "article_iii"
}


def build() -> Store:
    """Identity X: a NY DMV record with an SSN and a court record; identity Y: a court record."""
    store = new_store()
    seed(store)
    x = add_record(store, "ny_dmv", "1", full_name="ANA LOPEZ", ssn="123456789")
    x2 = add_record(store, "court", "1", full_name="ANA LOPEZ", case_number="CR-1")
    y = add_record(store, "court", "2", full_name="BO RIVERA", case_number="CR-2")
    link(store, "X", [x, x2], [(x2, x)])
    link(store, "Y", [y], [])
    open_case(store, "IMREC", title="removal", kind="immigration", actor="rec")
    return store


def decide(store: Store, who: str, purpose: str, case: str, ident: str = "X", **kw: Any) -> Any:
    q = Query(principal=who, purpose=purpose, case_id=case, **kw)
    return allowed(Registry(store), q, ["ny_dmv", "court"], identity_ids=[ident])


def test_records_officer_cannot_declare_subject_access_under_an_immigration_case() -> None:
    """The reported attack: full DMV records with SSNs, no request on file, no notice."""
    store = build()
    dec = decide(store, "rec", SA, "IMREC", claims=("DPPA-b1",))
    assert not dec.any_permitted
    rules = dec.decisions["ny_dmv"].rules
    assert "base.purpose_case_kind" in rules and "base.subject_access_request" in rules
    with pytest.raises(AccessDenied):
        read_profile(store, Query(principal="rec", purpose=SA, case_id="IMREC",
                                  claims=("DPPA-b1",)), "X")
    assert "123456789" not in str(audit_rows(store))


def test_investigator_cannot_enforce_immigration_under_a_criminal_case() -> None:
    store = build()
    basis = add_verified(store, type="court_order", number="CO-1", issued=date(2026, 1, 1),
                         case_id="IM1", **FED)
    dec = decide(store, "gov", IMM, "C1", claims=("DPPA-b1",), basis=basis)
    assert not dec.any_permitted
    assert all("base.purpose_case_kind" in d.rules for d in dec.decisions.values())
    # the same order under an immigration case opens New York (with its notice duty)
    dec = decide(store, "gov", IMM, "IM1", claims=("DPPA-b1",), basis=basis)
    assert dec.decisions["ny_dmv"].permit and "ny.vtl201.notice" in dec.decisions["ny_dmv"].rules


# purpose, case (of the right organisation), fits?
FIT = [
    (CI, "C1", True),
    (CI, "IM1", False),
    (IMM, "IM1", True),
    (IMM, "C1", False),
    ("legal_proceeding", "IM1", False),  # no laundering immigration through "proceedings"
    ("locate_witness", "IM1", False),
    ("locate_witness", "C1", True),
    ("research", "C1", False),
    ("research", "R1", True),
    ("journalism", "C1", False),
]


@pytest.mark.parametrize(("purpose", "case", "fits"), FIT)
def test_purpose_needs_a_fitting_case_kind(purpose: str, case: str, fits: bool) -> None:
    store = build()
    d = decide(store, "gov", purpose, case).decisions["court"]
    assert ("base.purpose_case_kind" in d.rules) is (not fits)
    if fits:
        assert d.permit


def test_every_purpose_lists_known_case_kinds() -> None:
    cat = load_catalogue()
    for p in cat.purposes.values():
        assert p.case_kinds and set(p.case_kinds) <= set(KINDS), p.name
    assert cat.purposes[SA].case_kinds == (SA,)
    assert cat.purposes[IMM].case_kinds == ("immigration",)


def test_subject_access_answers_only_its_request() -> None:
    store = build()
    rec = Query(principal="rec", purpose=SA, case_id="SA1")
    with pytest.raises(AccessDenied) as err:
        read_profile(store, rec, "X")
    assert "base.subject_access_request" in err.value.rules
    sar = open_sar(store, "X", case_id="SA1", requester="the subject, passport checked",
                   received=date(2026, 1, 5), actor="rec")
    prof = read_profile(store, rec, "X")
    assert prof.record_ids == ("court/1",)  # no DPPA code claimed: the DMV record stays
    with pytest.raises(AccessDenied):  # the request is about X, not Y
        read_profile(store, rec, "Y")
    assert not decide(store, "rec", SA, "SA1", ident="Y").any_permitted
    # under another subject-access case the request does not count either
    open_case(store, "SA2", title="other request", kind=SA, actor="rec")
    assert not decide(store, "rec", SA, "SA2").any_permitted
    close_sar(store, sar.sar_id, actor="rec")
    with pytest.raises(AccessDenied):
        read_profile(store, rec, "X")
    actions = [e["action"] for e in audit_rows(store) if e["action"].startswith("sar.")]
    assert actions == ["sar.open", "sar.close"]


SAR_REFUSALS: list[tuple[str, str, type[Exception]]] = [
    # actor, case, error
    ("gov", "SA1", ActDenied),  # an investigator may not open a request
    ("rec", "IMREC", SarError),  # not a subject-access case
    ("rec", "P1", SarError),  # another organisation's case
    ("rec", "NOPE", SarError),
]


@pytest.mark.parametrize(("actor", "case", "error"), SAR_REFUSALS)
def test_sar_open_refused_and_audited(actor: str, case: str, error: type[Exception]) -> None:
    store = build()
    with pytest.raises(error):
        open_sar(store, "X", case_id=case, requester="r", received=date(2026, 1, 5),
                 actor=actor)
    assert list_sars(store) == []
    (entry,) = audit_rows(store, "sar.open")
    assert (entry["outcome"], entry["principal"]) == ("deny", actor)


def test_sar_cli(tmp_path: Path) -> None:
    with open_store(tmp_path / "idgraph.duckdb") as store:
        seed(store)
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path), "sar"]
    res = runner.invoke(app, [*base, "open", "X", "--case", "SA1", "--requester",
                              "subject in person", "--received", "2026-01-05", "--as", "rec"])
    assert res.exit_code == 0, res.output
    sar_id = res.output.strip()
    res = runner.invoke(app, [*base, "list", "--json", "--as", "rec"])
    assert res.exit_code == 0 and sar_id in res.output and '"open"' in res.output
    assert runner.invoke(app, [*base, "list", "--as", "gov"]).exit_code != 0
    assert runner.invoke(app, [*base, "close", sar_id, "--as", "rec"]).exit_code == 0
    with open_store(tmp_path / "idgraph.duckdb") as store:
        (sar,) = list_sars(store)
        assert sar.status == "closed"
        assert [e["action"] for e in audit_rows(store) if e["action"].startswith("sar.")] == [
            "sar.open", "sar.list", "sar.list", "sar.close"
        ]
