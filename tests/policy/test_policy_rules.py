"""One row per default rule, both the permitted and the denied side."""

from __future__ import annotations

from datetime import date

import pytest

from idgraph.policy.engine import allowed, decide
from idgraph.policy.legal import add_legal
from idgraph.policy.registry import Registry
from idgraph.policy.users import disable_user
from idgraph.schema import Query
from idgraph.store import Store
from tests.policy.helpers import audit_rows, new_store, seed

LEGAL = [
    # name, type, level, issuer, expires, scope_identities, scope_sources
    ("co", "court_order", "state", None, date(2099, 1, 1), (), ()),
    ("fedwarrant", "judicial_warrant", "federal", None, date(2099, 1, 1), (), ()),
    ("statewarrant", "judicial_warrant", "state", None, date(2099, 1, 1), (), ()),
    ("adminwarrant", "administrative_warrant", "federal", None, date(2099, 1, 1), (), ()),
    ("courtsub", "subpoena", "state", "court", date(2099, 1, 1), (), ()),
    ("agencysub", "subpoena", "federal", "agency", date(2099, 1, 1), (), ()),
    ("expired", "court_order", "state", None, date(2020, 1, 1), (), ()),
    ("onlyX", "court_order", "state", None, date(2099, 1, 1), ("X",), ()),
    ("onlyutility", "court_order", "state", None, date(2099, 1, 1), (), ("utility",)),
]


@pytest.fixture(scope="module")
def env() -> tuple[Store, Registry, dict[str, str]]:
    store = new_store()
    seed(store)
    ids = {}
    for name, typ, level, issuer, expires, idents, srcs in LEGAL:
        doc = add_legal(
            store, type=typ, number=name, issued=date(2020, 1, 1), expires=expires,
            level=level, issuer=issuer, court="Ct", judge="J", actor="gov",
            scope_identities=idents, scope_sources=srcs,
        )  # fmt: skip
        ids[name] = doc.legal_id
    disable_user(store, "off", actor="root")
    return store, Registry(store), ids


IMM = "civil_immigration_enforcement"
CI = "criminal_investigation"

# (id, principal, purpose, claims, basis, case, source, filters, identity, permit, rule)
CASES = [
    ("ok-baseline", "gov", CI, (), None, "C1", "court", (), "X", True, "grant.investigator"),
    ("unknown-user", "nobody", CI, (), None, "C1", "court", (), "X", False, "base.principal_active"),
    ("disabled-user", "off", CI, (), None, "C1", "court", (), "X", False, "base.principal_active"),
    ("admin-cannot-read", "admin2", CI, (), None, "C1", "court", (), "X", False, "default.deny"),
    ("unknown-purpose", "gov", "curiosity", (), None, "C1", "court", (), "X", False, "base.purpose_known"),
    ("unknown-code", "gov", CI, ("DPPA-b99",), None, "C1", "court", (), "X", False, "base.claims_known"),
    ("no-case", "gov", CI, (), None, None, "court", (), "X", False, "base.case_open"),
    ("other-orgs-case", "gov", CI, (), None, "P1", "court", (), "X", False, "base.case_open"),
    ("unregistered-basis", "gov", CI, (), "LP-nope", "C1", "court", (), "X", False, "base.basis_registered"),
    ("protected-filter", "gov", CI, (), None, "C1", "court", ("Race",), "X", False, "base.protected_attributes"),
    ("protected-religion", "gov", CI, (), None, "C1", "court", ("religion",), "X", False, "base.protected_attributes"),
    ("dppa-claimed", "gov", CI, ("DPPA-b1",), None, "C1", "tx_dmv", (), "X", True, "grant.investigator"),
    ("dppa-missing", "gov", CI, (), None, "C1", "tx_dmv", (), "X", False, "dppa.permissible_use"),
    ("glba-exception", "pi", "fraud_investigation", ("GLBA-e3",), None, "P1", "credit_hdr", (), "X", True, "grant.investigator"),
    ("glba-missing", "pi", "fraud_investigation", (), None, "P1", "credit_hdr", (), "X", False, "glba.exception"),
    ("glba-1681f-gov", "gov", CI, ("FCRA-1681f",), None, "C1", "credit_hdr", (), "X", True, "fcra.1681f_identifying_only"),
    ("glba-1681f-private", "pi", "fraud_investigation", ("FCRA-1681f",), None, "P1", "credit_hdr", (), "X", False, "glba.exception"),
    ("fcra-purpose", "pi", "employment_screening", ("FCRA-b-a3B",), None, "P1", "consumer_rpt", (), "X", True, "grant.investigator"),
    ("fcra-missing", "pi", "fraud_investigation", (), None, "P1", "consumer_rpt", (), "X", False, "fcra.permissible_purpose"),
    ("non-fcra-for-employment", "pi", "employment_screening", ("FCRA-b-a3B",), None, "P1", "court", (), "X", False, "fcra.non_fcra_data"),
    ("non-fcra-code-claimed", "pi", "fraud_investigation", ("FCRA-b-a3A",), None, "P1", "utility", (), "X", False, "fcra.non_fcra_data"),
    ("ny-court-order", "gov", IMM, ("DPPA-b1",), "co", "C1", "ny_dmv", (), "X", True, "ny.vtl201.notice"),
    ("ny-federal-warrant", "gov", IMM, ("DPPA-b1",), "fedwarrant", "C1", "ny_dmv", (), "X", True, "ny.vtl201.notice"),
    ("ny-state-warrant", "gov", IMM, ("DPPA-b1",), "statewarrant", "C1", "ny_dmv", (), "X", False, "ny.vtl201.basis"),
    ("ny-admin-warrant", "gov", IMM, ("DPPA-b1",), "adminwarrant", "C1", "ny_dmv", (), "X", False, "ny.vtl201.basis"),
    ("ny-no-basis", "gov", IMM, ("DPPA-b1",), None, "C1", "ny_dmv", (), "X", False, "ny.vtl201.basis"),
    ("ny-expired-order", "gov", IMM, ("DPPA-b1",), "expired", "C1", "ny_dmv", (), "X", False, "ny.vtl201.basis"),
    ("ny-order-scoped-X-reads-X", "gov", IMM, ("DPPA-b1",), "onlyX", "C1", "ny_dmv", (), "X", True, "ny.vtl201.notice"),
    ("ny-order-scoped-X-reads-Y", "gov", IMM, ("DPPA-b1",), "onlyX", "C1", "ny_dmv", (), "Y", False, "ny.vtl201.basis"),
    ("ny-order-other-source", "gov", IMM, ("DPPA-b1",), "onlyutility", "C1", "ny_dmv", (), "X", False, "ny.vtl201.basis"),
    ("ny-not-immigration", "gov", CI, ("DPPA-b1",), None, "C1", "ny_dmv", (), "X", True, "grant.investigator"),
    ("il-court-subpoena", "gov", IMM, ("DPPA-b1",), "courtsub", "C1", "il_sos", (), "X", True, "il.sos.notice"),
    ("il-state-warrant", "gov", IMM, ("DPPA-b1",), "statewarrant", "C1", "il_sos", (), "X", True, "il.sos.notice"),
    ("il-agency-subpoena", "gov", IMM, ("DPPA-b1",), "agencysub", "C1", "il_sos", (), "X", False, "il.sos.basis"),
    ("il-admin-warrant", "gov", IMM, ("DPPA-b1",), "adminwarrant", "C1", "il_sos", (), "X", False, "il.sos.basis"),
    ("ca-never", "gov", IMM, ("DPPA-b1",), "fedwarrant", "C1", "ca_dmv", (), "X", False, "ca.dmv.immigration"),
    ("ca-criminal-ok", "gov", CI, ("DPPA-b1",), None, "C1", "ca_dmv", (), "X", True, "grant.investigator"),
    ("wa-never", "gov", IMM, ("DPPA-b1",), "co", "C1", "wa_dol", (), "X", False, "wa.dol.immigration"),
    ("records-officer-subject-access", "rec", "subject_access", ("DPPA-b13",), None, None, "court", (), "X", False, "base.case_open"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule(case: tuple, env: tuple[Store, Registry, dict[str, str]]) -> None:  # type: ignore[type-arg]
    _, reg, ids = env
    _, who, purpose, claims, basis, case_id, source, filters, ident, permit, rule = case
    q = Query(principal=who, purpose=purpose, claims=claims, basis=ids.get(basis, basis),
              case_id=case_id, at=None)  # fmt: skip
    d = allowed(reg, q, [source], identity_ids=[ident], filters=filters).decisions[source]
    assert d.permit is permit
    assert rule in d.rules


DUTIES = [
    ("ny_dmv", "co", ("notice:3d",)),
    ("il_sos", "courtsub", ("notice:3bd",)),
    ("court", "co", ()),
]


@pytest.mark.parametrize(("source", "basis", "duties"), DUTIES)
def test_duties(source: str, basis: str, duties: tuple[str, ...], env: tuple[Store, Registry, dict[str, str]]) -> None:
    _, reg, ids = env
    q = Query(principal="gov", purpose=IMM, claims=("DPPA-b1",), basis=ids[basis], case_id="C1")
    assert allowed(reg, q, [source], identity_ids=["X"]).decisions[source].duties == duties


FIELDS = [
    # principal, purpose, claims, case, source, ssn?, dob?, last_name?
    ("gov", CI, ("DPPA-b1",), "C1", "tx_dmv", True, True, True),
    ("pi", "legal_proceeding", ("DPPA-b4",), "P1", "tx_dmv", True, True, True),
    ("pi", "fraud_investigation", ("DPPA-b8",), "P1", "tx_dmv", False, True, True),
    ("gov", CI, ("FCRA-1681f",), "C1", "credit_hdr", False, False, True),
    ("gov", CI, ("GLBA-e8",), "C1", "credit_hdr", True, True, True),
    ("gov", "locate_witness", ("DPPA-b4",), "C1", "tx_dmv", False, False, True),
    ("gov", "research", ("DPPA-b5",), "C1", "tx_dmv", False, False, False),
]


@pytest.mark.parametrize("case", FIELDS)
def test_field_minimisation(case: tuple, env: tuple[Store, Registry, dict[str, str]]) -> None:  # type: ignore[type-arg]
    _, reg, _ = env
    who, purpose, claims, case_id, source, ssn, dob, last = case
    q = Query(principal=who, purpose=purpose, claims=claims, case_id=case_id)
    d = allowed(reg, q, [source]).decisions[source]
    assert d.permit
    fields = set(d.fields or ())
    assert ("ssn" in fields, "dob" in fields, "last_name" in fields) == (ssn, dob, last)


def test_protected_attribute_denies_every_source(env: tuple[Store, Registry, dict[str, str]]) -> None:
    _, reg, _ = env
    q = Query(principal="gov", purpose=CI, claims=("DPPA-b1", "GLBA-e8"), case_id="C1")
    dec = allowed(reg, q, filters=["national_origin"])
    assert dec.decisions and not dec.any_permitted
    assert all("base.protected_attributes" in d.rules for d in dec.decisions.values())


def test_unregistered_source_denied(env: tuple[Store, Registry, dict[str, str]]) -> None:
    _, reg, _ = env
    q = Query(principal="gov", purpose=CI, case_id="C1")
    assert allowed(reg, q, ["ghost"]).decisions["ghost"].rules == ("source.unregistered",)


def test_every_decision_is_audited() -> None:
    store = new_store()
    seed(store)
    before = len(audit_rows(store, "policy.decide"))
    q = Query(principal="nobody", purpose=CI, case_id="C1")
    dec = decide(store, q)
    rows = audit_rows(store, "policy.decide")[before:]
    assert len(rows) == len(dec.decisions) == 10
    assert {r["sources"][0] for r in rows} == set(dec.decisions)
    assert all(r["outcome"] == "deny" and "base.principal_active" in r["rules"] for r in rows)


def test_extra_policy_dir_adds_a_forbid(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "local.cedar").write_text(
        '@id("local.no_utility")\n'
        'forbid (principal, action in Action::"read", resource)\n'
        'when { resource.kind == "utility" };\n'
    )
    store = new_store()
    seed(store)
    q = Query(principal="gov", purpose=CI, case_id="C1")
    reg = Registry(store, policy_dir=folder)
    dec = allowed(reg, q, ["utility", "court"])
    assert dec.decisions["utility"].rules == ("local.no_utility",)
    assert dec.decisions["court"].permit
