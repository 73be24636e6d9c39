"""A broad table of queries for the gate's equivalence tests (synthetic data only).

:func:`world` builds a store with sources of every regime the shipped rules name,
segments of other origin jurisdictions, users of every role (an immigration agency's
too, a disabled one), open cases of every kind, legal process of every type and
signer, expired, unverified and identity-scoped, and a subject-access request.
:func:`queries` draws a seeded sample of queries over all of it (with hand-picked
ones first); :func:`outcomes` runs one through a decision function and returns, per
segment, what must not change: permit, rules, duties and fields.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from policy_fixtures import add_record, add_source, add_verified, link, new_store, seed

from idgraph.cases import open_case
from idgraph.policy.engine import AccessDecision
from idgraph.policy.legal import add_legal
from idgraph.policy.registry import Registry
from idgraph.policy.sar import open_sar
from idgraph.policy.users import add_user, disable_user
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.store import Store

FED = {"level": "federal", "court": "S.D.N.Y.", "judge": "J. Roe",
       "judge_appointment": "article_iii"}
MAG = {**FED, "judge_appointment": "magistrate"}
STATE = {"level": "state", "court": "Albany Cty Ct", "judge": "J. Doe",
         "judge_appointment": "state"}
ISSUED = date(2020, 1, 1)

EXTRA: dict[str, tuple[str, str, list[str]]] = {
    "ny_id": ("id_card", "US-NY", ["DPPA"]),
    "il_id": ("id_card", "US-IL", ["DPPA", "IL-15-ILCS-335"]),
    "ca_id": ("id_card", "US-CA", ["DPPA"]),
    "wa_id": ("id_card", "US-WA", ["DPPA"]),
    "ca_mixed": ("dmv", "US-CA", ["DPPA"]),
    "us_dl": ("dmv", "US", ["DPPA"]),
    "nat_il": ("dmv", "US", ["DPPA", "IL-625-ILCS-5/2-123"]),
    "nat_ca": ("other", "US", ["CA-VC-12801.9"]),
    "nat_ny": ("dmv", "US", ["NY-VTL-201"]),
    "phones": ("phone_subscriber", "US", ["SCA"]),
    "mixed_regimes": ("credit_header", "US", ["GLBA", "FCRA", "DPPA"]),
}
# (source, origin): records of another jurisdiction make a segment ``src@origin``
ORIGINS = [("ca_mixed", "US-NV"), ("ca_mixed", "US"), ("us_dl", "US-CA"), ("us_dl", "US-IL"),
           ("us_dl", "US-NY"), ("us_dl", "US-WA"), ("credit_hdr", "US-CA"), ("court", "US-NJ")]

PRINCIPALS = ["gov", "pi", "off", "rec", "admin2", "ovs", "chief", "lawyer", "ero", "ghost"]
PURPOSES = [
    "criminal_investigation", "civil_immigration_enforcement", "fraud_investigation",
    "journalism", "legal_proceeding", "research", "subject_access", "oversight",
    "employment_screening", "credit_decision", "insurance_underwriting", "tenant_screening",
    "locate_witness", "made_up_purpose",
]
CLAIMS: list[tuple[str, ...]] = [
    (), ("DPPA-b1",), ("DPPA-b1", "FCRA-1681f"), ("DPPA-b4",), ("DPPA-b2",), ("DPPA-b3",),
    ("DPPA-b6", "GLBA-e1"), ("GLBA-e5",), ("FCRA-b-a1",), ("FCRA-b-a3B", "DPPA-b3"),
    ("FCRA-1681f",), ("DPPA-b9", "FCRA-b-a4"), ("NOT-A-CODE",), ("DPPA-b1", "NOT-A-CODE"),
]
CASES = [None, "C1", "IM1", "R1", "P1", "E1", "SA1", "OV1", "DHS1", "NOPE"]
IDENTITIES: list[tuple[str, ...]] = [(), ("X",), ("X", "Y"), ("Y",)]
FILTERS: list[tuple[str, ...]] = [(), ("last_name", "dob"), ("race",), ("first_name", "ethnicity"),
                                  ("zip",), ("religion",)]
# (principal, purpose, case) that fit one another: the rules beyond the base ones decide
COHERENT: list[tuple[str, str, str | None]] = [
    ("gov", "criminal_investigation", "C1"), ("chief", "criminal_investigation", "C1"),
    ("gov", "civil_immigration_enforcement", "IM1"),
    ("chief", "civil_immigration_enforcement", "IM1"),
    ("ero", "civil_immigration_enforcement", "DHS1"), ("ero", "criminal_investigation", "DHS1"),
    ("gov", "fraud_investigation", "C1"), ("pi", "fraud_investigation", "P1"),
    ("gov", "legal_proceeding", "C1"), ("pi", "legal_proceeding", "P1"),
    ("gov", "research", "R1"), ("rec", "subject_access", "SA1"), ("ovs", "oversight", "OV1"),
    ("pi", "employment_screening", "E1"), ("pi", "tenant_screening", "E1"),
    ("pi", "locate_witness", "P1"), ("gov", "locate_witness", "C1"),
]
CASE_BASES: dict[str, tuple[str, ...]] = {
    "IM1": ("fed-warrant", "fed-order", "state-order", "magistrate-warrant", "admin-warrant",
            "court-subpoena-X", "expired-order", "unverified-order", "sources-order"),
    "C1": ("agency-subpoena", "consent-X", "c1-warrant"),
    "DHS1": ("dhs-warrant",),
}
# legal-process names (see world()) and None
BASES = [None, "fed-warrant", "fed-order", "state-order", "magistrate-warrant",
         "admin-warrant", "agency-subpoena", "court-subpoena-X", "consent-X", "expired-order",
         "unverified-order", "sources-order", "c1-warrant", "dhs-warrant", "not-registered"]


def world() -> tuple[Store, dict[str, str]]:
    """The store every query of the table is decided in; legal-process ids by name."""
    store = new_store()
    seed(store)
    for sid, (kind, jur, regimes) in EXTRA.items():
        add_source(store, sid, kind, jur, regimes, 3650)
    recs = [add_record(store, sid, f"{sid}-{origin}", full_name="ANA RIVERA",
                       origin_jurisdiction=origin) for sid, origin in ORIGINS]
    link(store, "X", recs, list(itertools.pairwise(recs)))
    add_user(store, "ero", "investigator", "dhs", org_type="government", actor="root",
             immigration_agency=True)
    add_user(store, "dhslaw", "counsel", "dhs", org_type="government", actor="root",
             immigration_agency=True)
    open_case(store, "DHS1", title="removal", kind="immigration", actor="ero")
    docs: dict[str, tuple[str, dict[str, Any]]] = {
        "fed-warrant": ("judicial_warrant", {**FED, "case_id": "IM1"}),
        "fed-order": ("court_order", {**FED, "case_id": "IM1"}),
        "state-order": ("court_order", {**STATE, "case_id": "IM1"}),
        "magistrate-warrant": ("judicial_warrant", {**MAG, "case_id": "IM1"}),
        "admin-warrant": ("administrative_warrant", {"level": "federal", "case_id": "IM1"}),
        "agency-subpoena": ("subpoena", {"level": "federal", "issuer": "agency",
                                         "case_id": "C1"}),
        "court-subpoena-X": ("subpoena", {**STATE, "issuer": "court",
                                          "scope_identities": ("X",), "case_id": "IM1"}),
        "consent-X": ("consent", {"scope_identities": ("X",), "case_id": "C1"}),
        "expired-order": ("court_order", {**FED, "case_id": "IM1",
                                          "expires": date(2021, 1, 1)}),
        "sources-order": ("court_order", {**FED, "case_id": "IM1",
                                          "scope_sources": ("ny_dmv", "phones", "us_dl")}),
        "c1-warrant": ("judicial_warrant", {**FED, "case_id": "C1"}),
    }
    ids = {name: add_verified(store, type=t, number=name, issued=ISSUED, **f)
           for name, (t, f) in docs.items()}
    ids["dhs-warrant"] = add_verified(store, actor="ero", verifier="dhslaw",
                                      type="judicial_warrant", number="dhs-w", issued=ISSUED,
                                      **{**FED, "case_id": "DHS1"})
    ids["unverified-order"] = add_legal(store, type="court_order", number="unverified",
                                        issued=ISSUED, actor="gov",
                                        **{**FED, "case_id": "IM1"}).legal_id
    ids["not-registered"] = "LP-NOT-REGISTERED"
    open_sar(store, "X", case_id="SA1", requester="the subject, ID checked in person",
             received=date(2026, 1, 2), actor="rec")
    disable_user(store, "off", actor="root")
    return store, ids


def registry(store: Store, policies: Path | None = None) -> Registry:
    return Registry(store, settings=None if policies is None else Settings(policy_dir=policies))


QueryRow = tuple[Query, tuple[str, ...], tuple[str, ...]]  # query, identity ids, filters


def queries(ids: dict[str, str], n: int = 150, seed_: int = 14) -> list[QueryRow]:
    """Hand-picked rows first, then ``n`` drawn at random (seeded)."""
    picked: list[QueryRow] = [
        (Query(principal="gov", purpose="civil_immigration_enforcement",
               claims=("DPPA-b1", "FCRA-1681f"), basis=ids["fed-order"], case_id="IM1"),
         ("I1",), ()),
        (Query(principal="gov", purpose="civil_immigration_enforcement", claims=("DPPA-b1",),
               basis=ids["court-subpoena-X"], case_id="IM1"), ("X",), ()),
        (Query(principal="gov", purpose="civil_immigration_enforcement", claims=("DPPA-b4",),
               basis=ids["magistrate-warrant"], case_id="IM1"), ("X",), ()),
        (Query(principal="gov", purpose="civil_immigration_enforcement", claims=("DPPA-b1",),
               basis=ids["sources-order"], case_id="IM1"), ("X",), ()),
        (Query(principal="ero", purpose="criminal_investigation", claims=("DPPA-b1",),
               basis=ids["dhs-warrant"], case_id="DHS1"), ("X",), ()),
        (Query(principal="rec", purpose="subject_access", case_id="SA1"), ("X",), ()),
        (Query(principal="rec", purpose="subject_access", case_id="SA1"), ("X", "Y"), ()),
        (Query(principal="ovs", purpose="oversight", case_id="OV1"), (), ("last_name",)),
        (Query(principal="pi", purpose="employment_screening", claims=("FCRA-b-a3B",),
               case_id="E1"), (), ()),
        (Query(principal="gov", purpose="research", case_id="R1"), (), ("zip",)),
        (Query(principal="gov", purpose="criminal_investigation", claims=("DPPA-b1",),
               basis=ids["consent-X"], case_id="C1"), ("X",), ()),
        (Query(principal="gov", purpose="criminal_investigation", claims=("DPPA-b1",),
               case_id="C1"), (), ("race",)),
    ]
    rng = random.Random(seed_)
    out = list(picked)
    for i in range(n):
        if i % 4 == 0:  # anything at all: mostly refused by the base rules
            who, purpose, case, basis = (rng.choice(PRINCIPALS), rng.choice(PURPOSES),
                                         rng.choice(CASES), rng.choice(BASES))
        else:  # a reader, a purpose and a case that fit, and the case's own process
            who, purpose, case = rng.choice(COHERENT)
            basis = rng.choice([None, None, *CASE_BASES.get(case or "", ()), rng.choice(BASES)])
        out.append((
            Query(principal=who, purpose=purpose, claims=rng.choice(CLAIMS),
                  basis=ids[basis] if basis else None, case_id=case),
            rng.choice(IDENTITIES),
            rng.choice(FILTERS) if rng.random() < 0.5 else (),
        ))
    return out


Decide = Callable[[Registry, Query, Sequence[str], Sequence[str]], AccessDecision]
Outcome = dict[str, list[Any]]  # segment -> [permit, rules, duties, fields]


def outcomes(decide: Decide, reg: Registry, row: QueryRow) -> Outcome:
    query, identity_ids, filters = row
    decision = decide(reg, query, identity_ids, filters)
    return {
        sid: [d.permit, list(d.rules), list(d.duties),
              None if d.fields is None else list(d.fields)]
        for sid, d in decision.decisions.items()
    }
