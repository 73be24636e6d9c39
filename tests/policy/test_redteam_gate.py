"""The gate attacked as an outsider would, each hole found written as the attack.

Red-team pass over issue 11 (items 1-8, "The gate"), on data idgraph has never seen.
Every test here failed on the code as it was before the fix it names:

* a segment of another origin escaped its holder's state rules
  (``engine._held``; a California DMV file whose origin column says ``NV`` or ``US``);
* the Illinois and California rules ignored the states' own regimes
  (``il.sos.basis``, ``ca.dmv.immigration`` in states.cedar);
* an investigator declaring ``subject_access`` or ``oversight`` read without the rules
  the real purpose triggers (``base.purpose_role``);
* ``explain`` told anyone whether a record id exists (a licence number is a record id),
  and its running and final weights gave withheld comparisons away (policy/explain.py);
* names that look like other names (``CR-1 ``, ``alice\\u200b``, ``ｉｃｅ``) were accepted
  (policy/names.py), and one organisation could hold users of two types (a private
  company's "government" user claiming DPPA (b)(1); policy/users.py);
* ``legal add --type Judicial_Warrant`` ended in a Python traceback (policy/legal.py);
* a ``research`` read got licence and case numbers back as record ids (policy/profile.py);
* one verified ``consent`` naming nobody opened everyone's DMV and credit data to a
  private company (policy/legal.py);
* ``legal verify --sha256`` took the hash of an empty file or ``000...0`` as "the scan";
* ``retention apply --now 2099-01-01`` removed every record before its retention ended;
* phone subscriber records (regime ``SCA``) went to government readers on a bare request
  (``sca.government_process`` in federal.cedar);
* ``report subject`` gave any records officer every record held about anyone (DOB,
  licence, SSN) and every organisation that read them, with no subject-access request
  (audit/reports/subject.py);
* a deployment permit with ``@duty("notice:soon")`` (or ``@jurisdiction("Illinois")``)
  loaded and silently owed no notice (policy/cedar.py);
* the subject's report showed absolute server paths in ``source_file``;
* ``IDGRAPH_POLICY_DIR=/tmp/empty idgraph profile ...`` dropped the county's forbids for
  one command (policy/policy_set.py pins the deployment's folder; ``policy install``
  moves it);
* an immigration agency's investigator read New York and Illinois DMV data by declaring
  ``criminal_investigation`` under a criminal case: the statutes bar the recipient, not
  a purpose (``principal.immigration_agency`` in ny.vtl201.* and il.sos.*);
* ``idgraph judge A B same --by anyone`` let any name merge identities (moving records
  under an identity-scoped warrant or a subject-access request) and told whether a
  record id exists (cli/link.py);
* a name typed as Rich markup (``--as "[/red]"``, a case ``[/x]``) ended in a
  ``MarkupError`` traceback, and could restyle what listings show (cli/common.py,
  cli/access.py, cli/sar.py, cli/link.py print such text as text).

It also keeps, as regressions, attacks that held (a deployment ``permit`` over the
shipped forbids).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import date
from pathlib import Path
from typing import Any

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
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.link._explain import Explanation, Feature
from idgraph.policy import explain as explain_mod
from idgraph.policy.engine import allowed
from idgraph.policy.explain import read_explanation
from idgraph.policy.install import PolicyInstallError, install_policies
from idgraph.policy.legal import LegalError, add_legal, verify_legal
from idgraph.policy.profile import AccessDenied, read_profile
from idgraph.policy.registry import Registry
from idgraph.policy.sar import open_sar
from idgraph.policy.users import disable_user
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.store import Store

IMM = "civil_immigration_enforcement"
CI = "criminal_investigation"
FED = {
    "level": "federal", "court": "S.D.N.Y.", "judge": "J. Roe", "judge_appointment": "article_iii"
}

# Sources idgraph's own fixtures do not have: state-held files with records of other
# origins, and compilations that declare a state's regime but not its jurisdiction.
EXTRA: dict[str, tuple[str, str, list[str]]] = {
    "ca_mixed": ("dmv", "US-CA", ["DPPA"]),  # California DMV; origin column says NV / US
    "ny_mixed": ("dmv", "US-NY", ["DPPA", "NY-VTL-201"]),  # New York DMV; origin NJ
    "nat_il": ("dmv", "US", ["DPPA", "IL-625-ILCS-5/2-123"]),  # Illinois SOS, declared US
    "nat_ilid": ("other", "US", ["IL-15-ILCS-335"]),  # Illinois ID cards, kind other
    "nat_ca": ("other", "US", ["CA-VC-12801.9"]),  # AB 60 licences, kind other
    "nat_ca1808": ("dmv", "US", ["DPPA", "CA-VC-1808"]),  # California DMV records, US
    "phones": ("phone_subscriber", "US", ["SCA"]),  # subscriber records
}


@pytest.fixture(scope="module")
def env() -> tuple[Store, dict[str, str]]:
    store = new_store()
    seed(store)
    for sid, (kind, jur, regimes) in EXTRA.items():
        add_source(store, sid, kind, jur, regimes, 3650)
    recs = [
        add_record(store, "ca_mixed", "1", full_name="ANA RIVERA", origin_jurisdiction="US-NV"),
        add_record(store, "ca_mixed", "2", full_name="ANA RIVERA", origin_jurisdiction="US"),
        add_record(store, "ca_mixed", "3", full_name="ANA RIVERA"),
        add_record(store, "ny_mixed", "1", full_name="ANA RIVERA", origin_jurisdiction="US-NJ"),
        add_record(store, "court", "CR-7", full_name="ANA RIVERA", case_number="CR-7"),
        add_record(store, "ny_dmv", "555123456", full_name="ANA RIVERA", ssn="123-45-6789",
                   dl_number="555123456"),
        add_record(store, "tx_dmv", "987654321", full_name="ANA RIVERA", ssn="987-65-4321"),
    ]
    link(store, "X", recs, list(itertools.pairwise(recs)))
    ids = {
        "fedwarrant": add_verified(
            store, type="judicial_warrant", number="RT-W1", issued=date(2020, 1, 1),
            case_id="IM1", **FED
        ),
        # a document counts only under its own case: the criminal case's own warrant
        "fedwarrant-c1": add_verified(
            store, type="judicial_warrant", number="RT-W2", issued=date(2020, 1, 1),
            case_id="C1", **FED
        ),
        "courtsub": add_verified(
            store, type="subpoena", number="RT-S1", issued=date(2020, 1, 1), issuer="court",
            level="state", court="Cook County Circuit Court", judge="J. Poe",
            judge_appointment="state", scope_identities=("X",), case_id="IM1",
        ),
    }
    ids["agencysub"] = add_verified(
        store, type="subpoena", number="RT-AS1", issued=date(2020, 1, 1), issuer="agency",
        level="federal", case_id="C1",
    )
    ids["adminwarrant"] = add_verified(
        store, type="administrative_warrant", number="RT-AW1", issued=date(2020, 1, 1),
        level="federal", case_id="C1",
    )
    open_sar(store, "X", case_id="SA1", requester="the subject, ID checked in person",
             received=date(2026, 1, 2), actor="rec")
    disable_user(store, "off", actor="root")
    return store, ids


def _decide(
    store: Store, who: str, purpose: str, case: str, sources: list[str], **kw: Any
) -> dict[str, Any]:
    q = Query(principal=who, purpose=purpose, case_id=case, **kw)
    return allowed(Registry(store), q, sources, identity_ids=["X"]).decisions


# -- segments: the origin adds rules, it does not take the holder's away -------------------

SEGMENTS = [
    # name, source asked, purpose, case, basis, segment -> (permit, rule that must decide)
    ("ca-file-origin-NV", "ca_mixed", IMM, "IM1", None,
     {"ca_mixed@US-NV": (False, "ca.dmv.immigration")}),
    ("ca-file-origin-US", "ca_mixed", IMM, "IM1", None,
     {"ca_mixed@US": (False, "ca.dmv.immigration")}),
    ("ca-file-own", "ca_mixed", IMM, "IM1", None,
     {"ca_mixed": (False, "ca.dmv.immigration")}),
    ("ca-file-even-with-warrant", "ca_mixed", IMM, "IM1", "fedwarrant",
     {"ca_mixed@US-NV": (False, "ca.dmv.immigration")}),
    ("ca-file-criminal-ok", "ca_mixed", CI, "C1", None,
     {"ca_mixed@US-NV": (True, "grant.investigator"), "ca_mixed@US": (True, "grant.investigator")}),
    ("ny-file-origin-NJ-no-basis", "ny_mixed", IMM, "IM1", None,
     {"ny_mixed@US-NJ": (False, "ny.vtl201.basis")}),
]


@pytest.mark.parametrize("case", SEGMENTS, ids=[c[0] for c in SEGMENTS])
def test_segment_of_another_origin_keeps_its_holders_rules(
    case: tuple[Any, ...], env: tuple[Store, dict[str, str]]
) -> None:
    store, ids = env
    _, source, purpose, case_id, basis, expect = case
    got = _decide(store, "gov", purpose, case_id, [source], claims=("DPPA-b1",),
                  basis=ids.get(basis) if basis else None)
    for seg, (permit, rule) in expect.items():
        assert got[seg].permit is permit, (seg, got[seg])
        assert rule in got[seg].rules, (seg, got[seg].rules)


def test_holder_duties_follow_records_of_another_origin(env: tuple[Store, dict[str, str]]) -> None:
    """A New York DMV record of New Jersey origin disclosed under a warrant: still a New
    York DMV disclosure, so the notice of N.Y. VTL § 201(12)(b) is owed."""
    store, ids = env
    got = _decide(store, "gov", IMM, "IM1", ["ny_mixed"], claims=("DPPA-b1",),
                  basis=ids["fedwarrant"])
    assert got["ny_mixed@US-NJ"].permit
    assert "notice:3d" in got["ny_mixed@US-NJ"].duties


def test_profile_withholds_the_holders_records_of_other_origins(
    env: tuple[Store, dict[str, str]]
) -> None:
    store, _ = env
    q = Query(principal="gov", purpose=IMM, claims=("DPPA-b1",), case_id="IM1")
    prof = read_profile(store, q, "X", registry=Registry(store))
    assert not [s for s in prof.records if s.startswith("ca_mixed")]
    assert "court" in prof.records  # the read itself was lawful: only the DMV is withheld


# -- state rules key on the state's own regimes too ------------------------------------------

REGIME_RULES = [
    ("il-vehicle-code-declared-US", "nat_il", None, False, "il.sos.basis"),
    ("il-id-card-act-kind-other", "nat_ilid", None, False, "il.sos.basis"),
    ("il-vehicle-code-court-subpoena", "nat_il", "courtsub", True, "il.sos.notice"),
    ("ca-ab60-kind-other", "nat_ca", None, False, "ca.dmv.immigration"),
    ("ca-1808-declared-US", "nat_ca1808", "fedwarrant", False, "ca.dmv.immigration"),
]


@pytest.mark.parametrize("case", REGIME_RULES, ids=[c[0] for c in REGIME_RULES])
def test_state_rules_read_the_states_regimes(
    case: tuple[Any, ...], env: tuple[Store, dict[str, str]]
) -> None:
    store, ids = env
    _, source, basis, permit, rule = case
    got = _decide(store, "gov", IMM, "IM1", [source], claims=("DPPA-b1",),
                  basis=ids.get(basis) if basis else None)[source]
    assert got.permit is permit and rule in got.rules, got


# -- a purpose is declared by the role that answers for it -----------------------------------

LAUNDERING = [
    # name, who, purpose, case, permit, rule
    ("investigator-as-subject-access", "gov", "subject_access", "SA1", False, "base.purpose_role"),
    ("supervisor-as-subject-access", "chief", "subject_access", "SA1", False, "base.purpose_role"),
    ("investigator-as-oversight", "gov", "oversight", "OV1", False, "base.purpose_role"),
    ("records-officer-answers", "rec", "subject_access", "SA1", True,
     "grant.records_officer_subject_access"),
    ("overseer-oversees", "ovs", "oversight", "OV1", True, "grant.overseer_oversight"),
]


@pytest.mark.parametrize("case", LAUNDERING, ids=[c[0] for c in LAUNDERING])
def test_subject_access_and_oversight_are_not_an_investigators_purposes(
    case: tuple[Any, ...], env: tuple[Store, dict[str, str]]
) -> None:
    """An ICE investigator reading a person who filed a subject-access request, under
    the organisation's subject-access case, read New York DMV data for no purpose the
    Green Light law looks at."""
    store, _ = env
    _, who, purpose, case_id, permit, rule = case
    got = _decide(store, who, purpose, case_id, ["ny_dmv", "court"], claims=("DPPA-b1",))
    for d in got.values():
        assert d.permit is permit and rule in d.rules, d


# -- a deployment permit does not open what a shipped forbid closes (held) -------------------

def test_deployment_permit_cannot_override_shipped_forbids(
    env: tuple[Store, dict[str, str]], tmp_path: Path
) -> None:
    store, _ = env
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "open.cedar").write_text(
        '@id("county.open_everything")\npermit (principal, action, resource);\n'
    )
    settings = Settings(data_dir=tmp_path / "data")
    install_policies(store, evil, actor="root", settings=settings)
    reg = Registry(store, settings=settings)
    assert "county.open_everything" in reg.policies.ids
    for who, purpose, case_id, source, rule in [
        ("gov", IMM, "IM1", "ny_dmv", "ny.vtl201.basis"),
        ("gov", IMM, "IM1", "ca_mixed", "ca.dmv.immigration"),
        ("gov", "subject_access", "SA1", "court", "base.purpose_role"),
        ("gov", CI, "IM1", "court", "base.purpose_case_kind"),
        ("off", CI, "C1", "court", "base.principal_active"),
    ]:
        q = Query(principal=who, purpose=purpose, claims=("DPPA-b1",), case_id=case_id)
        d = allowed(reg, q, [source], identity_ids=["X"]).decisions[source]
        assert not d.permit and rule in d.rules, (who, purpose, source, d)


# -- explain is not a side channel -----------------------------------------------------------

PROBES = [
    # name, who, purpose, claims, case
    ("unknown-user", "mallory", "x", (), None),
    ("no-case", "gov", CI, ("DPPA-b1",), None),
    ("immigration-on-ny-dmv", "gov", IMM, ("DPPA-b1",), "IM1"),
]


@pytest.mark.parametrize("case", PROBES, ids=[c[0] for c in PROBES])
def test_explain_does_not_say_whether_a_record_exists(
    case: tuple[Any, ...], env: tuple[Store, dict[str, str]]
) -> None:
    """A New York licence number is a record id: ``explain ny_dmv/<number> ...`` said
    "no current record" for a number not on file, before any decision."""
    store, _ = env
    _, who, purpose, claims, case_id = case
    q = Query(principal=who, purpose=purpose, claims=claims, case_id=case_id)
    with pytest.raises(AccessDenied) as there:
        read_explanation(store, q, "ny_dmv/555123456", "court/CR-7")
    with pytest.raises(AccessDenied) as absent:
        read_explanation(store, q, "ny_dmv/999999999", "court/CR-7")
    assert not isinstance(absent.value, LookupError)
    assert set(absent.value.rules) == set(there.value.rules)


def test_explain_says_a_record_is_missing_to_a_reader_of_its_source(
    env: tuple[Store, dict[str, str]]
) -> None:
    store, _ = env
    q = Query(principal="gov", purpose=CI, claims=("DPPA-b1",), case_id="C1")
    with pytest.raises(LookupError):
        read_explanation(store, q, "ny_dmv/999999999", "court/CR-7")


def _fake_explanation(_store: Store, a: str, b: str) -> Explanation:
    weights = [("last_name", 4.0), ("ssn", 9.5), ("dob", 3.0)]
    feats = tuple(Feature(n, "exact", w, f"{n}: exact", 0.5) for n, w in weights)
    total = -10.0 + sum(w for _, w in weights)
    return Explanation(a, b, "m1", 0.001, -10.0, feats, total, 0.93)


def test_explain_weights_do_not_give_a_withheld_comparison_away(
    env: tuple[Store, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DPPA-b2 does not let a New York DMV SSN leave, so the ssn comparison is withheld;
    but the final weight minus the prior and the visible weights was that comparison's
    weight (exact match or not), and so was the next running probability."""
    store, _ = env
    monkeypatch.setattr(explain_mod, "explain", _fake_explanation)
    q = Query(principal="gov", purpose=CI, claims=("DPPA-b2",), case_id="C1")
    out = read_explanation(store, q, "ny_dmv/555123456", "court/CR-7")
    feat = {f["comparison"]: f for f in out["features"]}
    assert feat["ssn"]["weight"] is None
    assert feat["dob"]["running_probability"] is None
    assert out["match_weight"] is None and out["probability"] is None
    assert feat["last_name"]["weight"] == 4.0  # what may be seen still is
    q_full = Query(principal="gov", purpose=CI, claims=("DPPA-b1",), case_id="C1")
    full = read_explanation(store, q_full, "ny_dmv/555123456", "court/CR-7")
    assert full["match_weight"] == pytest.approx(6.5) and full["probability"] == 0.93


# -- through the CLI: names that look like other names; clean one-line errors ----------------

runner = CliRunner()


def _run(data: Path, *args: str) -> tuple[int, str, BaseException | None]:
    res = runner.invoke(app, ["--data-dir", str(data), *args])
    return res.exit_code, res.output, res.exception


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("redteam_cli")
    assert _run(d, "users", "add", "root", "--role", "admin", "--org", "ops")[0] == 0
    code, out, _ = _run(d, "users", "add", "alice", "--role", "investigator", "--org", "ice",
                        "--org-type", "government", "--as", "root")
    assert code == 0, out
    assert _run(d, "users", "add", "pete", "--role", "investigator", "--org", "acme",
                "--as", "root")[0] == 0
    assert _run(d, "cases", "open", "CR-1", "--title", "t", "--as", "alice")[0] == 0
    return d


NAMES = [
    ("user-trailing-space", ["users", "add", "alice ", "--role", "supervisor", "--org", "ice",
                             "--as", "root"], "leading or trailing space"),
    ("user-zero-width", ["users", "add", "ali\u200bce", "--role", "supervisor", "--org", "ice",
                         "--as", "root"], "invisible or control"),
    ("org-trailing-space", ["users", "add", "bob", "--role", "supervisor", "--org", "ice ",
                            "--as", "root"], "leading or trailing space"),
    ("org-fullwidth", ["users", "add", "bob", "--role", "supervisor", "--org", "\uff49\uff43\uff45",
                       "--as", "root"], "NFKC"),
    ("user-named-system", ["users", "add", "System", "--role", "admin", "--org", "ops",
                           "--org-type", "government", "--as", "root"], "reserved"),
    ("org-of-another-type", ["users", "add", "mole", "--role", "investigator", "--org", "ice",
                             "--org-type", "private", "--as", "root"], "is 'government'"),
    ("private-company-user-as-government", ["users", "add", "mole", "--role", "investigator",
                                            "--org", "acme", "--org-type", "government",
                                            "--as", "root"], "is 'private'"),
    ("case-trailing-space", ["cases", "open", "CR-1 ", "--title", "t", "--as", "alice"],
     "leading or trailing space"),
    ("case-tab", ["cases", "open", "CR\t1", "--title", "t", "--as", "alice"],
     "invisible or control"),
    ("case-rtl-mark", ["cases", "open", "CR-1\u200f", "--title", "t", "--as", "alice"],
     "invisible or control"),
    ("legal-number-space", ["legal", "add", "--type", "administrative_warrant", "--level",
                            "federal", "--number", " W1", "--issued", "2026-01-01", "--case",
                            "CR-1", "--as", "alice"], "leading or trailing space"),
    ("legal-type-mixed-case", ["legal", "add", "--type", "Judicial_Warrant", "--level", "federal",
                               "--number", "W1", "--issued", "2026-01-01", "--case", "CR-1",
                               "--as", "alice"],
     "unknown type"),
    ("legal-type-made-up", ["legal", "add", "--type", "warrant", "--number", "W1", "--issued",
                            "2026-01-01", "--case", "CR-1", "--as", "alice"], "unknown type"),
]


@pytest.mark.parametrize("case", NAMES, ids=[c[0] for c in NAMES])
def test_cli_refuses_lookalike_names_in_one_line(case: tuple[Any, ...], data_dir: Path) -> None:
    _, args, message = case
    code, out, exc = _run(data_dir, *args)
    assert code == 1, out
    assert isinstance(exc, SystemExit), exc  # a clean exit, not a traceback
    assert "error:" in out and message in out, out


# -- record ids are identifiers: they leave only with the fields they are ---------------------

ID_LEAKS = [
    # name, purpose, claims, case, ids that must not leave, ids that may
    ("research", "research", ("DPPA-b5",), "R1", ("555123456", "CR-7", "987654321"), ()),
    ("locate-witness", "locate_witness", ("DPPA-b4",), "C1", ("555123456", "CR-7"), ()),
    ("ssn-keyed-file-without-ssn", CI, ("DPPA-b2",), "C1", ("987654321",),
     ("555123456", "CR-7")),
    ("full-read-keeps-ids", CI, ("DPPA-b1",), "C1", (), ("555123456", "CR-7", "987654321")),
]


@pytest.mark.parametrize("case", ID_LEAKS, ids=[c[0] for c in ID_LEAKS])
def test_record_ids_do_not_carry_withheld_identifiers(
    case: tuple[Any, ...], env: tuple[Store, dict[str, str]]
) -> None:
    """``research`` may see birth year, sex and place; it got ``ny_dmv/555123456`` (the
    licence number) and ``court/CR-7`` (the case number) as record ids."""
    store, _ = env
    _, purpose, claims, case_id, hidden, kept = case
    q = Query(principal="gov", purpose=purpose, claims=claims, case_id=case_id)
    prof = read_profile(store, q, "X", registry=Registry(store))
    text = json.dumps(prof.to_dict())
    for value in hidden:
        assert value not in text, value
    for value in kept:
        assert value in text, value
    if hidden:
        assert any("/~" in rid for rid in prof.record_ids)
        a, b = (json.dumps(read_profile(store, q, "X").to_dict()) for _ in range(2))
        assert a != b  # a fresh pseudonym in every response: nothing to link them by
    real = audit_rows(store, "profile.read")[-1]["record_ids"]
    assert all("/~" not in r for r in real)  # the log keeps the real ids


# -- a consent speaks for the person who gave it ----------------------------------------------

def test_consent_naming_nobody_is_refused_and_counts_for_no_one(
    env: tuple[Store, dict[str, str]]
) -> None:
    """``legal add --type consent`` without ``--scope-identities``, verified by a colleague,
    then ``--claims DPPA-b13,GLBA-e2`` opened any person's DMV and credit header (SSNs
    included) to a private investigator."""
    store, _ = env
    with pytest.raises(LegalError, match="scope-identities"):
        add_legal(store, type="consent", number="RT-C0", issued=date(2020, 1, 1), actor="pi",
                  case_id="P1")
    # a row registered before the check (no identity named) counts for no one
    doc = add_legal(store, type="consent", number="RT-C1", issued=date(2020, 1, 1),
                    actor="pi", scope_identities=("X",), case_id="P1")
    verify_legal(store, doc.legal_id, sha256="cd" * 32, actor="pilaw")
    store.execute("UPDATE legal_process SET scope_identities = ? WHERE legal_id = ?",
                  [[], doc.legal_id])
    q = Query(principal="pi", purpose="fraud_investigation", claims=("DPPA-b13",),
              basis=doc.legal_id, case_id="P1")
    d = allowed(Registry(store), q, ["tx_dmv"], identity_ids=["Y"]).decisions["tx_dmv"]
    assert not d.permit and "claim.DPPA-b13" in d.rules, d
    store.execute("UPDATE legal_process SET scope_identities = ? WHERE legal_id = ?",
                  [["X"], doc.legal_id])
    reg = Registry(store)
    assert allowed(reg, q, ["tx_dmv"], identity_ids=["X"]).decisions["tx_dmv"].permit
    assert not allowed(reg, q, ["tx_dmv"], identity_ids=["Y"]).decisions["tx_dmv"].permit


@pytest.mark.parametrize("digest", [hashlib.sha256(b"").hexdigest(), "0" * 64, "F" * 64])
def test_verification_needs_the_hash_of_a_scan(
    digest: str, env: tuple[Store, dict[str, str]]
) -> None:
    store, _ = env
    doc = add_legal(store, type="court_order", number=f"RT-O-{digest[:4]}",
                    issued=date(2020, 1, 1), actor="gov", case_id="C1", **FED)
    with pytest.raises(LegalError, match="not the hash of a scanned document"):
        verify_legal(store, doc.legal_id, sha256=digest, actor="lawyer")


def test_cli_retention_cannot_run_in_the_future(data_dir: Path) -> None:
    code, out, exc = _run(data_dir, "retention", "apply", "--now", "2099-01-01", "--as", "root")
    assert code == 1 and isinstance(exc, SystemExit), out
    assert "in the future" in out


SCA = [
    # name, who, case, basis, permit, rule
    ("government-no-process", "gov", "C1", None, False, "sca.government_process"),
    ("government-admin-warrant", "gov", "C1", "adminwarrant", False, "sca.government_process"),
    ("government-agency-subpoena", "gov", "C1", "agencysub", True, "grant.investigator"),
    ("government-court-order", "gov", "C1", "fedwarrant-c1", True, "grant.investigator"),
    ("private-party", "pi", "P1", None, True, "grant.investigator"),
]


@pytest.mark.parametrize("case", SCA, ids=[c[0] for c in SCA])
def test_subscriber_records_to_government_need_process(
    case: tuple[Any, ...], env: tuple[Store, dict[str, str]]
) -> None:
    store, ids = env
    _, who, case_id, basis, permit, rule = case
    purpose = CI if who == "gov" else "fraud_investigation"
    d = _decide(store, who, purpose, case_id, ["phones"],
                basis=ids[basis] if basis else None)["phones"]
    assert d.permit is permit and rule in d.rules, d


def test_cli_subject_report_answers_only_an_open_request(data_dir: Path, tmp_path: Path) -> None:
    d = data_dir
    assert _run(d, "users", "add", "ro", "--role", "records_officer", "--org", "ice",
                "--org-type", "government", "--as", "root")[0] == 0
    out = tmp_path / "r.json"
    code, text, exc = _run(d, "report", "subject", "P-SOMEONE", "--out", str(out), "--as", "ro")
    assert code == 1 and isinstance(exc, SystemExit), text
    assert "no open subject-access request" in text and not out.exists()
    assert _run(d, "cases", "open", "SA-9", "--title", "t", "--kind", "subject_access",
                "--as", "ro")[0] == 0
    code, text, _ = _run(d, "sar", "open", "P-SOMEONE", "--case", "SA-9", "--requester",
                         "in person", "--received", "2026-01-02", "--as", "ro")
    assert code == 0, text
    code, text, _ = _run(d, "report", "subject", "P-OTHER", "--out", str(out), "--as", "ro")
    assert code == 1 and not out.exists(), text  # a request for one person opens no other
    code, text, _ = _run(d, "report", "subject", "P-SOMEONE", "--out", str(out), "--as", "ro")
    assert code == 0 and out.exists(), text


@pytest.mark.parametrize("annotations", [
    '@duty("notice:soon")', '@duty("Notice:3d")', '@duty("notice:3 d")',
    '@duty("notice:3d")\n@jurisdiction("Illinois")',
])
def test_a_duty_no_one_can_read_does_not_load(
    annotations: str, env: tuple[Store, dict[str, str]], tmp_path: Path
) -> None:
    store, _ = env
    folder = tmp_path / "county"
    folder.mkdir()
    (folder / "n.cedar").write_text(
        f'@id("county.notice")\n{annotations}\n'
        'permit (principal, action == Action::"read", resource)\n'
        'when { resource.kind == "court" };\n'
    )
    with pytest.raises(PolicyInstallError, match=r"unknown duty|ISO 3166"):
        install_policies(store, folder, actor="root", settings=Settings(data_dir=tmp_path))


def test_subject_report_shows_no_server_paths(env: tuple[Store, dict[str, str]]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from idgraph.audit import AuditLog
    from idgraph.audit.reports import subject_report

    store, _ = env
    store.execute("UPDATE records SET source_file = '/srv/secret/feeds/court_2026.csv' "
                  "WHERE record_id = 'court/CR-7'")
    log = AuditLog(store, key=Ed25519PrivateKey.generate())
    report = subject_report(store, "X", log=log, actor="rec")
    files = [r.source_file for g in report.sources for r in g.records if r.source_file]
    assert files == ["court_2026.csv"]


def test_policy_folder_is_the_deployments_not_the_commands(tmp_path: Path) -> None:
    from idgraph.policy.cedar import PolicySetError
    from idgraph.store import open_store

    data = tmp_path / "data"
    data.mkdir()
    store = open_store(data / "idgraph.duckdb")
    seed(store)
    county = tmp_path / "county"
    county.mkdir()
    (county / "c.cedar").write_text(
        '@id("county.no_court")\nforbid (principal, action in Action::"read", resource)\n'
        'when { resource.kind == "court" };\n'
    )
    install_policies(store, county, actor="root", settings=Settings(data_dir=data))
    q = Query(principal="gov", purpose=CI, case_id="C1")
    reg = Registry(store, settings=Settings(data_dir=data))
    assert not allowed(reg, q, ["court"]).decisions["court"].permit
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PolicySetError, match="decides under the policy folder"):
        Registry(store, settings=Settings(data_dir=data, policy_dir=empty))
    # the announced way: an admin installs into the new folder, which is then the one
    (tmp_path / "etc").mkdir()
    moved = Settings(data_dir=data, policy_dir=tmp_path / "etc")
    install_policies(store, county, actor="root", settings=moved)
    assert not allowed(Registry(store, settings=moved), q, ["court"]).decisions["court"].permit
    with pytest.raises(PolicySetError):
        Registry(store, settings=Settings(data_dir=data, policy_dir=empty))
    store.close()


AGENCY = [
    # name, who, source, basis, permit, rule
    ("ice-criminal-case-ny", "agent", "ny_dmv", None, False, "ny.vtl201.basis"),
    ("ice-criminal-case-il", "agent", "il_sos", None, False, "il.sos.basis"),
    ("ice-criminal-case-ny-art3-warrant", "agent", "ny_dmv", "agentwarrant", True,
     "ny.vtl201.notice"),
    ("ice-criminal-case-court", "agent", "court", None, True, "grant.investigator"),
    ("police-criminal-case-ny", "gov", "ny_dmv", None, True, "grant.investigator"),
]


@pytest.fixture(scope="module")
def agency(env: tuple[Store, dict[str, str]]) -> dict[str, str]:
    from idgraph.cases import open_case
    from idgraph.policy.users import add_user

    store, _ = env
    add_user(store, "agent", "investigator", "ero", org_type="government", actor="root",
             immigration_agency=True)
    add_user(store, "agentsup", "supervisor", "ero", org_type="government", actor="root",
             immigration_agency=True)
    open_case(store, "ERO-CR", title="smuggling", kind="criminal", actor="agent")
    return {"agentwarrant": add_verified(
        store, type="judicial_warrant", number="RT-ERO-W1", issued=date(2020, 1, 1),
        actor="agent", verifier="agentsup", case_id="ERO-CR", **FED,
    )}


@pytest.mark.parametrize("case", AGENCY, ids=[c[0] for c in AGENCY])
def test_state_dmv_rules_follow_the_recipient_agency(
    case: tuple[Any, ...], env: tuple[Store, dict[str, str]], agency: dict[str, str]
) -> None:
    """N.Y. VTL § 201(12)(a): no disclosure "to any agency that primarily enforces
    immigration law" without an Article III judge's order or warrant -- whatever
    purpose its agent declares; 625 ILCS 5/6-110.3 likewise for "an immigration agent"."""
    store, _ = env
    _, who, source, basis, permit, rule = case
    case_id = "ERO-CR" if who == "agent" else "C1"
    d = _decide(store, who, CI, case_id, [source], claims=("DPPA-b1",),
                basis=agency.get(basis) if basis else None)[source]
    assert d.permit is permit and rule in d.rules, d


def test_an_organisation_is_an_immigration_agency_or_not(
    env: tuple[Store, dict[str, str]], agency: dict[str, str]
) -> None:
    from idgraph.policy.users import UserError, add_user

    store, _ = env
    with pytest.raises(UserError, match="immigration agency"):
        add_user(store, "agent2", "investigator", "ero", org_type="government", actor="root")
    with pytest.raises(UserError, match="immigration agency"):
        add_user(store, "gov2", "investigator", "ice", org_type="government", actor="root",
                 immigration_agency=True)


@pytest.mark.parametrize(("by", "message"), [
    ("nobody", "act.principal_known"),  # the act link.judge, decided by Cedar
    ("alice", "act.role_ceiling"),  # an investigator may not judge
])
def test_cli_judge_is_a_users_act(by: str, message: str, data_dir: Path) -> None:
    for rid in ("ny_dmv/000000000", "ny_dmv/555123456"):  # missing or not: the same answer
        code, out, exc = _run(data_dir, "judge", rid, "court/1", "same", "--by", by)
        assert code == 3 and isinstance(exc, SystemExit), out
        assert message in out and "unknown record" not in out, out


def test_cli_prints_what_users_typed_as_text(data_dir: Path) -> None:
    code, out, exc = _run(data_dir, "legal", "list", "--as", "[/red]")
    assert code == 3 and isinstance(exc, SystemExit) and "'[/red]' may not" in out, out
    code, out, exc = _run(data_dir, "cases", "open", "[/x]", "--title", "[bold]t[/]",
                          "--as", "alice")
    assert code == 0 and exc is None and "opened [/x] for ice" in out, out
    code, out, exc = _run(data_dir, "cases", "list", "--as", "alice")
    assert code == 0 and exc is None and "[/x]" in out and "[bold]t[/]" in out, out
