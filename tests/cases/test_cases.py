"""Cases: open, close, list; only open cases of the reader's organisation allow reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from case_fixtures import new_store

from idgraph.app import Caller, Denied, Env
from idgraph.app import cases as app_cases
from idgraph.cases import CaseError, close_case, get_case, list_cases, open_case
from idgraph.policy.engine import allowed
from idgraph.policy.users import add_user, disable_user
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.store import Store


def seed(store: Store) -> None:
    """A court source, an admin, investigators of two organisations and their open cases."""
    store.execute(
        "INSERT INTO sources (source_id, kind, jurisdiction, regimes) "
        "VALUES ('court', 'court', 'US-NY', ?)", [[]]
    )
    add_user(store, "root", "admin", "ops")
    add_user(store, "gov", "investigator", "ice", org_type="government", actor="root")
    add_user(store, "pi", "investigator", "acme", actor="root")
    add_user(store, "rec", "records_officer", "ice", org_type="government", actor="root")
    open_case(store, "C1", title="case one", kind="criminal", actor="gov")
    open_case(store, "P1", title="private case", kind="civil", actor="pi")
    open_case(store, "SA1", title="subject access", kind="subject_access", actor="rec")


def audit_rows(store: Store) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in store.fetchall("SELECT entry FROM audit_log ORDER BY seq")]


def test_open_close_list_and_reads() -> None:
    store = new_store()
    seed(store)
    q = Query(principal="gov", purpose="criminal_investigation", case_id="C2")
    assert not allowed(store, q, ["court"]).any_permitted
    case = open_case(store, "C2", title="t", kind="criminal", actor="gov")
    assert (case.org, case.status) == ("ice", "open")
    assert allowed(store, q, ["court"]).any_permitted
    close_case(store, "C2", actor="gov")
    assert not allowed(store, q, ["court"]).any_permitted
    c2 = get_case(store, "C2")
    assert c2 is not None and c2.status == "closed"
    assert [c.case_id for c in list_cases(store, org="ice")] == ["C1", "SA1", "C2"]
    assert [c.case_id for c in list_cases(store, status="open")] == ["C1", "P1", "SA1"]
    assert [e["action"] for e in audit_rows(store) if e["action"].startswith("cases.")] == [
        *["cases.open"] * 4,
        "cases.close",
    ]


ERRORS = [
    ("open", "C9", "criminal", "nobody", "no user"),  # the app refuses first (below)
    ("open", "C9", "astrology", "gov", "kind"),
    ("open", "C1", "criminal", "gov", "exists"),
    ("close", "P1", "", "gov", "no case"),
    # a colleague of the same organisation who did not open it, and is no supervisor
    ("close", "C1", "", "rec", "only 'gov'"),
    ("close", "SA1", "", "gov", "only 'rec'"),
]


@pytest.mark.parametrize(("op", "case_id", "kind", "actor", "match"), ERRORS)
def test_case_errors(op: str, case_id: str, kind: str, actor: str, match: str) -> None:
    store = new_store()
    seed(store)
    with pytest.raises(CaseError, match=match):
        if op == "open":
            open_case(store, case_id, title="t", kind=kind, actor=actor)
        else:
            close_case(store, case_id, actor=actor)


# who may open and close cases is the act cases.open / cases.close (Cedar), in idgraph.app
REFUSED = [
    ("open", "C9", "nobody", "act.principal_known"),
    ("open", "C9", "root", "act.role_ceiling"),  # an admin manages users, not cases
    ("open", "C9", "lawyer", "act.role_ceiling"),  # counsel reads nothing
    ("close", "C1", "root", "act.role_ceiling"),
    ("close", "C1", "off", "act.principal_active"),  # disabled
]


@pytest.mark.parametrize(("op", "case_id", "actor", "rule"), REFUSED)
def test_case_acts_refused_by_cedar(tmp_path: Path, op: str, case_id: str, actor: str,
                                    rule: str) -> None:
    store = new_store()
    seed(store)
    add_user(store, "lawyer", "counsel", "ice", org_type="government", actor="root")
    add_user(store, "off", "investigator", "ice", org_type="government", actor="root")
    disable_user(store, "off", actor="root")
    env = Env(store=store, settings=Settings(data_dir=tmp_path))
    with pytest.raises(Denied) as exc:
        if op == "open":
            app_cases.open_case(env, Caller(actor), case_id, title="t", kind="criminal")
        else:
            app_cases.close_case(env, Caller(actor), case_id)
    assert rule in exc.value.rules
    last = audit_rows(store)[-1]
    assert (last["action"], last["outcome"], last["principal"]) == (f"cases.{op}", "deny", actor)
    assert rule in last["rules"]


def test_close_by_opener_or_supervisor_once_and_refusals_audited() -> None:
    store = new_store()
    seed(store)
    add_user(store, "boss", "supervisor", "ice", org_type="government", actor="root")
    with pytest.raises(CaseError, match="only 'gov'"):
        close_case(store, "C1", actor="rec")
    denied = [e for e in audit_rows(store) if e["action"] == "cases.close"]
    assert [(e["principal"], e["outcome"]) for e in denied] == [("rec", "deny")]
    close_case(store, "C1", actor="boss")  # a supervisor of the organisation may
    with pytest.raises(CaseError, match="already closed"):
        close_case(store, "C1", actor="gov")
