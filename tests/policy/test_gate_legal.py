"""Issue 11, items 1, 2 and 7 (kinds): legal process that cannot be faked.

Each test is written as the attack: it failed on the code before the fix.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from policy_fixtures import SCAN, add_source, add_verified, audit_rows, new_store, seed
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.policy.acts import ActDenied
from idgraph.policy.engine import allowed
from idgraph.policy.legal import LegalError, add_legal, get_legal, list_legal, verify_legal
from idgraph.policy.registry import Registry
from idgraph.schema import Query
from idgraph.store import Store, open_store

IMM = "civil_immigration_enforcement"
ISSUED = date(2026, 1, 1)
FED = {
    "level": "federal", "court": "S.D.N.Y.", "judge": "J. Roe", "judge_appointment": "article_iii"
}
MAG = {**FED, "judge_appointment": "magistrate"}
STATE = {
    "level": "state", "court": "Albany Cty Ct", "judge": "J. Doe", "judge_appointment": "state"
}


# -- item 1: registration refuses documents whose parts do not fit --------------------
MISFITS: list[tuple[str, str, dict[str, Any], str]] = [
    # name, type, fields, expected message fragment
    ("warrant-by-agency", "judicial_warrant", {"level": "federal", "issuer": "agency"},
     "issued by court"),
    ("warrant-no-judge", "judicial_warrant", {"level": "federal", "court": "S.D.N.Y."},
     "named judge"),
    ("order-no-court", "court_order", {"level": "state", "judge": "J", "judge_appointment":
                                       "state"}, "needs the court"),
    ("order-no-appointment", "court_order", {"level": "state", "court": "C", "judge": "J"},
     "appointment"),
    ("article-iii-on-state-court", "judicial_warrant", {**FED, "level": "state"},
     "federal court"),
    ("magistrate-on-state-court", "judicial_warrant", {**MAG, "level": "state"},
     "federal court"),
    ("state-judge-federal-level", "court_order", {**STATE, "level": "federal"}, "state court"),
    ("admin-warrant-by-court", "administrative_warrant", {"level": "federal",
                                                          "issuer": "court"}, "issued by agency"),
    ("admin-warrant-names-court", "administrative_warrant", {"level": "federal",
                                                             "court": "S.D.N.Y."}, "no court"),
    ("admin-judge-on-order", "court_order", {**FED, "judge_appointment": "administrative"},
     "agency documents"),
    ("consent-with-judge", "consent", {"judge": "J", "judge_appointment": "state"},
     "given by the subject"),
    ("consent-by-court", "consent", {"issuer": "court"}, "issued by subject"),
    ("subpoena-no-issuer", "subpoena", {"level": "state", "court": "C"}, "needs --issuer"),
    ("grand-jury-no-court", "subpoena", {"level": "federal", "issuer": "grand_jury"},
     "needs the court"),
    ("court-doc-level-none", "court_order", {**STATE, "level": "none"}, "federal or state"),
    ("no-level", "judicial_warrant", {k: v for k, v in FED.items() if k != "level"},
     "--level"),
    ("unknown-appointment", "court_order", {**FED, "judge_appointment": "king"},
     "unknown judge appointment"),
]


@pytest.mark.parametrize(("name", "type_", "fields", "match"), MISFITS,
                         ids=[m[0] for m in MISFITS])
def test_misfit_document_is_refused(
    name: str, type_: str, fields: dict[str, Any], match: str
) -> None:
    store = new_store()
    seed(store)
    with pytest.raises(LegalError, match=match):
        add_legal(store, type=type_, number=name, issued=ISSUED, actor="gov", case_id="IM1",
                  **fields)
    assert list_legal(store) == []


FITS: list[tuple[str, dict[str, Any]]] = [
    ("court_order", FED),
    ("court_order", STATE),
    ("judicial_warrant", MAG),
    ("administrative_warrant", {"level": "federal"}),
    ("administrative_warrant", {"level": "federal", "judge": "IJ Poe",
                                "judge_appointment": "administrative"}),
    ("subpoena", {"level": "federal", "issuer": "grand_jury", "court": "S.D.N.Y."}),
    ("subpoena", {"level": "state", "issuer": "court", "court": "Albany Cty Ct"}),
    ("subpoena", {"level": "federal", "issuer": "agency"}),
    ("consent", {"scope_identities": ("X",)}),  # a consent names whose it is
]


@pytest.mark.parametrize(("type_", "fields"), FITS)
def test_fitting_document_is_registered_unverified(type_: str, fields: dict[str, Any]) -> None:
    store = new_store()
    seed(store)
    doc = add_legal(store, type=type_, number="N-1", issued=ISSUED, actor="gov", case_id="IM1",
                    **fields)
    assert get_legal(store, doc.legal_id) == doc
    assert (doc.org, doc.registered_by, doc.verified) == ("ice", "gov", False)


def test_cli_refuses_a_judicial_warrant_no_judge_signed(tmp_path: Path) -> None:
    """The reported attack, verbatim: no court, no judge, issued by an agency."""
    with open_store(tmp_path / "idgraph.duckdb") as store:
        seed(store)
    res = CliRunner().invoke(app, [
        "--data-dir", str(tmp_path), "legal", "add", "--type", "judicial_warrant",
        "--level", "federal", "--issuer", "agency", "--number", "X", "--issued", "2026-01-01",
        "--case", "IM1", "--as", "gov",
    ])
    assert res.exit_code != 0
    with open_store(tmp_path / "idgraph.duckdb") as store:
        assert list_legal(store) == []


# -- items 1 and 7: what New York and Illinois require of the signer -------------------
@pytest.fixture(scope="module")
def world() -> tuple[Store, dict[str, str]]:
    store = new_store()
    seed(store)
    for sid, jur in (("ny_id", "US-NY"), ("il_id", "US-IL"), ("ca_id", "US-CA"),
                     ("wa_id", "US-WA")):
        add_source(store, sid, "id_card", jur, ["DPPA"], 3650)
    docs: dict[str, tuple[str, dict[str, Any]]] = {
        "fed-order": ("court_order", FED),
        "fed-warrant": ("judicial_warrant", FED),
        "state-order": ("court_order", STATE),
        "state-warrant": ("judicial_warrant", STATE),
        "magistrate-warrant": ("judicial_warrant", MAG),
        "admin-warrant": ("administrative_warrant", {"level": "federal"}),
        "court-subpoena-X": ("subpoena", {**STATE, "issuer": "court",
                                          "scope_identities": ("X",)}),
        "clerk-subpoena-X": ("subpoena", {"level": "state", "issuer": "court",
                                          "court": "Cook Cty Ct", "scope_identities": ("X",)}),
        "court-subpoena-any": ("subpoena", {**STATE, "issuer": "court"}),
        "agency-subpoena": ("subpoena", {"level": "federal", "issuer": "agency"}),
    }
    ids = {
        name: add_verified(store, type=t, number=name, issued=ISSUED, case_id="IM1", **f)
        for name, (t, f) in docs.items()
    }
    return store, ids


SIGNERS = [
    # source, basis, permitted, rule
    ("ny_dmv", "fed-order", True, "ny.vtl201.notice"),
    ("ny_dmv", "fed-warrant", True, "ny.vtl201.notice"),
    ("ny_dmv", "state-order", False, "ny.vtl201.basis"),  # a state court order does not count
    ("ny_dmv", "state-warrant", False, "ny.vtl201.basis"),
    ("ny_dmv", "magistrate-warrant", False, "ny.vtl201.basis"),  # not an Article III judge
    ("ny_dmv", "admin-warrant", False, "ny.vtl201.basis"),
    ("ny_dmv", "court-subpoena-X", False, "ny.vtl201.basis"),
    ("ny_id", "state-order", False, "ny.vtl201.basis"),  # an ID-card file is covered too
    ("ny_id", "fed-warrant", True, "ny.vtl201.notice"),
    ("il_sos", "fed-warrant", True, "il.sos.notice"),
    ("il_sos", "state-order", True, "il.sos.notice"),
    ("il_sos", "court-subpoena-X", True, "il.sos.notice"),
    ("il_sos", "state-warrant", False, "il.sos.basis"),  # warrant: Article III only
    ("il_sos", "magistrate-warrant", False, "il.sos.basis"),
    ("il_sos", "clerk-subpoena-X", False, "il.sos.basis"),  # no judge named
    ("il_sos", "court-subpoena-any", False, "il.sos.basis"),  # not for individual records
    ("il_sos", "agency-subpoena", False, "il.sos.basis"),
    ("il_sos", "admin-warrant", False, "il.sos.basis"),
    ("il_id", "admin-warrant", False, "il.sos.basis"),  # the ID Card Act, 15 ILCS 335/11
    ("il_id", "fed-order", True, "il.sos.notice"),
    ("ca_id", "fed-warrant", False, "ca.dmv.immigration"),
    ("wa_id", "fed-order", False, "wa.dol.immigration"),
]


@pytest.mark.parametrize(("source", "basis", "permit", "rule"), SIGNERS,
                         ids=[f"{s[0]}-{s[1]}" for s in SIGNERS])
def test_state_rules_check_the_signer(
    world: tuple[Store, dict[str, str]], source: str, basis: str, permit: bool, rule: str
) -> None:
    store, ids = world
    q = Query(principal="gov", purpose=IMM, claims=("DPPA-b1",), basis=ids[basis],
              case_id="IM1")
    d = allowed(Registry(store), q, [source], identity_ids=["X"]).decisions[source]
    assert (d.permit, rule in d.rules) == (permit, True), d.rules


# -- item 2: nobody checks the paper -> a second person of the organisation must -------
def _fed_order(store: Store, actor: str = "gov", **kw: Any) -> str:
    return add_legal(store, type="court_order", number=kw.pop("number", "CO-9"),
                     issued=ISSUED, actor=actor, **{**FED, "case_id": "IM1", **kw}).legal_id


def _ny(
    store: Store, basis: str, who: str = "gov", case: str = "IM1"
) -> tuple[bool, tuple[str, ...]]:
    q = Query(principal=who, purpose=IMM, claims=("DPPA-b1",), basis=basis, case_id=case)
    d = allowed(Registry(store), q, ["ny_dmv"], identity_ids=["X"]).decisions["ny_dmv"]
    return d.permit, d.rules


def test_unverified_document_counts_for_nothing_until_verified() -> None:
    store = new_store()
    seed(store)
    lid = _fed_order(store)
    assert _ny(store, lid) == (False, ("ny.vtl201.basis",))
    doc = verify_legal(store, lid, sha256=SCAN.upper(), actor="chief")
    assert (doc.verified_by, doc.document_sha256) == ("chief", SCAN)
    stored = get_legal(store, lid)
    assert stored is not None and stored.verified and stored.verified_at is not None
    assert _ny(store, lid)[0] is True
    (entry,) = audit_rows(store, "legal.verify")
    assert (entry["principal"], entry["outcome"], entry["basis"]) == ("chief", "ok", lid)
    assert entry["detail"]["document_sha256"] == SCAN and entry["rules"]


VERIFY_REFUSALS: list[tuple[str, str, str, type[Exception]]] = [
    # registrant, verifier, sha256, error
    ("chief", "chief", SCAN, LegalError),  # the registrant cannot verify their own
    ("gov", "pilaw", SCAN, LegalError),  # another organisation's counsel
    ("gov", "off", SCAN, ActDenied),  # an investigator (disabled, too)
    ("gov", "pi", SCAN, ActDenied),  # an investigator of another organisation
    ("gov", "rec", SCAN, ActDenied),  # a records officer
    ("gov", "lawyer", "not-a-digest", LegalError),
]


@pytest.mark.parametrize(("registrant", "verifier", "sha", "error"), VERIFY_REFUSALS)
def test_verification_refused(
    registrant: str, verifier: str, sha: str, error: type[Exception]
) -> None:
    store = new_store()
    seed(store)
    lid = _fed_order(store, actor=registrant)
    with pytest.raises(error):
        verify_legal(store, lid, sha256=sha, actor=verifier)
    doc = get_legal(store, lid)
    assert doc is not None and not doc.verified
    assert _ny(store, lid)[0] is False
    if error is not LegalError or sha == SCAN:  # refusals after the act check are audited
        denied = [e for e in audit_rows(store, "legal.verify") if e["outcome"] == "deny"]
        assert [e["principal"] for e in denied] == [verifier]


def test_verified_twice_is_refused() -> None:
    store = new_store()
    seed(store)
    lid = _fed_order(store)
    verify_legal(store, lid, sha256=SCAN, actor="lawyer")
    with pytest.raises(LegalError, match="already verified"):
        verify_legal(store, lid, sha256="cd" * 32, actor="chief")
    doc = get_legal(store, lid)
    assert doc is not None and (doc.verified_by, doc.document_sha256) == ("lawyer", SCAN)


def test_attaching_to_another_organisations_case_is_refused_and_audited() -> None:
    store = new_store()
    seed(store)
    with pytest.raises(LegalError, match="no case 'P1'"):
        _fed_order(store, case_id="P1")  # P1 belongs to acme
    assert list_legal(store) == []
    (entry,) = audit_rows(store, "legal.add")
    assert (entry["outcome"], entry["case_id"], entry["principal"]) == ("deny", "P1", "gov")
    lid = _fed_order(store, case_id="IM1")  # its own case: fine, and audited
    assert [e["outcome"] for e in audit_rows(store, "legal.add")] == ["deny", "ok"]
    doc = get_legal(store, lid)
    assert doc is not None and doc.case_id == "IM1"


def test_document_counts_only_for_its_organisation() -> None:
    store = new_store()
    seed(store)
    lid = add_verified(store, type="court_order", number="CO-1", issued=ISSUED,
                       case_id="IM1", **FED)
    doc = get_legal(store, lid)
    assert doc is not None and doc.case_id == "IM1" and doc.org == "ice"
    assert doc.counts_for("ice", "ny_dmv", ["X"], "IM1", date(2026, 3, 1))
    assert not doc.counts_for("acme", "ny_dmv", ["X"], "P1", date(2026, 3, 1))
    # acme names ice's order as its basis: refused as a whole
    q = Query(principal="pi", purpose="legal_proceeding", claims=("DPPA-b4",), basis=lid,
              case_id="P1")
    dec = allowed(Registry(store), q, ["tx_dmv", "court"], identity_ids=["X"])
    assert not dec.any_permitted
    assert all("base.basis_registered" in d.rules for d in dec.decisions.values())


def test_cli_verify(tmp_path: Path) -> None:
    with open_store(tmp_path / "idgraph.duckdb") as store:
        seed(store)
        lid = _fed_order(store)
    base = ["--data-dir", str(tmp_path), "legal", "verify", lid, "--sha256", SCAN]
    runner = CliRunner()
    assert runner.invoke(app, [*base, "--as", "gov"]).exit_code != 0
    ok = runner.invoke(app, [*base, "--as", "lawyer"])
    assert ok.exit_code == 0, ok.output
    assert "verified by lawyer" in ok.output
    with open_store(tmp_path / "idgraph.duckdb") as store:
        doc = get_legal(store, lid)
        assert doc is not None and doc.verified_by == "lawyer"
