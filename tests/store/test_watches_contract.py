"""The monitor's repository (idgraph.store.watches) on every backend: watches and their
standing, following retired identities, deconfliction notices, alerts, webhook
deliveries, feed tokens and receipts; the same answers from DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from idgraph.store import Store
from idgraph.store import watches as repo

T0 = datetime(2026, 6, 1, 9, 30, 0, 123456)
EXPIRES = date(2026, 12, 31)


def _watch(watch_id: str, *, owner: str = "ana", org: str = "nypd",
           identity_id: str | None = "I1", criteria: str | None = None,
           case_id: str = "C1", basis: str | None = "L1", status: str = "active",
           at: datetime = T0, webhook_url: str | None = None) -> repo.WatchRow:
    return repo.WatchRow(watch_id, owner, org, identity_id, criteria, case_id,
                         "criminal_investigation", ("ci.a", "ci.b"), basis, EXPIRES,
                         webhook_url, status, at)


def _seed(store: Store) -> None:
    store.executemany(
        "INSERT INTO users (name, role, org, org_type, disabled) VALUES (?, ?, ?, ?, ?)",
        [("ana", "investigator", "nypd", "government", False),
         ("bo", "investigator", "fbi", "government", False),
         ("cy", "investigator", "nypd", "government", True)])
    store.executemany(
        "INSERT INTO cases (case_id, title, status, org) VALUES (?, ?, ?, ?)",
        [("C1", "one", "open", "nypd"), ("C2", "two", "closed", "fbi")])
    store.execute("INSERT INTO legal_process (legal_id, type, expires) VALUES (?, ?, ?)",
                  ["L1", "judicial_warrant", date(2026, 9, 1)])


@pytest.fixture
def store(any_store: Store) -> Store:
    _seed(any_store)
    return any_store


def test_watch_round_trip_and_listing(store: Store) -> None:
    a = _watch("W-a", at=T0)
    b = _watch("W-b", owner="bo", org="fbi", identity_id=None,
               criteria='{"last_name": "ROE"}', case_id="C2", basis=None,
               at=T0 + timedelta(seconds=1), webhook_url="https://hooks.example/x")
    repo.insert_watch(store, a, "ab" * 32)
    repo.insert_watch(store, b, "cd" * 32)
    assert repo.get_watch(store, "W-a") == a
    got = repo.get_watch(store, "W-b")
    assert got == b and isinstance(got.expires, date) and got.claims == ("ci.a", "ci.b")
    assert json.loads(got.criteria or "") == {"last_name": "ROE"}
    assert repo.get_watch(store, "W-none") is None
    assert repo.watch_secret(store, "W-b") == "cd" * 32
    assert repo.watch_secret(store, "W-none") is None
    assert repo.list_watches(store) == [a, b]
    assert repo.list_watches(store, org="fbi") == [b]
    assert repo.list_watches(store, owner="ana", status="active") == [a]
    repo.cancel_watch(store, "W-a", actor="ana", at=T0)
    assert repo.list_watches(store, status="active") == [b]
    assert repo.get_watch(store, "W-a") == a._replace(status="cancelled")


def test_standing_reads_case_legal_process_and_owner(store: Store) -> None:
    repo.insert_watch(store, _watch("W-1"), "00" * 32)
    repo.insert_watch(store, _watch("W-2", owner="cy", basis="L-gone",
                                    at=T0 + timedelta(seconds=1)), "00" * 32)
    repo.insert_watch(store, _watch("W-3", owner="bo", org="fbi", identity_id=None,
                                    criteria='{"zip": "10001"}', case_id="C2", basis=None),
                      "00" * 32)
    found = repo.watching(store, ["I1", "I-other"])
    assert [(i, s.watch.watch_id) for i, s in found] == [("I1", "W-1"), ("I1", "W-2")]
    one, two = (s for _, s in found)
    assert (one.case_status, one.legal_expires, one.legal_known, one.owner_active) == (
        "open", date(2026, 9, 1), True, True)
    # the legal process is unknown; the owner is disabled
    assert (two.legal_known, two.owner_active) == (False, False)
    [crit] = repo.criteria_watches(store)
    assert crit.watch.watch_id == "W-3" and crit.case_status == "closed"
    assert (crit.legal_expires, crit.legal_known, crit.owner_active) == (None, False, True)
    assert repo.watching(store, []) == []


def test_a_watch_follows_its_identity_through_retirements(store: Store) -> None:
    repo.insert_watch(store, _watch("W-1", identity_id="A"), "00" * 32)
    repo.insert_watch(store, _watch("W-x", identity_id="Z", status="cancelled"), "00" * 32)
    store.executemany(
        'INSERT INTO identity_lineage (run_id, identity_id, event, related, "at") '
        "VALUES (?, ?, ?, ?, ?)",
        [("r1", "A", "retired", ["B"], T0),  # merged into B
         ("r2", "B", "retired", ["C", "D"], T0),  # B split, no piece kept its id
         ("r3", "D", "retired", ["A"], T0),  # a cycle ends
         ("r3", "C", "kept", [], T0),
         ("r3", "Z", "retired", ["A"], T0)])
    assert repo.followed_identities(store, "W-1") == ["A", "B", "C", "D"]
    assert repo.followed_identities(store, "W-x") == []
    found = repo.watching(store, ["C", "D", "Q"])
    assert sorted(i for i, _ in found) == ["C", "D"]
    assert {s.watch.watch_id for _, s in found} == {"W-1"}


def test_deconflictions(store: Store) -> None:
    rows = [repo.DeconflictionRow(f"D-{n}", "I1", "W-1", "W-2", who, "nypd", "fbi", "bo",
                                  T0 + timedelta(seconds=n))
            for n, who in enumerate(["ana", "sup", "ana"])]
    repo.insert_deconflictions(store, rows)
    repo.insert_deconflictions(store, [])
    assert repo.deconflictions_for(store, "ana") == [rows[0], rows[2]]
    assert repo.deconflictions_for(store, "nobody") == []


def _alert(n: int, *, owner: str = "ana", record_id: str = "src/r1") -> repo.AlertRow:
    return repo.AlertRow(f"A-{n}", "W-1", owner, "nypd", "C1", "I1", record_id, "court",
                         "new", ("r.one",), ("N-1", "N-2") if n % 2 else (),
                         json.dumps({"last_name": "ROE", "n": n}),
                         T0 + timedelta(minutes=n))


@pytest.mark.parametrize("n", [1, 3, 7])  # DuckDB: VALUES up to 4 rows, unnest beyond
def test_alerts_insert_list_and_remove(store: Store, n: int) -> None:
    rows = [_alert(i, record_id=f"src/r{i % 2}") for i in range(n)]
    with store.transaction():
        repo.insert_alerts(store, rows)
        repo.insert_alerts(store, [])
    assert repo.has_alerts(store)
    listed = repo.list_alerts(store, "ana", limit=50)
    assert listed == sorted(rows, key=lambda a: a.raised_at, reverse=True)
    assert repo.list_alerts(store, "ana", limit=1) == listed[:1]
    assert repo.list_alerts(store, "bo") == []
    assert repo.alert_ids_of_records(store, ["src/r0", "zz"]) == sorted(
        a.alert_id for a in rows if a.record_id == "src/r0")
    repo.queue_delivery(store, "A-0", "W-1", "ana", "https://hooks.example/x", T0)
    gone = repo.remove_alerts(store, ["A-0", "A-missing"])
    assert gone == ["A-0"] and repo.delivery_status(store, "A-0") is None
    assert repo.remove_alerts(store, []) == []
    assert {a.alert_id for a in repo.list_alerts(store, "ana")} == {
        a.alert_id for a in rows[1:]}


def test_alert_ids_disclosing_reads_the_audit_log(store: Store) -> None:
    def entry(seq: int, action: str, alert_id: str, record_ids: list[str]) -> None:
        text = json.dumps({"action": action, "record_ids": record_ids,
                           "detail": {"alert_id": alert_id}})
        store.execute("INSERT INTO audit_log (seq, entry, leaf_hash) VALUES (?, ?, ?)",
                      [seq, text, f"h{seq}"])

    entry(0, "alert", "A-1", ["src/r1"])
    entry(1, "alert", "A-2", ["src/r2", "src/r3"])
    entry(2, "profile.read", "A-3", ["src/r1"])  # not a disclosure by alert
    entry(3, "alert", "A-4", [])
    assert repo.alert_ids_disclosing(store, ["src/r1", "src/r3"], "alert") == ["A-1", "A-2"]
    assert repo.alert_ids_disclosing(store, ["src/none"], "alert") == []
    assert repo.alert_ids_disclosing(store, [], "alert") == []


def test_records_an_alert_reads(store: Store) -> None:
    store.executemany(
        "INSERT INTO records (record_id, source_id, source_record_id, version, is_current, "
        "batch_id, origin_jurisdiction, last_name, dob, source_line) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [("s/1", "s", "1", 1, False, "b0", None, "OLD", None, 1),
         ("s/1", "s", "1", 2, True, "b1", "NY", "ROE", date(1990, 1, 2), 2),
         ("s/2", "s", "2", 1, True, "b1", None, "DOE", None, 1),
         ("s/3", "s", "3", 1, True, "b1", None, "POE", None, 3)])
    store.executemany("INSERT INTO identity_members (identity_id, record_id) VALUES (?, ?)",
                      [("I1", "s/1"), ("I2", "s/2")])
    got = repo.current_records(store, ["s/1", "s/2", "s/none"],
                               ["record_id", "last_name", "dob"])
    assert got == {"s/1": {"record_id": "s/1", "last_name": "ROE", "dob": date(1990, 1, 2)},
                   "s/2": {"record_id": "s/2", "last_name": "DOE", "dob": None}}
    assert repo.current_records(store, [], ["record_id"]) == {}
    with pytest.raises(ValueError):
        repo.current_records(store, ["s/1"], ["record_id", "nope; DROP TABLE x"])
    assert sorted(repo.current_segments(store, ["s/1", "s/2"])) == [
        ("s/1", "s", "NY"), ("s/2", "s", None)]
    assert repo.joined_records(store, "b1") == [
        repo.JoinedRecord("s/2", "I2", "s", None, 1),
        repo.JoinedRecord("s/1", "I1", "s", "NY", 2)]


def test_webhook_deliveries(store: Store) -> None:
    repo.insert_watch(store, _watch("W-1", webhook_url="https://hooks.example/x"), "ab" * 32)
    repo.insert_watch(store, _watch("W-2", owner="cy", status="cancelled"), "cd" * 32)
    with store.transaction():
        repo.insert_alerts(store, [_alert(1), _alert(2)._replace(watch_id="W-2", owner="cy")])
        for n, (w, o) in enumerate([("W-1", "ana"), ("W-2", "cy"), ("W-1", "ana")], 1):
            repo.queue_delivery(store, f"A-{n}", w, o, "https://hooks.example/x",
                                T0 + timedelta(seconds=n))
    pending = repo.pending_deliveries(store)
    assert [p.alert_id for p in pending] == ["A-1", "A-2", "A-3"]
    first, second, third = pending
    assert (first.watch_status, first.secret, first.owner_active) == ("active", "ab" * 32, True)
    assert first.alert == _alert(1)
    assert (second.watch_status, second.owner_active) == ("cancelled", False)
    assert third.alert is None  # no alert row (removed)
    assert repo.delivery_status(store, "A-1") == ("pending", 0)
    assert first.queued_at == T0 + timedelta(seconds=1)
    # a claim moves queued_at from the value read; a second claim with it fails
    later = T0 + timedelta(hours=1)
    assert repo.claim_delivery(store, "A-1", first.queued_at, later)
    assert not repo.claim_delivery(store, "A-1", first.queued_at, later)
    assert {p.alert_id: p.queued_at for p in repo.pending_deliveries(store)}["A-1"] == later
    repo.finish_deliveries(store, [("A-1", True, 2, None)], T0)
    repo.mark_undeliverable(store, [("A-2", "watch stopped"), ("A-1", "ignored")], T0)
    repo.finish_deliveries(store, [("A-3", False, 5, "HTTP 500")], T0)
    assert repo.delivery_status(store, "A-1") == ("delivered", 2)
    assert [p.alert_id for p in repo.pending_deliveries(store)] == []
    assert not repo.claim_delivery(store, "A-1", later, later)  # no longer pending
    dead = repo.dead_letters(store)
    assert [(d.alert_id, d.attempts, d.last_error) for d in dead] == [
        ("A-2", 0, "watch stopped"), ("A-3", 5, "HTTP 500")]
    assert dead[1].finished_at == T0 and isinstance(dead[1].queued_at, datetime)
    assert [d.alert_id for d in repo.dead_letters(store, owner="ana")] == ["A-3"]
    assert [d.alert_id for d in repo.dead_letters(store, org="fbi")] == []


def test_feed_tokens(store: Store) -> None:
    a = repo.FeedTokenRow("tok-a", "src", T0, "root", T0 + timedelta(days=1), None)
    b = repo.FeedTokenRow("tok-b", "other", T0 + timedelta(seconds=1), "root",
                          T0 + timedelta(days=2), None)
    repo.insert_feed_token(store, a, "d" * 64)
    repo.insert_feed_token(store, b, "e" * 64)
    assert repo.feed_token(store, "tok-a") == (a, "d" * 64)
    assert repo.feed_token(store, "nope") is None
    assert repo.list_feed_tokens(store) == [a, b]
    assert repo.list_feed_tokens(store, "src") == [a]
    assert repo.active_token_count(store, "src", T0) == 1
    assert repo.active_token_count(store, "src", T0 + timedelta(days=1)) == 0  # expired
    later = T0 + timedelta(hours=1)
    repo.revoke_feed_token(store, "tok-a", later)
    repo.revoke_feed_token(store, "tok-a", later + timedelta(hours=1))  # keeps the first
    assert repo.list_feed_tokens(store, "src") == [a._replace(revoked_at=later)]
    assert repo.active_token_count(store, "src", T0) == 0


def test_feed_receipts_and_totals(store: Store) -> None:
    def receipt(n: int, at: datetime, stored: int) -> repo.FeedReceiptRow:
        return repo.FeedReceiptRow(f"P{n}", "src", "tok-a" if n else None, f"b{n}",
                                   "f" * 64, at, at, stored + 1, stored, 1, 0)

    old, new = T0 - timedelta(hours=1), T0 - timedelta(seconds=10)
    with store.transaction():
        repo.insert_receipt(store, receipt(0, old, 3))
        repo.insert_receipt(store, receipt(1, new, 5))
        repo.insert_receipt(store, receipt(2, new + timedelta(seconds=1), 2))
    assert repo.push_receipt(store, "P1") == repo.PendingPush("P1", "src", "b1")
    assert repo.push_receipt(store, "nope") is None
    assert [p.push_id for p in repo.unplaced_pushes(store)] == ["P0", "P1", "P2"]
    assert repo.mark_placed(store, "P0", old + timedelta(seconds=30))
    assert not repo.mark_placed(store, "P0", T0)  # placed once: the first time stays
    assert repo.mark_placed(store, "P1", new + timedelta(seconds=2, microseconds=500000))
    assert [p.push_id for p in repo.unplaced_pushes(store, "src")] == ["P2"]
    assert repo.unplaced_pushes(store, "other") == []
    repo.note_receipt_error(store, "P2", "x" * 600, T0)
    t = repo.feed_totals(store, "src", T0 - timedelta(seconds=60))
    assert (t.stored, t.duplicate, t.quarantined, t.pending) == (10, 3, 0, 1)
    assert t.last_push_at == new + timedelta(seconds=1)
    assert (t.window_pushes, t.window_stored) == (2, 7)
    assert t.window_lag_seconds == pytest.approx(2.5)
    assert t.last_error == "x" * 500 and t.last_error_at == T0
    empty = repo.feed_totals(store, "other", T0)
    assert empty == repo.FeedTotals(0, 0, 0, 0, None, 0, 0, None, None, None)


def test_rows_since_for_the_relay(store: Store) -> None:
    assert repo.latest_alert_at(store) is None and repo.latest_deconfliction_at(store) is None
    assert repo.alerts_since(store, None) == [] and repo.deconflictions_since(store, None) == []
    rows = [_alert(i, owner=("ana", "bo")[i % 2]) for i in range(3)]
    repo.insert_alerts(store, rows)
    notes = [repo.DeconflictionRow(f"D-{n}", "I1", "W-1", "W-2", "ana", "nypd", "fbi", "bo",
                                   T0 + timedelta(minutes=n)) for n in range(2)]
    repo.insert_deconflictions(store, notes)
    assert repo.latest_alert_at(store) == rows[2].raised_at
    assert repo.latest_deconfliction_at(store) == notes[1].created_at
    assert repo.alerts_since(store, None) == rows  # every owner's, oldest first
    assert repo.alerts_since(store, rows[1].raised_at) == rows[1:]
    assert repo.alerts_since(store, None, limit=2) == rows[:2]
    assert repo.deconflictions_since(store, notes[1].created_at) == notes[1:]
    assert repo.deconflictions_since(store, None, limit=1) == notes[:1]


def test_claims_across_connections(store: Store) -> None:
    other = store.sibling()
    try:
        repo.hold(store, "feed-place:P1")
        # PostgreSQL: another connection (process) cannot take it; DuckDB: one process
        assert repo.try_hold(other, "feed-place:P1") == (store.dialect == "duckdb")
        assert repo.try_hold(other, "feed-place:P2")
        repo.release(other, "feed-place:P2")
        repo.release(store, "feed-place:P1")
        assert repo.try_hold(other, "feed-place:P1")  # let go: free for the next
        repo.release(other, "feed-place:P1")
    finally:
        other.close()


def test_push_placed(store: Store) -> None:
    repo.insert_receipt(store, repo.FeedReceiptRow(
        "P1", "src", None, "b1", "f" * 64, T0, T0, 1, 1, 0, 0))
    assert not repo.push_placed(store, "P1") and not repo.push_placed(store, "nope")
    assert repo.mark_placed(store, "P1", T0)
    assert repo.push_placed(store, "P1")
