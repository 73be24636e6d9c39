"""Issue 11 item 8, as the attack: reading without a trace, and two clocks.

Listing users, cases, legal process and notices is decided and audited and scoped to
the reader's organisation; a denied read says which rule denied each source; a
profile never shows a server path; every date a rule reads comes from one UTC clock;
business-day deadlines skip the public holidays of the rule's jurisdiction.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from policy_fixtures import add_record, audit_rows, link, new_store, seed

from idgraph import clock
from idgraph.policy import listing
from idgraph.policy.acts import ActDenied
from idgraph.policy.cedar import load_policies
from idgraph.policy.engine import _legal_for, allowed
from idgraph.policy.legal import NO_BASIS
from idgraph.policy.notices import create_notices, due_date, list_notices
from idgraph.policy.profile import AccessDenied, read_profile
from idgraph.policy.registry import Registry
from idgraph.policy.retention import apply_retention
from idgraph.policy.users import add_user, get_user
from idgraph.schema import Query
from idgraph.settings import Settings
from idgraph.store import Store

CI = "criminal_investigation"


def world() -> Store:
    """Two organisations (ice, acme) with cases, legal process and notices each."""
    store = new_store()
    seed(store)
    add_user(store, "sup", "supervisor", "acme", org_type="private", actor="root")
    for legal_id, case_id, by in [
        ("LP-ice", "C1", "gov"),
        ("LP-acme", "P1", "pi"),
        ("LP-acme-nocase", None, "pi"),
    ]:
        store.execute(
            "INSERT INTO legal_process (legal_id, type, number, level, issuer, issued, "
            "scope_identities, case_id, registered_by) VALUES (?, 'court_order', ?, 'state', "
            "'court', DATE '2026-01-01', ?, ?, ?)",
            [legal_id, legal_id, [f"I-{legal_id}"], case_id, by],
        )
    for ident, org, who, case_id in [("I-ice", "ice", "gov", "C1"), ("I-acme", "acme", "pi", "P1")]:
        create_notices(
            store,
            identity_id=ident,
            org=org,
            principal=who,
            case_id=case_id,
            duties=[("ny_dmv", "ny.vtl201.notice", "notice:3d")],
            at=datetime(2026, 1, 5),
        )
    return store


def _org_of(store: Store, actor: str) -> str:
    return str(store.scalar("SELECT org FROM users WHERE name = ?", [actor]))


EXPECTED: dict[str, str] = {  # what each act shows, per organisation
    "cases.list": "SELECT case_id FROM cases WHERE CAST(? AS VARCHAR) IS NULL OR org = ?",
    "notices.list": "SELECT notice_id FROM notices WHERE CAST(? AS VARCHAR) IS NULL OR org = ?",
    "users.list": "SELECT name FROM users WHERE CAST(? AS VARCHAR) IS NULL OR org = ?",
}
LEGAL = {"LP-ice": "ice", "LP-acme": "acme", "LP-acme-nocase": "acme"}


def _expected(store: Store, act: str, org: str | None) -> set[str]:
    if act == "legal.list":  # the documents this test registered (seed may add others)
        return {i for i, o in LEGAL.items() if org is None or o == org}
    return {r[0] for r in store.fetchall(EXPECTED[act], [org, org])}


Lister = Callable[[Store, str], list[Any]]
LISTS: dict[str, tuple[Lister, Callable[[Any], str]]] = {
    "cases.list": (lambda s, a: listing.list_cases(s, a), lambda c: c.case_id),
    "legal.list": (lambda s, a: listing.list_legal(s, a), lambda d: d.legal_id),
    "notices.list": (lambda s, a: listing.list_notices(s, a), lambda n: n.notice_id),
    "users.list": (lambda s, a: listing.list_users(s, a), lambda u: u.name),
}
# (act, actor, scope): "own" organisation, "all" organisations, or None = refused
CASES: list[tuple[str, str, str | None]] = [
    ("cases.list", "pi", "own"),
    ("cases.list", "gov", "own"),
    ("cases.list", "ovs", "all"),
    ("cases.list", "root", None),  # the operator's admin reads no case files
    ("cases.list", "nobody", None),
    ("legal.list", "pi", "own"),
    ("legal.list", "gov", "own"),
    ("legal.list", "ovs", "all"),
    ("legal.list", "root", None),
    ("notices.list", "rec", "own"),
    ("notices.list", "sup", "own"),
    ("notices.list", "ovs", "all"),
    ("notices.list", "gov", None),  # an investigator does not list who was told
    ("users.list", "sup", "own"),
    ("users.list", "root", "all"),  # the admin manages every organisation's accounts
    ("users.list", "ovs", "all"),
    ("users.list", "gov", None),
    ("users.list", "nobody", None),
]


@pytest.mark.parametrize(("act", "actor", "scope"), CASES)
def test_listing_is_decided_scoped_and_audited(act: str, actor: str, scope: str | None) -> None:
    store = world()
    fn, key = LISTS[act]
    if scope is None:
        with pytest.raises(ActDenied):
            fn(store, actor)
        last = audit_rows(store)[-1]
        assert (last["action"], last["principal"], last["outcome"]) == (act, actor, "deny")
        return
    shown = [key(x) for x in fn(store, actor)]
    org = _org_of(store, actor) if scope == "own" else None
    want = _expected(store, act, org)
    assert want and want <= set(shown)
    if act != "legal.list":
        assert set(shown) == want
    else:
        assert not set(shown) & (set(LEGAL) - want)
    last = audit_rows(store)[-1]
    assert (last["action"], last["principal"], last["outcome"]) == (act, actor, "ok")
    assert last["detail"]["shown"] == shown and last["detail"]["policy_set"]
    if act == "notices.list":  # who was investigated is what a notice list reveals
        assert sorted(last["identity_ids"]) == sorted(
            {n.identity_id for n in list_notices(store) if n.notice_id in shown}
        )


def test_denied_profile_carries_the_per_source_breakdown() -> None:
    store = new_store()
    seed(store)
    reg = Registry(store)
    q = Query(principal="nobody", purpose=CI, case_id="C1")
    with pytest.raises(AccessDenied) as exc:
        read_profile(store, q, "I", registry=reg)
    expected = allowed(reg, q, identity_ids=["I"]).decisions
    assert exc.value.decisions == expected and set(expected) == set(reg.sources)
    assert all(not ok and rules for _, ok, rules in exc.value.breakdown())


def test_profile_never_shows_a_server_path() -> None:
    store = new_store()
    seed(store)
    store.execute(
        "UPDATE sources SET manifest_path = '/srv/idgraph/feeds/court.yaml' "
        "WHERE source_id = 'court'"
    )
    a = add_record(store, "court", "1", full_name="ANA LOPEZ", case_number="CR-1",
                   source_file="/srv/idgraph/feeds/2026/court.csv", source_line=7)
    b = add_record(store, "jail", "1", full_name="ANA LOPEZ", facility="ALBANY COUNTY",
                   source_file="/home/ops/private/jail-export.csv", source_line=2)
    link(store, "I", [a, b], [(a, b)])
    prof = read_profile(store, Query(principal="gov", purpose=CI, case_id="C1"), "I")
    out = json.dumps(prof.to_dict())
    assert "/srv" not in out and "/home" not in out
    assert prof.records["court"][0]["source_file"] == "2026/court.csv"
    assert prof.records["jail"][0]["source_file"] == "jail-export.csv"


@pytest.fixture
def far_east() -> Iterator[None]:
    """Local time UTC+14: the local date is a day ahead of UTC for ten hours a day."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


class _SpyDoc:
    """A legal document that records the date it was asked about."""

    def __init__(self) -> None:
        self.asked: list[date] = []

    def counts_for(self, *args: Any) -> bool:  # (..., on): the date is the last argument
        self.asked.append(args[-1])
        return False

    covers = counts_for


@pytest.mark.usefixtures("far_east")
def test_warrant_validity_reads_the_one_utc_clock() -> None:
    store = new_store()
    seed(store)
    reg = Registry(store)
    spy = _SpyDoc()
    reg.legal = {"LP-x": spy}  # type: ignore[dict-item]
    q = Query(principal="gov", purpose=CI, basis="LP-x", case_id="C1")
    with clock.frozen(datetime(2027, 3, 1, 12, 0, tzinfo=UTC)):  # 2 March, 02:00 local
        assert _legal_for(reg, q, "ny_dmv", ["I"]) == json.dumps(NO_BASIS, sort_keys=True)
    assert spy.asked == [date(2027, 3, 1)]


def test_notices_retention_and_registry_stamps_read_the_clock() -> None:
    store = world()
    # Due 2026-01-08: overdue on a pinned 2027 date, not on the real one.
    with clock.frozen(date(2027, 6, 1)):
        assert len(list_notices(store, overdue=True)) == 2
    with clock.frozen(date(2026, 1, 7)):
        assert list_notices(store, overdue=True) == []
        # utility keeps 30 days; its record was ingested 2026-01-01: not yet expired
        add_record(store, "utility", "1", full_name="ANA LOPEZ")
        assert apply_retention(store, actor="rec").removed == 0
    with clock.frozen(datetime(2026, 2, 15, 9, 30)):
        assert apply_retention(store, actor="rec").removed == 1
        add_user(store, "late", "investigator", "ice", org_type="government", actor="root")
    assert get_user(store, "late") is not None
    created = store.scalar("SELECT created_at FROM users WHERE name = 'late'")
    assert created == datetime(2026, 2, 15, 9, 30)


DUE = [
    # (disclosed, duty, jurisdiction, last day) -- 2026 calendar
    (date(2026, 11, 25), "notice:3bd", "US-IL", date(2026, 12, 1)),  # Wed before Thanksgiving
    (date(2026, 12, 23), "notice:3bd", "US-IL", date(2026, 12, 29)),  # Wed before Christmas
    (date(2026, 2, 10), "notice:3bd", "US-IL", date(2026, 2, 17)),  # Lincoln's Birthday (IL)
    (date(2026, 2, 10), "notice:3bd", "US", date(2026, 2, 13)),  # ... is no federal holiday
    (date(2026, 11, 25), "notice:3d", "US-NY", date(2026, 11, 28)),  # calendar days
]


@pytest.mark.parametrize(("start", "duty", "where", "due"), DUE)
def test_business_days_skip_the_jurisdictions_holidays(
    start: date, duty: str, where: str, due: date
) -> None:
    assert due_date(start, duty, where) == due


def test_illinois_notice_counts_illinois_business_days() -> None:
    assert load_policies().jurisdictions["il.sos.notice"] == "US-IL"
    store = new_store()
    [nid] = create_notices(
        store,
        identity_id="I",
        org="ice",
        principal="gov",
        case_id="C1",
        duties=[("il_sos", "il.sos.notice", "notice:3bd")],
        at=datetime(2026, 11, 25, 15, 0),
        jurisdictions=load_policies().jurisdictions,
    )
    [n] = list_notices(store)
    assert n.notice_id == nid and n.due_date == date(2026, 12, 1)


def test_a_disclosure_under_a_state_duty_uses_that_states_calendar(tmp_path: Path) -> None:
    (tmp_path / "county.cedar").write_text(
        '@id("county.court_notice")\n@duty("notice:3bd")\n@jurisdiction("US-IL")\n'
        'permit (principal, action == Action::"read", resource)\n'
        'when { resource.kind == "court" };\n'
    )
    store = new_store()
    seed(store)
    a = add_record(store, "court", "1", full_name="ANA LOPEZ", case_number="CR-1")
    link(store, "I", [a], [])
    reg = Registry(store, settings=Settings(policy_dir=tmp_path))
    with clock.frozen(datetime(2026, 11, 25, 23, 30, tzinfo=UTC)):
        prof = read_profile(store, Query(principal="gov", purpose=CI, case_id="C1"), "I",
                            registry=reg)
    [n] = [n for n in list_notices(store) if n.notice_id in prof.notices]
    assert n.rule == "county.court_notice" and n.due_date == date(2026, 12, 1)
