"""The gate attacked a second time, through the CLI, on data idgraph has never seen.

Second red-team pass over issue 11 (after test_redteam_gate.py). Every test here failed
on the code as it was before the fix it names:

* a subject-access request opened for identity ``X`` kept answering after ``X`` was
  merged with another person's records (a records officer may ``judge ... same`` and
  ``resolve``), split, retired, or -- opened for an id no identity had yet -- given by a
  later run to whoever's records came first (policy/sar.py ``reshaped``; the subject
  report too, audit/reports/subject.py ``_requested``); a court order scoped to ``X``
  likewise kept counting for whatever ``X`` had become (policy/legal.py
  ``reshaped_scopes``, engine ``_legal_for``; it counts again once verified again);
* a warrant dated next year was registered and verified today, to start counting on its
  own (policy/legal.py ``problems``);
* object-level refusals of an act (a request under another organisation's case, a
  verification by the registrant) are audited denials but exited 1 like a typo
  (cli/sar.py, cli/access.py: exit 3, ``cli.common.DENIED``);
* refusals by role outside Cedar (``users add/disable`` by a non-admin, ``cases open/close``
  by an admin or an unknown name, ``notices sent`` and ``retention apply`` by an
  investigator) exited 1 like a typo, and the user and case refusals were not audited
  (policy/users.py, cases/__init__.py, policy/notices.py, policy/retention.py);
* an error line wrapped at the terminal's width, so a script reading stderr line by
  line got half a reason (cli/common.py ``fail``);
* a deployment folder's ``permit (principal, action, resource);`` (installed by an admin,
  or dropped into the folder) gave a private company's investigator the whole audit log
  and ``policy.install``, and made records officers, counsel and admins readers of
  criminal-investigation data: the shipped role tables were a default, not a ceiling
  (``act.role_ceiling`` in acts.cedar, ``base.reader_role`` in base.cedar);
* ``explain A B`` with ``B`` in no identity yet (ingested since the last resolve) was
  decided for ``A``'s identity only: a subject-access request or an identity-scoped
  warrant for ``A`` showed a stranger's name and birth year (policy/explain.py).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from policy_fixtures import add_record, add_source, add_verified, audit_rows, link, new_store, seed
from typer.testing import CliRunner

from idgraph import clock
from idgraph.cli import app
from idgraph.cli.common import DENIED
from idgraph.link._explain import Explanation, Feature
from idgraph.policy import explain as explain_mod
from idgraph.policy.acts import ActDenied, authorise_act
from idgraph.policy.engine import allowed
from idgraph.policy.explain import read_explanation
from idgraph.policy.legal import LegalError, add_legal
from idgraph.policy.profile import AccessDenied, read_profile
from idgraph.policy.registry import Registry
from idgraph.policy.sar import open_sar
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.store import Store

SA = "subject_access"
OPENED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINEAGE_DDL = """CREATE TABLE IF NOT EXISTS identity_lineage (
    run_id VARCHAR, identity_id VARCHAR, event VARCHAR, related VARCHAR[], "at" TIMESTAMP)"""


def _sar_world() -> Store:
    store = new_store()
    seed(store)
    store.execute(LINEAGE_DDL)
    x = add_record(store, "court", "CR-1", full_name="ANA RIVERA", case_number="CR-1")
    link(store, "X", [x], [])
    with clock.frozen(OPENED):
        open_sar(store, "X", case_id="SA1", requester="the subject, ID checked in person",
                 received=date(2026, 3, 1), actor="rec")
    return store


def _event(store: Store, ident: str, event: str, related: list[str], at: datetime) -> None:
    store.execute(
        "INSERT INTO identity_lineage VALUES ('R-2', ?, ?, ?, ?)",
        [ident, event, related, at.replace(tzinfo=None)],
    )


AFTER = OPENED + timedelta(days=1)
BEFORE = OPENED - timedelta(days=1)
RESHAPES = [
    # name, lineage events (identity, event, related, at), does the request still answer
    ("merged-into-X", [("X", "merged", ["Y"], AFTER)], False),
    ("X-merged-into-another", [("Y", "merged", ["X"], AFTER)], False),
    ("X-retired", [("X", "retired", ["Y", "Z"], AFTER)], False),
    ("id-first-given-after-opening", [("X", "new", [], AFTER)], False),
    ("id-given-to-a-split-off-piece", [("X", "split", ["Y"], AFTER)], False),
    # X only lost records: what remains is still what the request was about
    ("piece-split-off-X", [("Z", "split", ["X"], AFTER)], True),
    ("X-gained-its-own-records", [("X", "kept", [], AFTER)], True),
    ("merged-before-opening", [("X", "merged", ["Y"], BEFORE)], True),
    ("another-identity-new", [("Y", "new", [], AFTER)], True),
    ("nothing-happened", [], True),
]


@pytest.mark.parametrize("case", RESHAPES, ids=[c[0] for c in RESHAPES])
def test_subject_access_request_binds_the_identity_as_it_was(case: tuple[Any, ...]) -> None:
    _, events, answers = case
    store = _sar_world()
    for ident, event, related, at in events:
        _event(store, ident, event, related, at)
    q = Query(principal="rec", purpose=SA, case_id="SA1")
    if answers:
        assert read_profile(store, q, "X").record_ids == ("court/CR-1",)
    else:
        with pytest.raises(AccessDenied) as err:
            read_profile(store, q, "X")
        assert "base.subject_access_request" in err.value.rules
        # a new request, opened after the records officer checked again, answers
        with clock.frozen(AFTER + timedelta(hours=1)):
            open_sar(store, "X", case_id="SA1", requester="the subject, checked again",
                     received=date(2026, 3, 2), actor="rec")
        assert read_profile(store, q, "X").record_ids == ("court/CR-1",)


@pytest.mark.parametrize("case", RESHAPES[:5], ids=[c[0] for c in RESHAPES[:5]])
def test_subject_report_answers_only_a_request_that_still_answers(
    case: tuple[Any, ...]
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from idgraph.audit import AuditLog
    from idgraph.audit.reports.subject import ReportError, subject_report

    _, events, _ = case
    store = _sar_world()
    log = AuditLog(store, key=Ed25519PrivateKey.generate())
    assert subject_report(store, "X", log=log, actor="rec").identity_id == "X"
    for ident, event, related, at in events:
        _event(store, ident, event, related, at)
    with pytest.raises(ReportError, match="no open subject-access request"):
        subject_report(store, "X", log=log, actor="rec")


@pytest.mark.parametrize("case", RESHAPES, ids=[c[0] for c in RESHAPES])
def test_identity_scoped_process_binds_the_identity_as_it_was(case: tuple[Any, ...]) -> None:
    """A supervisor may ``judge ... same`` a stranger's record into the identity a court
    order names; the order then stops counting until it is verified again."""
    from idgraph.policy.legal import verify_legal

    _, events, counts = case
    store = _sar_world()
    add_source(store, "phone", "phone_subscriber", "US", ["SCA"], 3650)
    link(store, "X", [add_record(store, "phone", "S1", full_name="ANA RIVERA")], [])
    with clock.frozen(OPENED):
        basis = add_verified(
            store, type="court_order", number="O-1", court="S.D.N.Y.", judge="Hon. A. Reyes",
            judge_appointment="article_iii", level="federal", issuer="court",
            issued=date(2026, 1, 1), scope_identities=("X",), case_id="C1",
        )
    for ident, event, related, at in events:
        _event(store, ident, event, related, at)
    q = Query(principal="gov", purpose="criminal_investigation", case_id="C1", basis=basis,
              at=datetime(2026, 4, 1, tzinfo=UTC))
    d = allowed(Registry(store), q, ["phone"], identity_ids=["X"]).decisions["phone"]
    assert d.permit is counts, d
    if not counts:
        assert "sca.government_process" in d.rules
        with clock.frozen(AFTER + timedelta(hours=1)):  # checked again against X as it is
            verify_legal(store, basis, sha256="ef" * 32, actor="chief")
        d = allowed(Registry(store), q, ["phone"], identity_ids=["X"]).decisions["phone"]
        assert d.permit, d
    else:
        with pytest.raises(LegalError, match="already verified"):
            verify_legal(store, basis, sha256="ef" * 32, actor="chief")


def test_legal_process_cannot_be_issued_in_the_future() -> None:
    store = new_store()
    seed(store)
    warrant: dict[str, Any] = {
        "type": "judicial_warrant", "number": "W-FUT", "court": "S.D.N.Y.",
        "judge": "Hon. A. Reyes", "judge_appointment": "article_iii", "level": "federal",
        "issuer": "court", "case_id": "C1", "actor": "gov",
    }
    with clock.frozen(datetime(2026, 3, 1, 23, 30, tzinfo=UTC)):
        with pytest.raises(LegalError, match="in the future"):
            add_legal(store, issued=date(2026, 3, 2), **warrant)
        assert add_legal(store, issued=date(2026, 3, 1), **warrant).number == "W-FUT"
    assert [e["outcome"] for e in audit_rows(store, "legal.add")] == ["ok"]


# -- explain: a record in no identity is nobody's request ------------------------------------

def _fake_explanation(_store: Store, a: str, b: str) -> Explanation:
    feat = Feature("last_name", "different", -4.0, "last_name: RIVERA vs TAYLOR", 0.1)
    return Explanation(a, b, "m1", 0.001, -10.0, (feat,), -14.0, 0.0001)


STRANGER = [
    # name, who, purpose, case, with a court order scoped to X, the rule that denies
    ("subject-access-request-for-X", "rec", SA, "SA1", False, "base.subject_access_request"),
    ("court-order-scoped-to-X", "gov", "criminal_investigation", "C1", True,
     "sca.government_process"),
]


@pytest.mark.parametrize("case", STRANGER, ids=[c[0] for c in STRANGER])
def test_explain_of_an_unlinked_record_is_not_read_under_xs_scope(
    case: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, who, purpose, case_id, with_order, rule = case
    store = _sar_world()  # court/CR-1 is X's; a subject-access request for X is open
    add_source(store, "phone", "phone_subscriber", "US", ["SCA"], 3650)
    own = add_record(store, "phone", "S1", full_name="ANA RIVERA")
    link(store, "X", [own], [])
    stranger = {"court": add_record(store, "court", "CR-2", full_name="PAUL TAYLOR"),
                "phone": add_record(store, "phone", "S2", full_name="PAUL TAYLOR")}
    basis = add_verified(
        store, type="court_order", number="O-1", court="S.D.N.Y.", judge="Hon. A. Reyes",
        judge_appointment="article_iii", level="federal", issuer="court",
        issued=date(2026, 1, 1), scope_identities=("X",), case_id="C1",
    ) if with_order else None
    monkeypatch.setattr(explain_mod, "explain", _fake_explanation)
    mine = "phone/S1" if with_order else "court/CR-1"
    theirs = stranger["phone" if with_order else "court"]
    q = Query(principal=who, purpose=purpose, case_id=case_id, basis=basis)
    assert read_explanation(store, q, mine, mine)["record_a"] == mine  # X's own: read
    with pytest.raises(AccessDenied) as err:
        read_explanation(store, q, mine, theirs)
    assert rule in err.value.rules


# -- a deployment permit cannot widen who reads or who acts ----------------------------------

OPEN_ALL = '@id("county.open_everything")\npermit (principal, action, resource);\n'

WIDENED = [
    # name, who, purpose, case, the rule that must still deny
    ("admin-reads", "admin2", "criminal_investigation", "C1", "base.reader_role"),
    ("counsel-reads", "lawyer", "criminal_investigation", "C1", "base.reader_role"),
    ("records-officer-investigates", "rec", "criminal_investigation", "C1", "base.reader_role"),
    ("overseer-investigates", "ovs", "criminal_investigation", "C1", "base.reader_role"),
    ("records-officer-researches", "rec", "research", "R1", "base.reader_role"),
]


@pytest.fixture()
def open_all(tmp_path: Path) -> tuple[Store, Registry]:
    (tmp_path / "open.cedar").write_text(OPEN_ALL)
    store = new_store()
    seed(store)
    x = add_record(store, "court", "CR-1", full_name="ANA RIVERA", case_number="CR-1")
    link(store, "X", [x], [])
    reg = Registry(store, settings=Settings(policy_dir=tmp_path))
    assert "county.open_everything" in reg.policies.ids
    return store, reg


@pytest.mark.parametrize("case", WIDENED, ids=[c[0] for c in WIDENED])
def test_deployment_permit_makes_no_one_a_reader(
    case: tuple[Any, ...], open_all: tuple[Store, Registry]
) -> None:
    _, who, purpose, case_id, rule = case
    _store, reg = open_all
    q = Query(principal=who, purpose=purpose, case_id=case_id)
    d = allowed(reg, q, ["court"], identity_ids=["X"]).decisions["court"]
    assert not d.permit and rule in d.rules, d


def test_deployment_permit_keeps_the_readers_it_had(open_all: tuple[Store, Registry]) -> None:
    _store, reg = open_all
    q = Query(principal="gov", purpose="criminal_investigation", case_id="C1")
    assert allowed(reg, q, ["court"], identity_ids=["X"]).decisions["court"].permit


ACTS = [
    # who, act: each outside the shipped role table
    ("pi", "audit.read"),  # a private company's investigator: every org's investigations
    ("gov", "policy.install"),
    ("gov", "audit.keys"),
    ("gov", "legal.verify"),  # the second person must supervise or advise
    ("gov", "sar.open"),
    ("gov", "notices.send"),
    ("pi", "users.list"),
    ("root", "legal.add"),
]


@pytest.mark.parametrize(("who", "act"), ACTS)
def test_deployment_permit_gives_no_act_beyond_the_role_table(
    who: str, act: str, open_all: tuple[Store, Registry]
) -> None:
    store, reg = open_all
    with pytest.raises(ActDenied) as err:
        authorise_act(store, who, act, registry=reg, target="x")
    assert "act.role_ceiling" in err.value.rules
    # the shipped table itself still holds
    assert authorise_act(store, "ovs", "audit.read", registry=reg, target="x").rules


# -- through the CLI ------------------------------------------------------------------------

runner = CliRunner()
SHA = "cd" * 32


def _run(data: Path, *args: str, columns: int = 80) -> tuple[int, str]:
    res = runner.invoke(app, ["--data-dir", str(data), *args],
                        env={**os.environ, "COLUMNS": str(columns)})
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, res.output


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("redteam2_cli")
    assert _run(d, "users", "add", "root", "--role", "admin", "--org", "ops",
                "--org-type", "government")[0] == 0
    for name, role, org in [("inv", "investigator", "ice"), ("sup", "supervisor", "ice"),
                            ("ro", "records_officer", "ice"),
                            ("ro2", "records_officer", "cbp")]:
        code, out = _run(d, "users", "add", name, "--role", role, "--org", org,
                         "--org-type", "government", "--as", "root")
        assert code == 0, out
    assert _run(d, "cases", "open", "C-1", "--title", "t", "--as", "inv")[0] == 0
    assert _run(d, "cases", "open", "S-2", "--title", "t", "--kind", SA, "--as", "ro2")[0] == 0
    return d


WARRANT = ("legal", "add", "--type", "judicial_warrant", "--court", "S.D.N.Y.", "--judge",
           "Hon. A. Reyes", "--judge-appointment", "article_iii", "--level", "federal",
           "--issuer", "court", "--case", "C-1")

REFUSALS = [
    # name, args, exit status, message
    ("sar-under-another-orgs-case", ("sar", "open", "P-AAAAAAAAAA", "--case", "S-2",
                                     "--requester", "in person", "--received", "2026-01-05",
                                     "--as", "ro"), DENIED, "no case 'S-2' in 'ice'"),
    ("legal-verify-own-document", ("legal", "verify", "{own}", "--sha256", SHA, "--as", "sup"),
     DENIED, "cannot verify their own"),
    ("legal-issued-next-year", (*WARRANT, "--number", "W-NEXT", "--issued", "2099-01-01",
                                "--as", "inv"), 1, "is in the future"),
    ("users-add-by-investigator", ("users", "add", "mole", "--role", "admin", "--org", "ice",
                                   "--as", "inv"), DENIED, "may not users.manage"),
    ("users-disable-by-ghost", ("users", "disable", "sup", "--as", "ghost"), DENIED,
     "may not users.manage"),
    ("cases-open-by-admin", ("cases", "open", "C-9", "--title", "t", "--as", "root"), DENIED,
     "may not cases.open"),
    ("cases-close-by-ghost", ("cases", "close", "C-1", "--as", "ghost"), DENIED,
     "may not cases.close"),
    ("notices-sent-by-investigator", ("notices", "sent", "N-1", "--as", "inv"), DENIED,
     "may not notices.send"),
    ("retention-by-investigator", ("retention", "apply", "--as", "inv"), DENIED,
     "may not retention.apply"),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_cli_refusals_exit_denied_in_one_line(case: tuple[Any, ...], data_dir: Path) -> None:
    _, args, status, message = case
    code, own = _run(data_dir, *WARRANT, "--number", "W-OWN", "--issued", "2026-01-05",
                     "--as", "sup")
    own = own.strip() if code == 0 else _run(data_dir, "legal", "list", "--as", "sup",
                                              "--json")[1].split('"id": "')[1].split('"')[0]
    code, out = _run(data_dir, *(a.format(own=own) for a in args), columns=40)
    assert code == status, out
    assert message in out, out
    assert len(out.strip().splitlines()) == 1, f"not one line at 40 columns:\n{out}"
    if code == DENIED:  # a refusal by the policy layer is in the audit log
        from idgraph.store import open_store

        store = open_store(data_dir / "idgraph.duckdb")
        try:
            last = audit_rows(store)[-1]
        finally:
            store.close()
        assert last["outcome"] == "deny", last
