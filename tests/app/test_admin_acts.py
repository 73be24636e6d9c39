"""Every administrative act of idgraph.app goes through the one gate: a caller without
the role is refused (Denied, audited under the act's entry name with the rule) before any
work; a permitted act does its work and is audited once, with the rules, the policy-set
digest and via."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from admin_fixtures import DISABLED, UNKNOWN, entries, env_over, last_entry, seeded_store
from app_backend import new_store

from idgraph.app import Caller, Conflict, Denied, Env, Invalid, NotFound, admin, audit, reports
from idgraph.app import cases as app_cases
from idgraph.app.gate import as_app_error
from idgraph.audit.reports import CorrectionsReport, OversightReport
from idgraph.policy.notices import create_notices

SCAN = "ab" * 32


@pytest.fixture
def env(tmp_path: Path) -> Env:
    e = env_over(seeded_store(), tmp_path)
    app_cases.open_case(e, Caller("investigator"), "C1", title="t", kind="criminal")
    app_cases.open_case(e, Caller("records_officer"), "SA1", title="sar", kind="subject_access")
    return e


Act = Callable[[Env, Caller], Any]

# (name, call, entry action): the act called by someone who may not do it
ACTS: list[tuple[str, Act, str]] = [
    ("add_user", lambda e, c: admin.add_user(e, c, "zed", "investigator", "ice",
                                             org_type="government"), "users.add"),
    ("list_users", lambda e, c: admin.list_users(e, c), "users.list"),
    ("disable_user", lambda e, c: admin.disable_user(e, c, "investigator"), "users.disable"),
    ("open_case", lambda e, c: app_cases.open_case(e, c, "C9", title="t", kind="criminal"),
     "cases.open"),
    ("close_case", lambda e, c: app_cases.close_case(e, c, "C1"), "cases.close"),
    ("list_cases", lambda e, c: app_cases.list_cases(e, c), "cases.list"),
    ("get_case", lambda e, c: app_cases.get_case(e, c, "C1"), "cases.list"),
    ("add_legal", lambda e, c: admin.add_legal(
        e, c, type="subpoena", number="S-1", issued=date(2026, 1, 2), level="state",
        issuer="agency", case_id="C1"), "legal.add"),
    ("verify_legal", lambda e, c: admin.verify_legal(e, c, "L-x", sha256=SCAN),
     "legal.verify"),
    ("list_legal", lambda e, c: admin.list_legal(e, c), "legal.list"),
    ("list_notices", lambda e, c: admin.list_notices(e, c), "notices.list"),
    ("mark_notice_sent", lambda e, c: admin.mark_notice_sent(e, c, "N-x"), "notices.sent"),
    ("apply_retention", lambda e, c: admin.apply_retention(e, c), "retention.apply"),
    ("list_retention_runs", lambda e, c: admin.list_retention_runs(e, c), "retention.list"),
    ("judge", lambda e, c: admin.judge(e, c, "a/1", "a/2", "same"), "link.judge"),
    ("open_sar", lambda e, c: admin.open_sar(e, c, "P-1", case_id="SA1", requester="x",
                                             received=date(2026, 1, 2)), "sar.open"),
    ("close_sar", lambda e, c: admin.close_sar(e, c, "SAR-x"), "sar.close"),
    ("list_sars", lambda e, c: admin.list_sars(e, c), "sar.list"),
    ("policy_install", lambda e, c: admin.policy_install(e, c, Path(__file__).parent),
     "policy.install"),
    ("subject_report", lambda e, c: reports.subject_report(e, c, "P-1"), "report.subject"),
    ("oversight_report", lambda e, c: reports.oversight_report(
        e, c, start=date(2026, 1, 1), end=date(2026, 1, 2)), "report.oversight"),
    ("corrections_report", lambda e, c: reports.corrections_report(e, c),
     "report.corrections"),
    ("audit_prove", lambda e, c: audit.audit_prove(e, c, 0), "audit.read"),
    ("audit_export", lambda e, c: audit.audit_export(e, c), "audit.read"),
    ("audit_checkpoint", lambda e, c: audit.audit_checkpoint(e, c), "audit.checkpoint"),
    ("audit_rotate_key", lambda e, c: audit.audit_rotate_key(e, c), "audit.keys"),
    ("audit_verify", lambda e, c: audit.audit_verify(e, c), "audit.verify"),
]


@pytest.mark.parametrize("who", [UNKNOWN, DISABLED, ""])
@pytest.mark.parametrize(("name", "call", "action"), ACTS, ids=[a[0] for a in ACTS])
def test_refused_before_any_work(env: Env, who: str, name: str, call: Act,
                                 action: str) -> None:
    before = len(entries(env.store))
    with pytest.raises(Denied) as exc:
        call(env, Caller(who))
    assert exc.value.rules and exc.value.status == 403
    after = entries(env.store)
    assert len(after) == before + 1  # the refusal, nothing else
    e = after[-1]
    assert (e["action"], e["outcome"], e["principal"]) == (action, "deny", who or "anonymous")
    assert list(exc.value.rules) == e["rules"]


# one role that may not (the rule that refuses it is the ceiling)
WRONG_ROLE = {
    "add_user": "supervisor", "list_users": "investigator", "disable_user": "overseer",
    "open_case": "admin", "close_case": "counsel", "list_cases": "admin", "get_case": "admin",
    "add_legal": "records_officer", "verify_legal": "investigator", "list_legal": "admin",
    "list_notices": "investigator", "mark_notice_sent": "admin",
    "apply_retention": "investigator", "list_retention_runs": "investigator",
    "judge": "investigator", "open_sar": "overseer", "close_sar": "investigator",
    "list_sars": "investigator", "policy_install": "supervisor",
    "subject_report": "investigator", "oversight_report": "records_officer",
    "corrections_report": "admin", "audit_prove": "records_officer",
    "audit_export": "admin", "audit_checkpoint": "overseer", "audit_rotate_key": "overseer",
}


@pytest.mark.parametrize(("name", "call", "action"),
                         [a for a in ACTS if a[0] in WRONG_ROLE], ids=list(WRONG_ROLE))
def test_refused_for_a_role_without_the_act(env: Env, name: str, call: Act,
                                            action: str) -> None:
    with pytest.raises(Denied) as exc:
        call(env, Caller(WRONG_ROLE[name]))
    assert "act.role_ceiling" in exc.value.rules
    e = last_entry(env.store)
    assert (e["action"], e["outcome"], e["role"]) == (action, "deny", WRONG_ROLE[name])


def test_users_bootstrap_then_admin(tmp_path: Path) -> None:
    env = env_over(new_store(), tmp_path)
    first = admin.add_user(env, Caller(""), "root", "admin", "ops")
    assert first.role == "admin"
    assert last_entry(env.store)["principal"] == "bootstrap"
    with pytest.raises(Denied):
        admin.add_user(env, Caller(""), "eve", "investigator", "ops")  # no longer empty
    admin.add_user(env, Caller("root"), "ann", "supervisor", "ops")
    e = last_entry(env.store)
    assert (e["action"], e["rules"], e["detail"]["user"]) == ("users.add", ["act.users_manage"],
                                                             "ann")
    assert [u.name for u in admin.list_users(env, Caller("ann"))] == ["ann", "root"]
    with pytest.raises(Conflict):
        admin.add_user(env, Caller("root"), "ann", "supervisor", "ops")
    assert last_entry(env.store)["outcome"] == "error"
    with pytest.raises(Invalid):
        admin.add_user(env, Caller("root"), "operator:ann", "admin", "ops")
    admin.disable_user(env, Caller("root"), "ann")
    with pytest.raises(Denied) as exc:
        admin.list_users(env, Caller("ann"))  # the registry was refreshed
    assert "act.principal_active" in exc.value.rules
    with pytest.raises(NotFound):
        admin.disable_user(env, Caller("root"), "nobody")


def test_cases_legal_and_notices(env: Env) -> None:
    assert [c.case_id for c in app_cases.list_cases(env, Caller("supervisor"))] == ["C1", "SA1"]
    assert app_cases.get_case(env, Caller("overseer"), "C1").org == "ice"
    with pytest.raises(NotFound):
        app_cases.get_case(env, Caller("investigator"), "NOPE")
    with pytest.raises(Invalid):
        app_cases.list_cases(env, Caller("investigator"), status="pending")
    doc = admin.add_legal(env, Caller("investigator"), type="subpoena", number="S-1",
                          issued=date(2026, 1, 2), level="state", issuer="agency",
                          case_id="C1")
    e = last_entry(env.store)
    assert (e["action"], e["outcome"], e["basis"]) == ("legal.add", "ok", doc.legal_id)
    assert e["rules"] == ["act.legal_add"] and e["detail"]["via"] == "cli"
    with pytest.raises(Denied):  # the registrant may not verify their own (object rule)
        admin.add_legal(env, Caller("pi"), type="subpoena", number="S-2",
                        issued=date(2026, 1, 2), level="state", issuer="agency",
                        case_id="C1")  # another organisation's case
    assert last_entry(env.store)["outcome"] == "deny"
    verified = admin.verify_legal(env, Caller("counsel", via="api"), doc.legal_id, sha256=SCAN)
    assert verified.verified_by == "counsel"
    e = last_entry(env.store)
    assert (e["action"], e["detail"]["via"], e["basis"]) == ("legal.verify", "api",
                                                            doc.legal_id)
    assert [d.legal_id for d in admin.list_legal(env, Caller("overseer"))] == [doc.legal_id]
    ids = create_notices(env.store, identity_id="P-1", org="ice", principal="investigator",
                         case_id="C1", duties=[("il_sos", "il.sos.notice", "notice:3bd")],
                         at=datetime(2026, 1, 5))
    listed = admin.list_notices(env, Caller("records_officer"), today=date(2026, 1, 6))
    assert [n.notice_id for n in listed] == ids
    admin.mark_notice_sent(env, Caller("supervisor"), ids[0])
    e = last_entry(env.store)
    assert (e["action"], e["outcome"], e["rules"]) == ("notices.sent", "ok",
                                                       ["act.notices_send"])
    with pytest.raises(Conflict):
        admin.mark_notice_sent(env, Caller("supervisor"), ids[0])
    app_cases.close_case(env, Caller("investigator"), "C1")
    with pytest.raises(Denied, match="only 'records_officer'"):
        app_cases.close_case(env, Caller("overseer"), "SA1")  # neither owner nor supervisor
    assert last_entry(env.store)["outcome"] == "deny"


def test_sar_retention_reports(env: Env) -> None:
    sar = admin.open_sar(env, Caller("records_officer"), "P-1", case_id="SA1",
                         requester="by post, id checked", received=date(2026, 1, 2))
    assert [s.sar_id for s in admin.list_sars(env, Caller("overseer"))] == [sar.sar_id]
    assert admin.close_sar(env, Caller("records_officer"), sar.sar_id).status == "closed"
    with pytest.raises(Denied, match="already closed"):
        admin.close_sar(env, Caller("records_officer"), sar.sar_id)
    run = admin.apply_retention(env, Caller("operator:tester"))
    assert run.removed == 0 and run.actor == "operator:tester"
    e = last_entry(env.store)
    assert (e["action"], e["role"], e["rules"]) == ("retention.apply", "operator",
                                                    ["act.retention_apply"])
    assert [r.run_id for r in admin.list_retention_runs(env, Caller("overseer"))] == [run.run_id]
    with pytest.raises(Invalid, match="future"):
        admin.apply_retention(env, Caller("admin"), as_of=datetime(2999, 1, 1))
    report = reports.oversight_report(env, Caller("overseer"), start=date(2026, 1, 1),
                                      end=date(2026, 12, 31))
    assert isinstance(report, OversightReport)
    e = entries(env.store)[report.report_entry]
    assert (e["action"], e["rules"]) == ("report.oversight", ["act.report_oversight"])
    assert last_entry(env.store) == e  # audited once
    fixes = reports.corrections_report(env, Caller("records_officer"), since=date(2026, 1, 1))
    assert isinstance(fixes, CorrectionsReport)
    with pytest.raises(Denied):  # a records officer, but no open request for P-1
        reports.subject_report(env, Caller("records_officer"), "P-1")
    with pytest.raises(Denied):  # the overseer's copy is the overseer's
        reports.subject_report(env, Caller("records_officer"), "P-1", copy="overseer")
    with pytest.raises(Invalid):
        reports.subject_report(env, Caller("overseer"), "P-1", copy="press")
    subject = reports.subject_report(env, Caller("overseer"), "P-1", copy="overseer")
    e = entries(env.store)[subject.report_entry]
    assert e["rules"] == ["act.report_subject"] and e["detail"]["variant"] == "overseer"
    assert subject.report_proof.verified


def test_audit_acts_log_every_read(env: Env) -> None:
    result = audit.audit_verify(env, Caller("investigator"))
    assert result["ok"] and result["summary"].startswith("OK")
    e = last_entry(env.store)
    assert (e["action"], e["outcome"], e["detail"]["size"]) == ("audit.verify", "ok",
                                                                result["size"])
    note = audit.audit_checkpoint(env, Caller("admin"))
    assert note
    size = len(entries(env.store))
    proof = audit.audit_prove(env, Caller("overseer"), 0)
    assert proof["verified"] and proof["index"] == 0
    e = entries(env.store)[size]  # the read, logged before the proof was made
    assert (e["action"], e["detail"]["read"], e["detail"]["index"]) == ("audit.read", "prove", 0)
    with pytest.raises(NotFound):
        audit.audit_prove(env, Caller("overseer"), 10**6)
    assert last_entry(env.store)["outcome"] == "error"
    listed = audit.audit_export(env, Caller("overseer"))
    assert listed[-1]["action"] == "audit.read" and listed[-1]["detail"]["read"] == "entries"
    assert [x["index"] for x in listed] == list(range(len(listed)))
    assert audit.audit_pubkey(env, Caller("")).startswith("idgraph")  # public: no act


def test_library_errors_map_to_app_errors() -> None:
    from idgraph.cases import CaseError, CaseRefused
    from idgraph.policy.acts import ActDenied

    assert isinstance(as_app_error(ActDenied("a", "x", ("r",))), Denied)
    assert as_app_error(ActDenied("a", "x", ("r",))).rules == ("r",)
    assert isinstance(as_app_error(CaseRefused("no")), Denied)
    assert isinstance(as_app_error(CaseError("case 'C1' exists")), Conflict)
    assert isinstance(as_app_error(CaseError("no case 'C1' in 'x'")), NotFound)
    assert isinstance(as_app_error(KeyError("unknown record: a/1")), NotFound)
    assert str(as_app_error(KeyError("unknown record: a/1"))) == "unknown record: a/1"
    assert isinstance(as_app_error(ValueError("bad")), Invalid)


SRC = Path(__file__).parents[2] / "src" / "idgraph"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_the_explanation_is_reached_only_through_the_policy_read() -> None:
    users = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
             if any(m.startswith("idgraph.link._explain") for m in _imports(p))]
    assert users == ["policy/explain.py"]
    assert not (SRC / "link" / "explain.py").exists()
    import idgraph.link

    assert not hasattr(idgraph.link, "explain")


HAND_WRITTEN = ("JUDGE_ROLES", "VERIFIER_ROLES", "CASE_ROLES", "COPY_ROLES", "_require_admin",
                "SEE_ALL")


def test_no_hand_written_role_lists_remain() -> None:
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        for name in HAND_WRITTEN:
            assert name not in text, f"{path}: {name}"


@pytest.mark.parametrize("name", ["operator:evil", "Root", "root ", "ro\u200bot", "a/b",
                                  "<script>alert(1)</script>", "", "x" * 65, "-x", "a b"])
def test_user_names_cannot_pass_for_another_or_carry_markup(env: Env, name: str) -> None:
    with pytest.raises(Invalid):
        admin.add_user(env, Caller("admin"), name, "investigator", "ice",
                       org_type="government")
    assert last_entry(env.store)["outcome"] == "error"


def test_a_name_differing_only_by_case_from_an_old_one_is_refused(env: Env) -> None:
    env.store.execute("UPDATE users SET name = 'Legacy' WHERE name = 'pi'")  # made before
    with pytest.raises(Invalid, match="would pass for"):
        admin.add_user(env, Caller("admin"), "legacy", "investigator", "acme")
