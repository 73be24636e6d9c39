"""Notice due dates, sending, and retention with tombstones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pytest
from policy_fixtures import add_record, audit_rows, link, new_store, seed

from idgraph.app import Caller, Denied, Env, admin
from idgraph.policy.notices import NoticeError, create_notices, due_date, list_notices, mark_sent
from idgraph.policy.retention import (
    apply_retention,
    register_removal_hook,
    tombstoned,
    unregister_removal_hook,
)
from idgraph.policy.users import add_user
from idgraph.settings import Settings
from idgraph.store import Store

DUE = [
    (date(2026, 11, 23), "notice:3d", date(2026, 11, 26)),  # Monday
    (date(2026, 11, 27), "notice:3d", date(2026, 11, 30)),  # Friday, over the weekend
    (date(2026, 11, 23), "notice:3bd", date(2026, 11, 27)),  # Monday -> Friday (Thanksgiving)
    (date(2026, 11, 26), "notice:3bd", date(2026, 12, 1)),  # Thursday -> Tuesday
    (date(2026, 11, 27), "notice:3bd", date(2026, 12, 2)),  # Friday -> Wednesday
    (date(2026, 11, 28), "notice:3bd", date(2026, 12, 2)),  # Saturday -> Wednesday
]


@pytest.mark.parametrize(("start", "duty", "due"), DUE)
def test_due_date(start: date, duty: str, due: date) -> None:
    assert due_date(start, duty) == due


def test_bad_duty() -> None:
    with pytest.raises(NoticeError):
        due_date(date(2026, 1, 1), "notify:soon")


def _notice(store: Store) -> str:
    (nid,) = create_notices(
        store,
        identity_id="I",
        org="ice",
        principal="gov",
        case_id="C1",
        duties=[("il_sos", "il.sos.notice", "notice:3bd"), ("x", "r", "log")],
        at=datetime(2026, 11, 27, 9),
    )
    return nid


OVERDUE = [(date(2026, 12, 2), False), (date(2026, 12, 3), True)]


@pytest.mark.parametrize(("today", "overdue"), OVERDUE)
def test_overdue(today: date, overdue: bool) -> None:
    store = new_store()
    seed(store)
    nid = _notice(store)
    assert [n.notice_id for n in list_notices(store)] == [nid]
    assert bool(list_notices(store, today=today, overdue=True)) is overdue


def test_mark_sent_audited_once() -> None:
    store = new_store()
    seed(store)
    nid = _notice(store)
    # The investigator who made the disclosure does not certify the notice; an unknown
    # name, or another organisation's records officer, cannot either.
    add_user(store, "rec_acme", "records_officer", "acme", org_type="private", actor="root")
    for who, why in [("gov", "act.role_ceiling"), ("nobody", "act.principal_known")]:
        with pytest.raises(NoticeError, match=why):
            mark_sent(store, nid, by=who)
    with pytest.raises(NoticeError, match="owed by 'acme'"):
        mark_sent(store, nid, by="rec_acme")
    assert [e["principal"] for e in audit_rows(store, "notices.send")] == ["gov", "nobody"]
    mark_sent(store, nid, by="rec")
    assert list_notices(store) == []
    sent = audit_rows(store, "notices.sent")[-1]
    assert sent["detail"]["notice_id"] == nid and sent["rules"] == ["act.notices_send"]
    with pytest.raises(NoticeError, match="already sent"):
        mark_sent(store, nid, by="rec")


def _retention_store() -> Store:
    store = new_store()
    seed(store)  # utility keeps 30 days, court 3650
    old = add_record(store, "utility", "1", full_name="A", ingested_at=datetime(2026, 1, 1))
    new = add_record(store, "utility", "2", full_name="B", ingested_at=datetime(2026, 3, 1))
    court = add_record(store, "court", "1", full_name="C", ingested_at=datetime(2026, 1, 1))
    link(store, "I", [old, new, court], [(old, court), (new, court)])
    return store


def test_retention_removes_expired_only() -> None:
    store = _retention_store()
    seen: list[list[str]] = []

    def hook(_: Store, ids: Sequence[str]) -> None:
        seen.append(list(ids))

    register_removal_hook(hook)
    try:
        run = apply_retention(store, as_of=datetime(2026, 3, 10), actor="rec")
    finally:
        unregister_removal_hook(hook)
    assert run.record_ids == ("utility/1",) and run.by_source == {"utility": 1}
    assert seen == [["utility/1"]]
    left = {r[0] for r in store.fetchall("SELECT record_id FROM records")}
    assert left == {"utility/2", "court/1"}
    assert store.scalar("SELECT count(*) FROM identity_members WHERE record_id = 'utility/1'") == 0
    assert store.scalar("SELECT count(*) FROM link_edges WHERE record_id_l = 'utility/1'") == 0
    assert store.scalar("SELECT removed FROM retention_runs") == 1
    assert audit_rows(store, "retention.apply")[-1]["record_ids"] == ["utility/1"]
    pairs = [("utility/1", "h-utility/1"), ("utility/1", "changed"), ("utility/2", "h-utility/2")]
    assert tombstoned(store, pairs) == {("utility/1", "h-utility/1")}


def test_retention_refuses_investigator(tmp_path: Path) -> None:
    # who may apply retention is the act retention.apply (Cedar), decided in idgraph.app
    store = _retention_store()
    env = Env(store=store, settings=Settings(data_dir=tmp_path))
    with pytest.raises(Denied) as exc:
        admin.apply_retention(env, Caller("gov"))
    assert "act.role_ceiling" in exc.value.rules
    assert store.scalar("SELECT count(*) FROM records") == 3  # nothing removed
    last = audit_rows(store, "retention.apply")[-1]
    assert (last["principal"], last["outcome"]) == ("gov", "deny")
    assert admin.apply_retention(env, Caller("rec"), as_of=datetime(2026, 3, 15)).removed == 1
