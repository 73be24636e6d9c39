"""The feed's hot path costs per record, not per store (issue 16 benchmark): one live
linker per store, kept across pushes and refreshed by its own placements, built again
when another writer changed the graph (the store's generation: resolve, judgement,
retention); a changed record's new values replace the old ones; the alerts of a push are
written in one transaction; the events go out before the search index's second commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from feed_fixtures import CASE, audit_rows, booking, caller, lines, linked_env

from idgraph.app import data, feeds, watches
from idgraph.app.context import Caller, Env
from idgraph.link.judge import judge
from idgraph.link.tables import bump_generation, generation
from idgraph.monitor import alerts, events
from idgraph.search import live
from idgraph.store import Store


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    e = linked_env(tmp_path_factory.mktemp("feeds-live"))
    installed = alerts.on_joined in events.listeners()
    alerts.install()
    yield e
    if not installed:
        alerts.uninstall()
    alerts.DISPATCHER.flush(e.store)
    e.close()


@pytest.fixture(scope="module")
def token(env: Env) -> str:
    return feeds.create_token(env, caller("root"), "bookings", days=7)


def _identity(env: Env, record_id: str) -> str:
    row = env.store.fetchone("SELECT identity_id FROM identity_members WHERE record_id = ?",
                             [record_id])
    assert row is not None
    return str(row[0])


def test_pushes_share_one_linker_refreshed_by_its_own_placements(env: Env, token: str) -> None:
    feeds.push(env, token, "bookings", lines(booking("L1")))
    linker = live.placer(env.store).linker
    assert linker is not None and not linker.stale()
    before = generation(env.store)
    receipt = feeds.push(env, token, "bookings", lines(booking("L2")))
    assert receipt.placed
    assert live.placer(env.store).linker is linker  # not built again
    assert generation(env.store) == before + 1  # its own commit counted, and known
    assert not linker.stale()
    # both bookings joined the person of the DMV record, as a fresh linker places them
    assert _identity(env, "bookings/L1") == _identity(env, "bookings/L2") == _identity(
        env, "tx_dmv/1")
    assert data.index_check(env, caller("ro")).empty  # the index learnt the identities


@pytest.mark.parametrize("change", ["judgement", "another writer", "resolve"])
def test_another_writer_makes_the_linker_read_the_graph_again(
        env: Env, token: str, change: str) -> None:
    feeds.push(env, token, "bookings", lines(booking(f"G-{change}")))
    linker = live.placer(env.store).linker
    assert linker is not None
    if change == "judgement":
        judge(env.store, "tx_dmv/2", "court/1", "different", by="ro", reason="test")
    elif change == "another writer":
        with env.store.transaction():
            bump_generation(env.store)
    else:
        data.resolve(env, caller("ro"))
    assert linker.stale()
    receipt = feeds.push(env, token, "bookings", lines(booking(f"H-{change}")))
    assert receipt.placed
    fresh = live.placer(env.store).linker
    assert fresh is not None and fresh is not linker and not fresh.stale()
    assert _identity(env, f"bookings/H-{change}") == _identity(env, "tx_dmv/1")


def test_a_changed_record_is_placed_with_its_new_values(env: Env, token: str) -> None:
    feeds.push(env, token, "bookings", lines(booking("C1")))
    linker = live.placer(env.store).linker
    assert linker is not None
    assert linker.input_rows(["bookings/C1"])[0]["last_name"] == "ONEIL"
    # the same booking id, now another person's: a new version, read again
    receipt = feeds.push(env, token, "bookings", lines(booking(
        "C1", "MARIA", "GARCIA", "1990-11-02", street="9 ELM ST")))
    assert [(x.status, x.kind) for x in receipt.lines] == [("stored", "changed")]
    assert live.placer(env.store).linker is linker
    assert linker.input_rows(["bookings/C1"])[0]["last_name"] == "GARCIA"
    assert _identity(env, "bookings/C1") == _identity(env, "tx_dmv/2")


def test_a_pushs_alerts_are_written_in_one_transaction(
        env: Env, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ident = _identity(env, "tx_dmv/1")
    gov = Caller(actor="gov", via="api", purpose="criminal_investigation",
                 claims=("DPPA-b1",), case_id=CASE)
    watch = watches.create_watch(env, gov, identity_id=ident, case_id=CASE,
                                 purpose="criminal_investigation", claims=("DPPA-b1",),
                                 expires=date.today() + timedelta(days=30))
    commits: list[int] = []
    original = alerts._write

    def counted(*args: object, **kw: object) -> object:
        commits.append(1)
        return original(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(alerts, "_write", counted)
    stream = alerts.BUS.stream("gov", timeout=0.05)
    receipt = feeds.push(env, token, "bookings", lines(
        booking("T1"), booking("T2"), booking("T3")))
    assert receipt.placed and receipt.events == 3 and commits == [1]
    got = [next(stream) for _ in range(3)]
    stream.close()  # type: ignore[attr-defined]
    assert all(g is not None and g["event"] == "alert" for g in got)
    mine = [a for a in watches.list_alerts(env, gov) if a.watch_id == watch.watch_id]
    assert sorted(a.record_id for a in mine) == ["bookings/T1", "bookings/T2", "bookings/T3"]
    entries = [e for e in audit_rows(env, alerts.ACTION)
               if e["detail"]["watch_id"] == watch.watch_id]
    assert len(entries) == 3 and {e["detail"]["alert_id"] for e in entries} == {
        a.alert_id for a in mine}


def test_a_record_placed_again_meets_its_identity_whatever_the_candidates(env: Env) -> None:
    """The index ranks one record per identity first: for a changed record's own
    identity that is the record itself, so its identity's other members may be ranked
    out of the candidates; they are scored anyway."""
    linker = live.placer(env.store).linker
    assert linker is not None
    before = _identity(env, "tx_dmv/1")
    (result,) = linker.attach_many(["tx_dmv/1"], lambda row: [])
    assert result.identity_id == before == _identity(env, "tx_dmv/1")
    assert result.event == "attach" and result.candidates >= 1


@pytest.mark.postgres_only
def test_a_push_left_unplaced_is_announced_once_by_processes_repairing_it_at_once(
    env: Env, token: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL (several processes, one database): a push committed but not placed (a
    crash between the two) is repaired by the next push of the source in any process;
    two repairing at once announce its records once (only the one that marks the receipt
    placed sends the events)."""
    from idgraph.monitor import feeds as lib

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("killed between commit and placement")

    monkeypatch.setattr(lib, "place_batches", crash)
    first = feeds.push(env, token, "bookings", lines(booking("RACE1", "ROSA", "PARKS")))
    monkeypatch.undo()
    assert first.stored == 1 and not first.placed
    seen: list[events.RecordJoined] = []

    def listen(_: object, evs: list[events.RecordJoined]) -> None:
        seen.extend(evs)

    events.on_record_joined(listen)
    stores = [env.store.sibling() for _ in range(2)]
    start = threading.Barrier(2)
    placed: list[int] = []

    def repair(store: Store) -> None:
        start.wait(timeout=10)
        placed.append(lib.place_pending(store, "bookings", env=env))

    threads = [threading.Thread(target=repair, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        events.remove_listener(listen)
        for s in stores:
            s.close()
    assert sorted(placed) == [0, 1]  # one placed it; the other found it taken or done
    assert [e.record_id for e in seen].count("bookings/RACE1") == 1
    assert lib.status(env.store, "bookings").pending == 0
