"""Issue 11, item 4: codes the law ties to legal process need it, and FCRA's
non-FCRA-data rule is about the activity, not about a code claimed for another source.

The catalogue's ``requires`` (data, with the statute's text) and the ``claim.<CODE>``
Cedar rules are checked against each other: for every code, a query meeting one
alternative is not denied by the code's rule, and a query meeting none is.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from policy_fixtures import add_verified, new_store, seed

from idgraph.cases import KINDS, open_case
from idgraph.policy.catalogue import Code, load_catalogue
from idgraph.policy.cedar import load_policies
from idgraph.policy.engine import allowed
from idgraph.policy.legal import ISSUERS_OF
from idgraph.policy.registry import Registry
from idgraph.policy.users import add_user
from idgraph.schema import Query
from idgraph.store import Store

CI = "criminal_investigation"
ISSUED = date(2026, 1, 1)
CAT = load_catalogue()
# who acts for each (org type, role); each organisation's counsel verifies its documents
ACTORS = {
    ("government", "investigator"): "gov",
    ("government", "supervisor"): "chief",
    ("private", "investigator"): "pi",
    ("private", "supervisor"): "pisup",
}
ORG = {"government": "ice", "private": "acme"}
COUNSEL = {"government": "lawyer", "private": "pilaw"}
OPENER = {"government": "gov", "private": "pi"}


class World:
    """A store where cases and verified documents are made on demand."""

    def __init__(self) -> None:
        self.store = new_store()
        seed(self.store)
        add_user(self.store, "pisup", "supervisor", "acme", org_type="private", actor="root")
        self.cases: set[str] = set()
        self.docs: dict[tuple[str, ...], str] = {}

    def case(self, org_type: str, kind: str) -> str:
        case_id = f"{ORG[org_type]}-{kind}"
        if case_id not in self.cases:
            open_case(self.store, case_id, title=kind, kind=kind, actor=OPENER[org_type])
            self.cases.add(case_id)
        return case_id

    def doc(
        self, org_type: str, kind: str, type_: str, issuer: str | None, level: str | None
    ) -> str:
        """A verified document of ``org_type`` registered to its case of ``kind``."""
        issuer = issuer or ISSUERS_OF[type_][0]
        if type_ == "consent":
            level = "none"
        level = level or "federal"
        key = (org_type, kind, type_, issuer, level)
        if key not in self.docs:
            fields: dict[str, Any] = {"level": level, "issuer": issuer}
            if issuer in ("court", "grand_jury"):
                fields["court"] = "U.S.D.C." if level == "federal" else "State Ct"
            if type_ in ("court_order", "judicial_warrant"):
                fields["judge"] = "J. Roe"
                fields["judge_appointment"] = "article_iii" if level == "federal" else "state"
            if type_ == "consent":
                fields = {"scope_identities": ("X",)}  # the consent of X, who is read
            self.docs[key] = add_verified(
                self.store, type=type_, number="-".join(key), issued=ISSUED,
                actor=OPENER[org_type], verifier=COUNSEL[org_type],
                case_id=self.case(org_type, kind), **fields,
            )
        return self.docs[key]

    def rules(self, code: Code, scenario: dict[str, Any]) -> tuple[bool, tuple[str, ...]]:
        source = {"DPPA": "tx_dmv", "GLBA": "credit_hdr", "FCRA": "consumer_rpt"}[code.regime]
        org_type = scenario["org_type"]
        q = Query(
            principal=ACTORS[(org_type, scenario["role"])],
            purpose=CI,
            claims=(code.name, *scenario["also"]),
            basis=scenario.get("basis"),
            case_id=self.case(org_type, scenario["kind"]),
        )
        d = allowed(Registry(self.store), q, [source], identity_ids=["X"]).decisions[source]
        return d.permit, d.rules


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def _meets(alt: dict[str, tuple[str, ...]], org_type: str, role: str, kind: str) -> bool:
    """Whether a query without a basis and without other claims meets ``alt``."""
    checks = {
        "org_type": org_type,
        "role": role,
        "case_kinds": kind,
    }
    return all(k in checks and checks[k] in v for k, v in alt.items())


def _failing(code: Code) -> dict[str, Any]:
    """A query meeting none of ``code``'s alternatives (no basis, no other claim)."""
    assert code.requires is not None
    for org_type, role in ACTORS:
        for kind in KINDS:
            if not any(_meets(a, org_type, role, kind) for a in code.requires.any_of):
                return {"org_type": org_type, "role": role, "kind": kind, "also": ()}
    raise AssertionError(f"{code.name}: every query meets its requirement")


def _meeting(world: World, code: Code, alt: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """A query meeting ``alt``: the first value of each condition."""
    org_type = alt.get("org_type", ("government",))[0]
    scenario: dict[str, Any] = {
        "org_type": org_type,
        "role": alt.get("role", ("investigator",))[0],
        "kind": alt.get("case_kinds", ("criminal",))[0],
        "also": alt.get("also_claims", ())[:1],
    }
    if "basis" in alt:
        scenario["basis"] = world.doc(
            org_type, scenario["kind"], alt["basis"][0], alt.get("issuer", (None,))[0],
            alt.get("level", (None,))[0],
        )
    return scenario


REQUIRING = [c for c in CAT.codes.values() if c.requires is not None]
ALTERNATIVES = [(c, i) for c in REQUIRING if c.requires for i in range(len(c.requires.any_of))]


def test_every_code_says_what_it_requires_and_names_an_existing_rule() -> None:
    ids = set(load_policies().ids)
    assert [c.name for c in CAT.codes.values() if c.requires is None] == []
    for code in REQUIRING:
        assert code.requires is not None
        assert code.requires.rule == f"claim.{code.name}" and code.requires.rule in ids
        assert code.requires.text and code.requires.reading


@pytest.mark.parametrize("code", REQUIRING, ids=[c.name for c in REQUIRING])
def test_a_claim_that_does_not_hold_is_denied_by_its_rule(world: World, code: Code) -> None:
    assert code.requires is not None
    permit, rules = world.rules(code, _failing(code))
    assert not permit and code.requires.rule in rules


@pytest.mark.parametrize(("code", "i"), ALTERNATIVES,
                         ids=[f"{c.name}-{i}" for c, i in ALTERNATIVES])
def test_a_claim_that_holds_is_not_denied_by_its_rule(world: World, code: Code, i: int) -> None:
    assert code.requires is not None
    _, rules = world.rules(code, _meeting(world, code, code.requires.any_of[i]))
    assert code.requires.rule not in rules


# -- the reported attacks ------------------------------------------------------------
FED_ORDER = {"level": "federal", "court": "S.D.N.Y.", "judge": "J. Roe",
             "judge_appointment": "article_iii"}


@pytest.fixture(scope="module")
def attack() -> tuple[Store, dict[str, str]]:
    store = new_store()
    seed(store)
    docs = {
        # ice's documents are for its criminal case C1, acme's for its civil case P1
        "order": add_verified(store, type="court_order", number="CO-1", issued=ISSUED,
                              case_id="C1", **FED_ORDER),
        "fgj": add_verified(store, type="subpoena", number="GJ-1", issued=ISSUED,
                            issuer="grand_jury", level="federal", court="S.D.N.Y.",
                            case_id="C1"),
        "sgj": add_verified(store, type="subpoena", number="GJ-2", issued=ISSUED,
                            issuer="grand_jury", level="state", court="Kings Cty Sup Ct",
                            case_id="C1"),
        "agency": add_verified(store, type="subpoena", number="AS-1", issued=ISSUED,
                               issuer="agency", level="federal", case_id="C1"),
        "pi-court-sub": add_verified(store, type="subpoena", number="CS-1", issued=ISSUED,
                                     issuer="court", level="state", court="NY Sup Ct",
                                     actor="pi", verifier="pilaw", case_id="P1"),
        "pi-consent": add_verified(store, type="consent", number="C-1", issued=ISSUED,
                                   scope_identities=("X",), actor="pi", verifier="pilaw",
                                   case_id="P1"),
    }
    return store, docs


ATTACKS = [
    # who, case, purpose, claims, basis, source, permit, rule (in rules)
    ("gov", "C1", CI, ("GLBA-e8", "FCRA-b-a1"), None, "credit_hdr", False, "claim.FCRA-b-a1"),
    ("gov", "C1", CI, ("GLBA-e8", "FCRA-b-a1"), None, "consumer_rpt", False,
     "claim.FCRA-b-a1"),
    ("pi", "P1", "fraud_investigation", ("GLBA-e8", "FCRA-b-a1"), None, "credit_hdr", False,
     "claim.GLBA-e8"),
    ("pi", "P1", "legal_proceeding", ("GLBA-e8",), "pi-court-sub", "credit_hdr", True,
     "grant.investigator"),
    ("gov", "C1", CI, ("FCRA-b-a1",), "order", "consumer_rpt", True, "grant.investigator"),
    ("gov", "C1", CI, ("FCRA-b-a1",), "fgj", "consumer_rpt", True, "grant.investigator"),
    ("gov", "C1", CI, ("FCRA-b-a1",), "sgj", "consumer_rpt", False, "claim.FCRA-b-a1"),
    ("gov", "C1", CI, ("FCRA-b-a1",), "agency", "consumer_rpt", False, "claim.FCRA-b-a1"),
    # FCRA-b-a1 for a criminal investigation no longer withholds non-FCRA data
    ("gov", "C1", CI, ("FCRA-b-a1",), "order", "court", True, "grant.investigator"),
    ("gov", "C1", CI, ("FCRA-b-a1",), "order", "utility", True, "grant.investigator"),
    ("gov", "C1", CI, ("FCRA-b-a1", "DPPA-b1"), "order", "tx_dmv", True, "grant.investigator"),
    # ... but an FCRA activity still may not use non-FCRA data
    ("pi", "E1", "employment_screening", (), None, "court", False, "fcra.non_fcra_data"),
    ("pi", "P1", "legal_proceeding", ("DPPA-b1",), None, "tx_dmv", False, "claim.DPPA-b1"),
    ("pi", "P1", "legal_proceeding", ("DPPA-b13",), None, "tx_dmv", False, "claim.DPPA-b13"),
    ("pi", "P1", "legal_proceeding", ("DPPA-b13",), "pi-consent", "tx_dmv", True,
     "grant.investigator"),
    ("pi", "P1", "fraud_investigation", ("GLBA-e2",), None, "credit_hdr", False,
     "claim.GLBA-e2"),
    ("pi", "P1", "fraud_investigation", ("GLBA-e2",), "pi-consent", "credit_hdr", True,
     "grant.investigator"),
    ("pi", "P1", "fraud_investigation", ("FCRA-b-a2",), None, "consumer_rpt", False,
     "claim.FCRA-b-a2"),
    ("pi", "P1", "fraud_investigation", ("FCRA-b-a2",), "pi-consent", "consumer_rpt", True,
     "grant.investigator"),
]


@pytest.mark.parametrize(
    ("who", "case", "purpose", "claims", "basis", "source", "permit", "rule"),
    ATTACKS,
    ids=[f"{a[0]}-{'+'.join(a[3]) or 'none'}-{a[4]}-{a[5]}" for a in ATTACKS],
)
def test_codes_tied_to_process(
    attack: tuple[Store, dict[str, str]],
    who: str,
    case: str,
    purpose: str,
    claims: tuple[str, ...],
    basis: str | None,
    source: str,
    permit: bool,
    rule: str,
) -> None:
    store, docs = attack
    q = Query(principal=who, purpose=purpose, claims=claims,
              basis=docs[basis] if basis else None, case_id=case)
    d = allowed(Registry(store), q, [source], identity_ids=["X"]).decisions[source]
    assert d.permit is permit, d.rules
    assert rule in d.rules
    if permit and source in ("court", "utility"):
        assert "fcra.non_fcra_data" not in d.rules


def test_full_credit_header_needs_more_than_a_bare_claim(
    attack: tuple[Store, dict[str, str]],
) -> None:
    """`--claims GLBA-e8,FCRA-b-a1` with no basis released a full credit header, SSN too."""
    store, _ = attack
    q = Query(principal="gov", purpose=CI, claims=("GLBA-e8", "FCRA-b-a1"), case_id="C1")
    dec = allowed(Registry(store), q, ["credit_hdr", "consumer_rpt"], identity_ids=["X"])
    assert dec.permitted == () and dec.fields_for("credit_hdr") == ()
