"""One row per default rule, both the permitted and the denied side."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from policy_fixtures import add_verified, audit_rows, new_store, seed

from idgraph.policy.engine import allowed, decide
from idgraph.policy.legal import add_legal
from idgraph.policy.registry import Registry
from idgraph.policy.sar import open_sar
from idgraph.policy.users import disable_user
from idgraph.schema import Query
from idgraph.store import Store

FED = {
    "level": "federal", "court": "S.D.N.Y.", "judge": "J. Roe", "judge_appointment": "article_iii"
}
STATE = {
    "level": "state", "court": "Albany Cty Ct", "judge": "J. Doe", "judge_appointment": "state"
}
LEGAL: list[tuple[str, str, dict[str, Any]]] = [
    # name, type, fields (every document is verified by counsel unless named "unverified")
    ("co", "court_order", STATE),
    ("fedorder", "court_order", FED),
    ("fedwarrant", "judicial_warrant", FED),
    ("magwarrant", "judicial_warrant", {**FED, "judge_appointment": "magistrate"}),
    ("statewarrant", "judicial_warrant", STATE),
    ("adminwarrant", "administrative_warrant", {"level": "federal"}),
    ("courtsub", "subpoena", {**STATE, "issuer": "court", "scope_identities": ("X",)}),
    ("agencysub", "subpoena", {"level": "federal", "issuer": "agency"}),
    ("expired", "court_order", {**FED, "expires": date(2020, 1, 1)}),
    ("onlyX", "court_order", {**FED, "scope_identities": ("X",)}),
    ("onlyutility", "court_order", {**FED, "scope_sources": ("utility",)}),
    ("unverified", "court_order", FED),
]


@pytest.fixture(scope="module")
def env() -> tuple[Store, Registry, dict[str, str]]:
    store = new_store()
    seed(store)
    ids = {}
    for name, typ, fields in LEGAL:
        # every gov document is for the immigration case the `imm` rows read under
        kw: dict[str, Any] = {"expires": date(2099, 1, 1), "case_id": "IM1", **fields}
        if name == "unverified":
            doc = add_legal(
                store, type=typ, number=name, issued=date(2020, 1, 1), actor="gov", **kw
            )
            ids[name] = doc.legal_id
        else:
            ids[name] = add_verified(store, type=typ, number=name, issued=date(2020, 1, 1), **kw)
    ids["piconsent"] = add_verified(
        store, type="consent", number="PC-1", issued=date(2020, 1, 1), actor="pi",
        scope_identities=("X",), case_id="E1",
        verifier="pilaw",
    )
    open_sar(store, "X", case_id="SA1", requester="the subject, ID checked in person",
             received=date(2026, 1, 2), actor="rec")
    disable_user(store, "off", actor="root")
    return store, Registry(store), ids


IMM = "civil_immigration_enforcement"
CI = "criminal_investigation"


def row(
    name: str,
    source: str,
    permit: bool,
    rule: str,
    *,
    who: str = "gov",
    purpose: str = CI,
    claims: tuple[str, ...] = (),
    basis: str | None = None,
    case: str | None = "C1",
    filters: tuple[str, ...] = (),
    ident: str = "X",
) -> tuple[Any, ...]:
    """One rule case; defaults: investigator 'gov' of 'ice', criminal investigation, case C1."""
    return (name, who, purpose, claims, basis, case, source, filters, ident, permit, rule)


def pri(name: str, source: str, permit: bool, rule: str, **kw: Any) -> tuple[Any, ...]:
    """A private investigator 'pi' of 'acme' on case P1, fraud investigation by default."""
    return row(
        name,
        source,
        permit,
        rule,
        **{"who": "pi", "case": "P1", "purpose": "fraud_investigation", **kw},
    )


def imm(name: str, source: str, permit: bool, rule: str, **kw: Any) -> tuple[Any, ...]:
    """Civil immigration enforcement by 'gov' claiming DPPA (b)(1) by default."""
    return row(
        name, source, permit, rule, **{"purpose": IMM, "claims": ("DPPA-b1",), "case": "IM1", **kw}
    )


CASES = [
    row("ok-baseline", "court", True, "grant.investigator"),
    row("unknown-user", "court", False, "base.principal_active", who="nobody"),
    row("disabled-user", "court", False, "base.principal_active", who="off"),
    row("admin-cannot-read", "court", False, "base.reader_role", who="admin2"),
    row("counsel-cannot-read", "court", False, "base.reader_role", who="lawyer"),
    row("unknown-purpose", "court", False, "base.purpose_known", purpose="curiosity"),
    row("unknown-code", "court", False, "base.claims_known", claims=("DPPA-b99",)),
    row("no-case", "court", False, "base.case_open", case=None),
    row("other-orgs-case", "court", False, "base.case_open", case="P1"),
    row("unregistered-basis", "court", False, "base.basis_registered", basis="LP-nope"),
    row("other-orgs-basis", "court", False, "base.basis_registered", basis="piconsent"),
    row("protected-filter", "court", False, "base.filters_allowed", filters=("Race",)),
    row("protected-religion", "court", False, "base.filters_allowed", filters=("religion",)),
    row("canonical-filter", "court", True, "grant.investigator", filters=("Last Name", "dob")),
    row("dppa-claimed", "tx_dmv", True, "grant.investigator", claims=("DPPA-b1",)),
    row("dppa-missing", "tx_dmv", False, "dppa.permissible_use"),
    pri("glba-exception", "credit_hdr", True, "grant.investigator", claims=("GLBA-e3",)),
    pri("glba-missing", "credit_hdr", False, "glba.exception"),
    row(
        "glba-1681f-gov", "credit_hdr", True, "fcra.1681f_identifying_only", claims=("FCRA-1681f",)
    ),
    pri("glba-1681f-private", "credit_hdr", False, "glba.exception", claims=("FCRA-1681f",)),
    pri(
        "fcra-purpose",
        "consumer_rpt",
        True,
        "grant.investigator",
        purpose="employment_screening",
        claims=("FCRA-b-a3B",),
        case="E1",
        basis="piconsent",
    ),
    pri("fcra-missing", "consumer_rpt", False, "fcra.permissible_purpose"),
    pri(
        "non-fcra-for-employment",
        "court",
        False,
        "fcra.non_fcra_data",
        purpose="employment_screening",
        claims=("FCRA-b-a3B",),
        case="E1",
        basis="piconsent",
    ),
    imm("ny-federal-order", "ny_dmv", True, "ny.vtl201.notice", basis="fedorder"),
    imm("ny-federal-warrant", "ny_dmv", True, "ny.vtl201.notice", basis="fedwarrant"),
    imm("ny-state-order", "ny_dmv", False, "ny.vtl201.basis", basis="co"),
    imm("ny-state-warrant", "ny_dmv", False, "ny.vtl201.basis", basis="statewarrant"),
    imm("ny-magistrate-warrant", "ny_dmv", False, "ny.vtl201.basis", basis="magwarrant"),
    imm("ny-admin-warrant", "ny_dmv", False, "ny.vtl201.basis", basis="adminwarrant"),
    imm("ny-unverified-order", "ny_dmv", False, "ny.vtl201.basis", basis="unverified"),
    imm("ny-no-basis", "ny_dmv", False, "ny.vtl201.basis"),
    imm("ny-expired-order", "ny_dmv", False, "ny.vtl201.basis", basis="expired"),
    imm("ny-order-scoped-X-reads-X", "ny_dmv", True, "ny.vtl201.notice", basis="onlyX"),
    imm("ny-order-scoped-X-reads-Y", "ny_dmv", False, "ny.vtl201.basis", basis="onlyX", ident="Y"),
    imm("ny-order-other-source", "ny_dmv", False, "ny.vtl201.basis", basis="onlyutility"),
    row("ny-not-immigration", "ny_dmv", True, "grant.investigator", claims=("DPPA-b1",)),
    imm("il-court-subpoena", "il_sos", True, "il.sos.notice", basis="courtsub"),
    imm("il-state-order", "il_sos", True, "il.sos.notice", basis="co"),
    imm("il-federal-warrant", "il_sos", True, "il.sos.notice", basis="fedwarrant"),
    imm("il-state-warrant", "il_sos", False, "il.sos.basis", basis="statewarrant"),
    imm("il-agency-subpoena", "il_sos", False, "il.sos.basis", basis="agencysub"),
    imm("il-admin-warrant", "il_sos", False, "il.sos.basis", basis="adminwarrant"),
    imm("il-unverified-order", "il_sos", False, "il.sos.basis", basis="unverified"),
    imm("ca-never", "ca_dmv", False, "ca.dmv.immigration", basis="fedwarrant"),
    row("ca-criminal-ok", "ca_dmv", True, "grant.investigator", claims=("DPPA-b1",)),
    imm("wa-never", "wa_dol", False, "wa.dol.immigration", basis="fedorder"),
    row(
        "records-officer-sar",
        "court",
        True,
        "grant.records_officer_subject_access",
        who="rec",
        purpose="subject_access",
        case="SA1",
    ),
    row(
        "records-officer-no-request",
        "court",
        False,
        "base.subject_access_request",
        who="rec",
        purpose="subject_access",
        case="SA1",
        ident="Y",
    ),
    row("records-officer-other", "court", False, "base.reader_role", who="rec"),
    row(
        "overseer-oversight",
        "court",
        True,
        "grant.overseer_oversight",
        who="ovs",
        purpose="oversight",
        case="OV1",
    ),
    row("overseer-investigating", "court", False, "base.reader_role", who="ovs"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule(case: tuple[Any, ...], env: tuple[Store, Registry, dict[str, str]]) -> None:
    _, reg, ids = env
    _, who, purpose, claims, basis, case_id, source, filters, ident, permit, rule = case
    q = Query(
        principal=who,
        purpose=purpose,
        claims=claims,
        basis=ids.get(basis, basis),
        case_id=case_id,
        at=None,
    )
    d = allowed(reg, q, [source], identity_ids=[ident], filters=filters).decisions[source]
    assert d.permit is permit
    assert rule in d.rules


DUTIES = [
    ("ny_dmv", "fedorder", ("notice:3d",)),
    ("il_sos", "courtsub", ("notice:3bd",)),
    ("court", "fedorder", ()),
]


@pytest.mark.parametrize(("source", "basis", "duties"), DUTIES)
def test_duties(
    source: str, basis: str, duties: tuple[str, ...], env: tuple[Store, Registry, dict[str, str]]
) -> None:
    _, reg, ids = env
    q = Query(principal="gov", purpose=IMM, claims=("DPPA-b1",), basis=ids[basis], case_id="IM1")
    assert allowed(reg, q, [source], identity_ids=["X"]).decisions[source].duties == duties


FIELDS = [
    # principal, purpose, claims, case, source, ssn?, dob?, last_name?
    ("gov", CI, ("DPPA-b1",), "C1", "tx_dmv", True, True, True),
    ("pi", "legal_proceeding", ("DPPA-b4",), "P1", "tx_dmv", True, True, True),
    ("pi", "fraud_investigation", ("DPPA-b8", "DPPA-b3"), "P1", "tx_dmv", False, True, True),
    ("gov", CI, ("FCRA-1681f",), "C1", "credit_hdr", False, False, True),
    ("gov", CI, ("GLBA-e8",), "C1", "credit_hdr", True, True, True),
    ("gov", "locate_witness", ("DPPA-b4",), "C1", "tx_dmv", False, False, True),
    ("gov", "research", ("DPPA-b5",), "R1", "tx_dmv", False, False, False),
]


@pytest.mark.parametrize("case", FIELDS)
def test_field_minimisation(
    case: tuple[Any, ...], env: tuple[Store, Registry, dict[str, str]]
) -> None:
    _, reg, _ = env
    who, purpose, claims, case_id, source, ssn, dob, last = case
    q = Query(principal=who, purpose=purpose, claims=claims, case_id=case_id)
    d = allowed(reg, q, [source]).decisions[source]
    assert d.permit
    fields = set(d.fields or ())
    assert ("ssn" in fields, "dob" in fields, "last_name" in fields) == (ssn, dob, last)


def test_protected_attribute_denies_every_source(
    env: tuple[Store, Registry, dict[str, str]],
) -> None:
    _, reg, _ = env
    q = Query(principal="gov", purpose=CI, claims=("DPPA-b1", "GLBA-e8"), case_id="C1")
    dec = allowed(reg, q, filters=["national_origin"])
    assert dec.decisions and not dec.any_permitted
    assert all("base.filters_allowed" in d.rules for d in dec.decisions.values())


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
    from idgraph.settings import Settings

    reg = Registry(store, settings=Settings(policy_dir=folder))
    dec = allowed(reg, q, ["utility", "court"])
    assert dec.decisions["utility"].rules == ("local.no_utility",)
    assert dec.decisions["court"].permit
