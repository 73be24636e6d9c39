"""Users, legal process and catalogue: the registry tables and their rules."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from policy_fixtures import audit_rows, new_store, seed

from idgraph.app import Caller, Denied, Env, admin
from idgraph.policy.acts import ActDenied
from idgraph.policy.catalogue import load_catalogue
from idgraph.policy.legal import LegalError, LegalProcess, add_legal, get_legal
from idgraph.policy.users import UserError, add_user, get_user, list_users
from idgraph.settings import Settings


def test_bootstrap_then_admin_only(tmp_path: Path) -> None:
    store = new_store()
    env = Env(store=store, settings=Settings(data_dir=tmp_path))
    admin.add_user(env, Caller(""), "root", "admin", "ops")  # bootstrap: an empty table
    with pytest.raises(Denied, match=r"users\.manage"):
        admin.add_user(env, Caller(""), "eve", "investigator", "ops")
    with pytest.raises(Denied, match=r"users\.manage"):
        admin.add_user(env, Caller("nobody"), "eve", "investigator", "ops")
    admin.add_user(env, Caller("root"), "ann", "investigator", "ops")
    with pytest.raises(Denied, match=r"users\.manage"):
        admin.add_user(env, Caller("ann"), "bob", "investigator", "ops")
    admin.disable_user(env, Caller("root"), "ann")
    user = get_user(store, "ann")
    assert user is not None and not user.active
    assert [u.name for u in list_users(store)] == ["ann", "root"]
    # refusals are audited too (a refusal by the policy layer is in the log)
    assert [(e["action"], e["outcome"]) for e in audit_rows(store)
            if e["action"].startswith("users.")] == [
        ("users.add", "ok"), ("users.add", "deny"), ("users.add", "deny"), ("users.add", "ok"),
        ("users.add", "deny"), ("users.disable", "ok"),
    ]


BAD_USERS = [("x", "wizard", "private"), ("x", "admin", "cult")]


@pytest.mark.parametrize(("name", "role", "org_type"), BAD_USERS)
def test_bad_user(name: str, role: str, org_type: str) -> None:
    with pytest.raises(UserError):
        add_user(new_store(), name, role, "o", org_type=org_type)


DOC = LegalProcess(
    "L",
    "judicial_warrant",
    "W1",
    "SDNY",
    "J",
    "federal",
    "court",
    date(2026, 1, 1),
    date(2026, 6, 30),
    ("X",),
    ("ny_dmv",),
    "C1",
)
COVERS = [
    ("ny_dmv", ["X"], "C1", date(2026, 3, 1), True),
    ("ny_dmv", ["X"], "C1", date(2026, 7, 1), False),  # expired
    ("ny_dmv", ["X"], "C1", date(2025, 12, 31), False),  # not yet issued
    ("ny_dmv", ["Y"], "C1", date(2026, 3, 1), False),  # other identity
    ("ny_dmv", ["X", "Y"], "C1", date(2026, 3, 1), False),  # not only X
    ("ny_dmv", [], "C1", date(2026, 3, 1), False),  # a search, no identity
    ("il_sos", ["X"], "C1", date(2026, 3, 1), False),  # other source
    ("ny_dmv", ["X"], "C2", date(2026, 3, 1), False),  # other case
]


@pytest.mark.parametrize(("source", "idents", "case_id", "on", "covers"), COVERS)
def test_covers(source: str, idents: list[str], case_id: str, on: date, covers: bool) -> None:
    assert DOC.covers(source, idents, case_id, on) is covers


def test_subpoena_issuer_and_validation() -> None:
    store = new_store()
    seed(store)
    court = add_legal(
        store, type="subpoena", number="S1", issued=date(2026, 1, 1), issuer="court",
        court="Albany Cty Ct", level="state", actor="gov", case_id="C1",
    )
    agency = add_legal(
        store, type="subpoena", number="S2", issued=date(2026, 1, 1), issuer="agency",
        level="federal", actor="gov", case_id="C1",
    )
    assert (court.issuer, agency.issuer) == ("court", "agency")
    assert (court.org, agency.org, agency.verified) == ("ice", "ice", False)
    assert get_legal(store, agency.legal_id) == agency
    with pytest.raises(LegalError, match="already"):
        add_legal(
            store, type="subpoena", number="S1", issued=date(2026, 1, 1), issuer="court",
            court="Albany Cty Ct", level="state", actor="gov", case_id="C1",
        )
    with pytest.raises(LegalError, match="expires"):
        add_legal(
            store,
            type="court_order",
            number="O",
            issued=date(2026, 2, 1),
            expires=date(2026, 1, 1),
            court="Albany Cty Ct",
            judge="J. Doe",
            judge_appointment="state",
            level="state",
            actor="gov",
            case_id="C1",
        )
    with pytest.raises(ActDenied):
        add_legal(
            store, type="consent", number="O", issued=date(2026, 2, 1), actor="zed",
            scope_identities=("X",), case_id="C1",
        )


def test_catalogue_has_purposes_and_cited_codes() -> None:
    cat = load_catalogue()
    for name in (
        "criminal_investigation",
        "civil_immigration_enforcement",
        "subject_access",
        "employment_screening",
        "locate_witness",
        "journalism",
        "research",
    ):
        assert cat.purpose(name) is not None
    assert {f"DPPA-b{i}" for i in range(1, 15)} <= set(cat.codes)
    assert {f"GLBA-e{i}" for i in range(1, 9)} <= set(cat.codes)
    assert cat.codes["DPPA-b1"].citation == "18 U.S.C. § 2721(b)(1)"
    assert cat.codes["FCRA-1681f"].regime == "FCRA"
    assert all(c.citation and c.description for c in cat.codes.values())


def test_every_policy_id_is_documented() -> None:
    from pathlib import Path

    from idgraph.policy.cedar import load_policies

    doc = (Path(__file__).parents[2] / "docs" / "policy.md").read_text()
    missing = [pid for pid in load_policies().ids if f"`{pid}`" not in doc]
    assert missing == []
