"""Live feeds (issue 16): a push is validated with the source's manifest, stored with
provenance (one batch per push), indexed, placed into an identity and announced with
``events.record_joined``; idempotent; bad lines quarantined with their line and reason;
feed tokens bound to one source."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from feed_fixtures import audit_rows, booking, caller, lines, linked_env

from idgraph.app import data, feeds
from idgraph.app.context import Env
from idgraph.app.errors import Denied, Invalid, NotFound, Unauthenticated
from idgraph.monitor import events
from idgraph.monitor.events import RecordJoined


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    e = linked_env(tmp_path_factory.mktemp("feeds"))
    yield e
    e.close()


@pytest.fixture(scope="module")
def token(env: Env) -> str:
    return feeds.create_token(env, caller("root"), "bookings", days=7)


@pytest.fixture
def joined() -> Iterator[list[RecordJoined]]:
    seen: list[RecordJoined] = []

    def listen(_: Any, evs: Sequence[RecordJoined]) -> None:
        seen.extend(evs)

    events.on_record_joined(listen)
    yield seen
    events.remove_listener(listen)


def _identity(env: Env, record_id: str) -> str | None:
    rows = env.store.fetchall("SELECT identity_id FROM identity_members WHERE record_id = ?",
                              [record_id])
    return str(rows[0][0]) if rows else None


def test_a_push_is_stored_placed_indexed_and_announced(
        env: Env, token: str, joined: list[RecordJoined]) -> None:
    receipt = feeds.push(env, token, "bookings", lines(booking("B1")))
    (line,) = receipt.lines
    assert (line.line, line.status, line.record_id, line.kind) == (1, "stored",
                                                                   "bookings/B1", "new")
    assert receipt.placed and receipt.place_error is None
    row = env.store.fetchone("SELECT batch_id, source_file, source_line, raw FROM records "
                             "WHERE record_id = 'bookings/B1' AND is_current")
    assert row is not None and row[0] == receipt.batch_id and row[2] == 1
    assert row[1] == f"feed:{receipt.push_id}" and "ONEIL" in row[3]
    # placed with the DMV and court records of the same person
    assert _identity(env, "bookings/B1") == _identity(env, "tx_dmv/1") is not None
    assert data.index_check(env, caller("ro")).empty  # the index holds it
    (event,) = [e for e in joined if e.record_id == "bookings/B1"]
    assert (event.identity_id, event.source_id, event.kind, event.batch_id) == (
        _identity(env, "tx_dmv/1"), "bookings", "new", receipt.batch_id)
    assert event.origin_jurisdiction is None  # the row names none: the source's applies
    (entry,) = [e for e in audit_rows(env, "feed.push")
                if e["detail"]["push_id"] == receipt.push_id]
    assert entry["outcome"] == "ok" and entry["principal"].startswith("feed:")
    assert entry["detail"]["stored"] == 1 and entry["sources"] == ["bookings"]


def test_the_same_push_twice_is_stored_once(env: Env, token: str) -> None:
    body = lines(booking("B2", "MARIA", "GARCIA", "1990-11-02"))
    first = feeds.push(env, token, "bookings", body)
    again = feeds.push(env, token, "bookings", body)
    assert [x.status for x in first.lines] == ["stored"]
    assert [(x.status, x.source_record_id) for x in again.lines] == [("duplicate", "B2")]
    assert env.store.scalar(
        "SELECT count(*) FROM records WHERE record_id = 'bookings/B2'") == 1
    changed = feeds.push(env, token, "bookings",
                         lines(booking("B2", "MARIA", "GARCIA", "1990-11-02",
                                       street="7 OAK AVE")))
    assert [(x.status, x.kind) for x in changed.lines] == [("stored", "changed")]
    assert env.store.scalar(
        "SELECT count(*) FROM records WHERE record_id = 'bookings/B2' AND is_current") == 1


def test_a_bad_line_is_quarantined_with_its_line_and_reason_and_the_rest_stored(
        env: Env, token: str) -> None:
    body = lines(booking("B3", "JOHN", "SMITH", "1970-05-05"), "{not json",
                 booking("", "NO", "ID"), "[1, 2]", booking("B4", "ANA", "LOPEZ", "1988-01-01"),
                 booking("B3", "JOHN", "SMITH", "1970-05-05"))
    receipt = feeds.push(env, token, "bookings", body)
    got = {x.line: (x.status, x.reasons) for x in receipt.lines}
    assert got[1][0] == got[5][0] == "stored"
    assert got[2][0] == "quarantined" and "not valid JSON" in got[2][1][0]
    assert got[3][0] == "quarantined" and "missing record id" in got[3][1][0]
    assert got[4][0] == "quarantined" and "not a JSON object" in got[4][1][0]
    assert got[6][0] == "quarantined" and "duplicate record id" in got[6][1][0]
    assert (receipt.stored, receipt.quarantined) == (2, 4)
    assert env.store.scalar("SELECT count(*) FROM quarantine WHERE batch_id = ?",
                            [receipt.batch_id]) == 4
    assert env.store.scalar("SELECT count(*) FROM records WHERE record_id IN "
                            "('bookings/B3', 'bookings/B4')") == 2


def test_a_bad_value_is_dropped_and_named_but_the_record_stored(env: Env, token: str) -> None:
    receipt = feeds.push(env, token, "bookings", lines(booking("B5", dob="31/31/1999")))
    (line,) = receipt.lines
    assert line.status == "stored" and line.reasons and line.reasons[0].startswith("dob")


def test_tokens_are_bound_to_their_source_and_failures_audited(env: Env, token: str) -> None:
    other = feeds.create_token(env, caller("root"), "court", days=1)
    with pytest.raises(Denied) as denied:
        feeds.push(env, other, "bookings", lines(booking("B9")))
    assert denied.value.rules == (feeds.TOKEN_SOURCE_RULE,)
    for bad in ("idgf_nope", token[:-3] + "xyz", "idg_abc_def"):
        with pytest.raises(Unauthenticated):
            feeds.push(env, bad, "bookings", lines(booking("B9")))
    assert env.store.scalar("SELECT count(*) FROM records WHERE record_id = 'bookings/B9'") == 0
    outcomes = [(e["outcome"], e["detail"]["reason"]) for e in audit_rows(env, "feed.auth")]
    assert ("deny", "the feed token is for another source") in outcomes
    assert sum(1 for o, _ in outcomes if o == "deny") >= 4
    assert all(token.split("_", 2)[2] not in str(e) for e in audit_rows(env))


def test_minting_a_token_is_for_admins_and_names_a_known_source(env: Env) -> None:
    with pytest.raises(Denied):
        feeds.create_token(env, caller("gov"), "bookings", days=1)
    with pytest.raises(NotFound):
        feeds.create_token(env, caller("root"), "nowhere", days=1)
    with pytest.raises(Invalid):
        feeds.create_token(env, caller("root"), "bookings", days=0)
    (ok,) = [e for e in audit_rows(env, "feeds.manage") if e["outcome"] == "ok"][:1]
    assert ok["detail"]["token_id"] and ok["principal"] == "root"


def test_feed_status_counts_and_is_an_act(env: Env, token: str) -> None:
    feeds.push(env, token, "bookings", lines(booking("B6", "LEE", "PARK", "1975-02-02")))
    st = feeds.feed_status(env, caller("ro"), "bookings")
    assert st.stored >= 1 and st.quarantined >= 4 and st.duplicate >= 1
    assert st.pending == 0 and st.pushes >= 1 and st.records_per_second > 0
    assert st.tokens >= 1 and st.last_push_at is not None
    with pytest.raises(Denied):
        feeds.feed_status(env, caller("gov"), "bookings")


def test_a_failing_listener_never_loses_the_commit(env: Env, token: str) -> None:
    def broken(_: Any, evs: Sequence[RecordJoined]) -> None:
        raise RuntimeError("boom")

    events.on_record_joined(broken)
    try:
        receipt = feeds.push(env, token, "bookings", lines(booking("B7", "AL", "BO")))
    finally:
        events.remove_listener(broken)
    assert receipt.stored == 1 and receipt.placed
    assert env.store.scalar("SELECT count(*) FROM records WHERE record_id = 'bookings/B7'") == 1
    assert any("broken" in f.listener for f in events.listener_failures())


def test_without_a_link_run_records_are_stored_then_placed_later(tmp_path: Path) -> None:
    from feed_fixtures import fixed_model

    from idgraph.link.train import save_model

    e = linked_env(tmp_path, resolve=False)
    try:
        tok = feeds.create_token(e, caller("root"), "bookings", days=1)
        first = feeds.push(e, tok, "bookings", lines(booking("C1")))
        assert first.stored == 1 and not first.placed and first.place_error
        assert feeds.feed_status(e, caller("ro"), "bookings").last_error
        save_model(e.store, fixed_model(), {"fixed": True})
        data.resolve(e, caller("ro"))
        seen: list[RecordJoined] = []
        events.on_record_joined(lambda _, evs: seen.extend(evs))
        try:
            feeds.push(e, tok, "bookings", lines(booking("C2", "MARIA", "GARCIA")))
        finally:
            for fn in events.listeners():
                if getattr(fn, "__name__", "") == "<lambda>":
                    events.remove_listener(fn)
        assert {"bookings/C1", "bookings/C2"} <= {x.record_id for x in seen}
        assert feeds.feed_status(e, caller("ro"), "bookings").pending == 0
    finally:
        e.close()


def test_a_revoked_token_is_refused_at_once(env: Env) -> None:
    tok = feeds.create_token(env, caller("root"), "bookings", days=1)
    token_id = tok.split("_")[1]
    with pytest.raises(Denied):
        feeds.revoke_token(env, caller("ro"), token_id)
    with pytest.raises(NotFound):
        feeds.revoke_token(env, caller("root"), "nosuchtoken1")
    feeds.revoke_token(env, caller("root"), token_id)
    with pytest.raises(Unauthenticated, match="revoked"):
        feeds.push(env, tok, "bookings", lines(booking("R1")))
    (entry,) = [e for e in audit_rows(env, "feeds.revoke") if e["outcome"] == "ok"]
    assert entry["detail"]["token_id"] == token_id
