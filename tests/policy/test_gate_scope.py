"""Red-team, second pass: a basis and a purpose each confined to what they are for.

Each test is written as the attack; each failed on the code before the fix it names.

* A. A legal-process document attached to no case counted under *any* case of its
  organisation: a warrant obtained for a criminal matter served an immigration read
  (``LegalProcess.covers``; ``add_legal`` and ``legal add`` took no case). Now every
  document is registered to an open case of the registrant's organisation and counts
  only under it; a row from before (no case) counts for nothing.
* B. Purposes were not tied to organisation types: a government agency could declare
  ``journalism``, a private company ``civil_immigration_enforcement`` or
  ``criminal_investigation`` (``base.purpose_org_type``, catalogue ``org_types``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from policy_fixtures import SCAN, add_verified, audit_rows, new_store, seed
from typer.testing import CliRunner

from idgraph.cases import open_case
from idgraph.cli import app
from idgraph.policy.engine import allowed
from idgraph.policy.legal import LegalError, add_legal, get_legal, list_legal
from idgraph.policy.registry import Registry
from idgraph.schema import Query
from idgraph.store import Store, open_store

IMM = "civil_immigration_enforcement"
CI = "criminal_investigation"
ISSUED = date(2020, 1, 1)
FED = {
    "level": "federal", "court": "S.D.N.Y.", "judge": "J. Roe", "judge_appointment": "article_iii"
}


@pytest.fixture(scope="module")
def store() -> Store:
    s = new_store()
    seed(s)
    return s


def _ny(
    store: Store, purpose: str, case_id: str, basis: str | None
) -> tuple[bool, tuple[str, ...]]:
    q = Query(principal="gov", purpose=purpose, claims=("DPPA-b1",), basis=basis, case_id=case_id)
    d = allowed(Registry(store), q, ["ny_dmv"], identity_ids=["X"]).decisions["ny_dmv"]
    return d.permit, d.rules


# -- A. a document counts only under the case it was registered to ---------------------
def test_registration_without_a_case_is_refused(store: Store) -> None:
    missing: list[Any] = [None, "", "  "]
    for case_id in missing:
        with pytest.raises(LegalError, match="--case"):
            add_legal(store, type="judicial_warrant", number=f"NOCASE{case_id!r}",
                      issued=ISSUED, actor="gov", case_id=case_id, **FED)
    assert not [d for d in list_legal(store) if d.number.startswith("NOCASE")]


def test_cli_legal_add_without_case_is_refused(tmp_path: Path) -> None:
    seeded = open_store(tmp_path / "idgraph.duckdb")
    seed(seeded)
    seeded.close()
    args = ["--data-dir", str(tmp_path), "legal", "add", "--type", "judicial_warrant",
            "--number", "W-CLI", "--court", "S.D.N.Y.", "--judge", "J. Roe",
            "--judge-appointment", "article_iii", "--level", "federal",
            "--issued", "2026-01-05", "--as", "gov"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code != 0 and "--case" in res.output
    ok = CliRunner().invoke(app, [*args, "--case", "IM1"])
    assert ok.exit_code == 0, ok.output
    reopened = open_store(tmp_path / "idgraph.duckdb")
    try:
        docs = list_legal(reopened)
        assert [(d.number, d.case_id) for d in docs] == [("W-CLI", "IM1")]
    finally:
        reopened.close()


# (registered under, read under, purpose, permitted): the Article III warrant opens New
# York DMV data for immigration enforcement only under the immigration case it is for.
SCOPE: list[tuple[str, str, str, str, bool]] = [
    ("imm-warrant-imm-read", "IM1", "IM1", IMM, True),
    ("criminal-warrant-imm-read", "C1", "IM1", IMM, False),  # the attack
    ("imm-warrant-criminal-read", "IM1", "C1", CI, True),  # ny rule: no basis needed for CI
]


@pytest.mark.parametrize(("name", "registered", "read", "purpose", "permit"), SCOPE,
                         ids=[s[0] for s in SCOPE])
def test_document_counts_only_under_its_case(
    store: Store, name: str, registered: str, read: str, purpose: str, permit: bool
) -> None:
    doc = add_verified(store, type="judicial_warrant", number=f"SC-{name}", issued=ISSUED,
                       case_id=registered, **FED)
    ok, rules = _ny(store, purpose, read, doc)
    assert ok is permit, rules
    if not permit:
        assert "ny.vtl201.basis" in rules
    stored = get_legal(store, doc)
    assert stored is not None and stored.case_id == registered
    counts = stored.counts_for("ice", "ny_dmv", ["X"], read, date(2026, 3, 1))
    assert counts is (registered == read)


def test_document_of_no_case_from_an_old_store_counts_for_nothing(store: Store) -> None:
    """A verified Article III warrant stored with no case (before cases were required)
    opened New York DMV data for immigration enforcement under any case of ice."""
    store.execute(
        "INSERT INTO legal_process (legal_id, type, number, court, judge, level, issuer, issued, "
        "judge_appointment, org, registered_by, verified_by, verified_at, document_sha256) "
        "VALUES ('LP-oldnocase', 'judicial_warrant', 'OLD-1', 'S.D.N.Y.', 'J. Roe', 'federal', "
        "'court', DATE '2020-01-01', 'article_iii', 'ice', 'gov', 'lawyer', "
        "TIMESTAMP '2020-01-02', ?)",
        [SCAN],
    )
    old = get_legal(store, "LP-oldnocase")
    assert old is not None and old.verified and old.case_id is None
    for case_id in ("IM1", "C1"):
        assert not old.counts_for("ice", "ny_dmv", ["X"], case_id, date(2026, 3, 1))
    ok, rules = _ny(store, IMM, "IM1", "LP-oldnocase")
    assert not ok and "ny.vtl201.basis" in rules


def test_document_cannot_be_registered_to_another_orgs_or_a_closed_case(store: Store) -> None:
    with pytest.raises(LegalError, match="no case"):
        add_legal(store, type="judicial_warrant", number="X-ORG", issued=ISSUED, actor="gov",
                  case_id="P1", **FED)
    open_case(store, "IM-CLOSED", title="closed", kind="immigration", actor="gov")
    from idgraph.cases import close_case

    close_case(store, "IM-CLOSED", actor="gov")
    with pytest.raises(LegalError, match="closed"):
        add_legal(store, type="judicial_warrant", number="X-CLOSED", issued=ISSUED,
                  actor="gov", case_id="IM-CLOSED", **FED)
    refusals = [e for e in audit_rows(store, "legal.add") if e["outcome"] == "deny"]
    assert {e["case_id"] for e in refusals} >= {"P1", "IM-CLOSED"}


# -- B. a purpose is declared only by the kinds of organisation that pursue it ---------
FCRA_ACTIVITIES = ("employment_screening", "credit_decision", "insurance_underwriting",
                   "tenant_screening")
ORG_FIT: list[tuple[str, str, str, str, bool]] = [
    # name, who (org type), purpose, case kind, fits
    ("government-as-journalism", "gov", "journalism", "journalism", False),  # the attack
    ("private-as-immigration", "pi", IMM, "immigration", False),  # the attack
    ("private-as-criminal", "pi", CI, "criminal", False),  # the attack
    ("press-as-criminal", "rep", CI, "criminal", False),
    ("academic-as-immigration", "prof", IMM, "immigration", False),
    ("private-as-research", "pi", "research", "research", False),
    ("press-as-research", "rep", "research", "research", False),
    ("private-as-oversight", "pi", "oversight", "oversight", False),
    ("academic-as-fraud", "prof", "fraud_investigation", "fraud", False),
    ("academic-as-witness", "prof", "locate_witness", "civil", False),
    ("government-as-tenant-screening", "gov", "tenant_screening", "tenancy", False),
    ("government-as-insurance", "gov", "insurance_underwriting", "insurance", False),
    ("press-as-employment", "rep", "employment_screening", "employment", False),
    ("academic-as-credit", "prof", "credit_decision", "credit", False),
    # what fits
    ("government-criminal", "gov", CI, "criminal", True),
    ("government-immigration", "gov", IMM, "immigration", True),
    ("press-journalism", "rep", "journalism", "journalism", True),
    ("academic-research", "prof", "research", "research", True),
    ("government-research", "gov", "research", "research", True),
    ("private-fraud", "pi", "fraud_investigation", "fraud", True),
    ("government-fraud", "gov", "fraud_investigation", "fraud", True),
    ("press-witness", "rep", "locate_witness", "civil", True),
    ("academic-legal-proceeding", "prof", "legal_proceeding", "civil", True),
    ("private-employment", "pi", "employment_screening", "employment", True),
    ("government-employment", "gov", "employment_screening", "employment", True),
    ("government-credit", "gov", "credit_decision", "credit", True),
    ("private-insurance", "pi", "insurance_underwriting", "insurance", True),
    ("private-tenancy", "pi", "tenant_screening", "tenancy", True),
]


@pytest.fixture(scope="module")
def orgs(store: Store) -> Store:
    from idgraph.policy.users import add_user

    add_user(store, "rep", "investigator", "gazette", org_type="press", actor="root")
    add_user(store, "prof", "investigator", "uni", org_type="academic", actor="root")
    return store


@pytest.mark.parametrize(("name", "who", "purpose", "kind", "fits"), ORG_FIT,
                         ids=[o[0] for o in ORG_FIT])
def test_purpose_fits_the_organisation_type(
    orgs: Store, name: str, who: str, purpose: str, kind: str, fits: bool
) -> None:
    case_id = f"OT-{who}-{kind}"
    from idgraph.cases import get_case

    if get_case(orgs, case_id) is None:
        open_case(orgs, case_id, title=kind, kind=kind, actor=who)
    q = Query(principal=who, purpose=purpose, case_id=case_id)
    d = allowed(Registry(orgs), q, ["court"], identity_ids=["X"]).decisions["court"]
    assert ("base.purpose_org_type" in d.rules) is (not fits), d.rules
    if not fits:
        assert not d.permit
    elif purpose not in FCRA_ACTIVITIES:  # court records are not for an FCRA activity
        assert d.permit, d.rules


def test_every_purpose_lists_known_org_types_and_a_catalogue_without_them_fails(
    tmp_path: Path,
) -> None:
    from idgraph.policy.catalogue import load_catalogue
    from idgraph.policy.users import ORG_TYPES

    cat = load_catalogue()
    for p in cat.purposes.values():
        assert p.org_types and set(p.org_types) <= set(ORG_TYPES), p.name
    assert cat.purposes[IMM].org_types == ("government",)
    assert cat.purposes["journalism"].org_types == ("press",)
    bare = tmp_path / "cat.yaml"
    bare.write_text("purposes:\n  journalism:\n    case_kinds: [journalism]\n")
    with pytest.raises(ValueError, match="org_types"):
        load_catalogue(bare)
    bad = tmp_path / "bad.yaml"
    bad.write_text("purposes:\n  journalism:\n    case_kinds: [journalism]\n"
                   "    org_types: [Press]\n")
    with pytest.raises(ValueError, match="unknown org_types"):
        load_catalogue(bad)
