"""Issue 16 leftover: a watch follows its identity through merges and splits.

A watch names an identity id; a later ``resolve`` may merge that identity into another
(its id retired) or split it (some of its records under a new id). Merged, the person
watched is still there under another id, and a booking joining it must still alert: the
watch follows the lineage the link stage records (computed at lookup, no hook in link/).
Split, the watch stays with the piece that keeps the id (the other is, by the resolver's
decision, someone else). Real resolves with a fixed model; judgements force the merge
and the split."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policy"))

from policy_fixtures import new_store, seed

from idgraph import clock
from idgraph.app import watches as app_watches
from idgraph.app.context import Caller, Env
from idgraph.cases import open_case
from idgraph.link.judge import judge
from idgraph.link.model import settings_dict
from idgraph.link.resolve import resolve
from idgraph.link.train import save_model
from idgraph.monitor import alerts, events, watches
from idgraph.policy.users import add_user
from idgraph.schema import RECORD_COLUMNS
from idgraph.settings import Settings
from idgraph.store import Store

TODAY = date(2026, 6, 1)
LATER = TODAY + timedelta(days=30)
CI = "criminal_investigation"
RESOLVE = Settings(match_threshold=0.9)
ADDRESS: dict[str, Any] = {"house_number": "12", "street": "OAK ST", "zip": "12345",
                           "city": "SPRINGFIELD", "state": "IL", "phone": "+12175550100"}


def _fixed_model(store: Store) -> None:
    """The idgraph model with hand-set parameters (as tests/link: no training)."""
    model = settings_dict(prior=1e-3)
    for comp in model["comparisons"]:
        levels = [lv for lv in comp["comparison_levels"] if not lv.get("is_null_level")]
        pairs = [(0.9 / 2**i, 0.0005 * 4**i) for i in range(len(levels) - 1)] + [(0.02, 0.98)]
        for lv, (m, u) in zip(levels, pairs, strict=True):
            lv["m_probability"], lv["u_probability"] = m, u
    save_model(store, model, {"fixed": True})


def add(store: Store, record_id: str, **values: Any) -> str:
    source, _, local = record_id.partition("/")
    dob = values.get("dob")
    row: dict[str, Any] = {
        "record_id": record_id, "source_id": source, "source_record_id": local,
        "version": 1, "is_current": True, "batch_id": "b1", "raw": "{}",
        "row_hash": f"h-{record_id}", "ingested_at": datetime(2026, 1, 1),
        "first_name_canon": values.get("first_name"),
        "dob_precision": "day" if isinstance(dob, date) else None,
        "birth_year": dob.year if isinstance(dob, date) else None,
        **values,
    }
    cols = [c for c in RECORD_COLUMNS if c in row]
    store.execute(f"INSERT INTO records ({', '.join(cols)}) VALUES "
                  f"({', '.join('?' * len(cols))})", [row[c] for c in cols])
    return record_id


def lineage(store: Store, *rows: tuple[str, str, str, list[str]]) -> None:
    """Lineage events (run, identity, event, related) as the link stage writes them."""
    store.executemany(
        'INSERT INTO identity_lineage (run_id, identity_id, event, related, "at") '
        "VALUES (?, ?, ?, ?, ?)", [(*r, clock.now_naive()) for r in rows])


def john(**extra: Any) -> dict[str, Any]:
    return {"first_name": "JOHN", "last_name": "MILLER", "dob": date(1980, 3, 4), **ADDRESS,
            **extra}


def identity_of(store: Store, record_id: str) -> str:
    return str(store.scalar("SELECT identity_id FROM identity_members WHERE record_id = ?",
                            [record_id]))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with clock.frozen(TODAY):
        store = new_store()
        seed(store)
        # a second agency (deconfliction is between agencies only)
        add_user(store, "det", "investigator", "nypd", org_type="government", actor="root")
        open_case(store, "N1", title="robbery", kind="criminal", actor="det")
        _fixed_model(store)
        environment = Env(store=store, settings=Settings(data_dir=tmp_path))
        alerts.install()
        try:
            yield environment
        finally:
            alerts.uninstall()
            environment.close()


_N = [0]


def booking(env: Env, identity: str) -> str:
    """A new jail record placed into ``identity``, announced as a feed does."""
    _N[0] += 1
    rid = add(env.store, f"jail/bk{_N[0]}", **john())
    env.store.execute("INSERT INTO identity_members VALUES (?, ?)", [identity, rid])
    events.record_joined(env, [events.RecordJoined(
        rid, identity, "jail", None, "b-feed", "new", datetime.now(UTC))])
    return rid


def watch(env: Env, who: str, identity: str) -> watches.Watch:
    return app_watches.create_watch(env, Caller(who, via="api"), identity_id=identity,
                                    case_id="C1", purpose=CI, expires=LATER)


def test_a_watch_follows_its_identity_into_a_merge(env: Env) -> None:
    """Two identities merged by a later resolve: the one whose id is retired is watched,
    and a booking joining the merged identity alerts its watcher."""
    a = add(env.store, "court/1", **john())
    c = add(env.store, "jail/1", first_name="JON", last_name="MILLAR", dob=date(1980, 3, 4))
    other = add(env.store, "court/9", first_name="ZED", last_name="QUINN",
                dob=date(1999, 1, 1))
    resolve(env.store, RESOLVE)
    ids = {identity_of(env.store, r) for r in (a, c)}
    assert len(ids) == 2, "the model alone keeps them apart"
    by_id = {i: watch(env, who, i) for i, who in zip(sorted(ids), ("gov", "chief"),
                                                     strict=True)}
    bystander = watch(env, "gov", identity_of(env.store, other))
    judge(env.store, a, c, "same", by="analyst1", reason="court file photo")
    resolve(env.store, RESOLVE)
    merged = identity_of(env.store, a)
    assert identity_of(env.store, c) == merged
    [gone] = ids - {merged}
    assert env.store.scalar("SELECT count(*) FROM identity_members WHERE identity_id = ?",
                            [gone]) == 0, "the retired id holds no record any more"
    assert watches.followed_identities(env.store, by_id[gone].watch_id) == sorted(ids)
    rid = booking(env, merged)
    got = {(x.watch_id, x.identity_id) for w in ("gov", "chief")
           for x in alerts.list_alerts(env.store, w)}
    assert got == {(by_id[merged].watch_id, merged), (by_id[gone].watch_id, merged)}
    assert bystander.watch_id not in {w for w, _ in got}
    # the disclosure is audited for the identity the record joined, with the watch
    entries = [e for e in _entries(env) if e["action"] == alerts.ACTION]
    assert {tuple(e["identity_ids"]) for e in entries} == {(merged,)}
    assert all(rid in e["record_ids"] for e in entries)


def test_a_split_keeps_the_watch_with_the_piece_that_keeps_the_id(env: Env) -> None:
    """One identity split by a judgement ("different mothers' names"): the watch goes on
    firing for the piece that keeps its id; the piece split off under a new id is, by
    that judgement, someone else, and its records raise nothing for this watch."""
    a = add(env.store, "court/1", **john())
    b = add(env.store, "jail/1", **john())
    resolve(env.store, RESOLVE)
    first = identity_of(env.store, a)
    assert identity_of(env.store, b) == first
    w = watch(env, "gov", first)
    judge(env.store, a, b, "different", by="analyst1", reason="different mothers' names")
    resolve(env.store, RESOLVE)
    pieces = {identity_of(env.store, a), identity_of(env.store, b)}
    assert len(pieces) == 2 and first in pieces
    [split_off] = pieces - {first}
    assert [first in (r[0] or ()) for r in env.store.fetchall(
        "SELECT related FROM identity_lineage WHERE identity_id = ? AND event = 'split'",
        [split_off])].count(True) == 1
    assert watches.followed_identities(env.store, w.watch_id) == [first]
    booking(env, first)
    booking(env, split_off)
    got = [(x.watch_id, x.identity_id) for x in alerts.list_alerts(env.store, "gov")]
    assert got == [(w.watch_id, first)]


def test_a_split_that_retires_the_id_is_followed_into_every_piece(env: Env) -> None:
    """No piece kept the id (its records went to two other identities): the watch
    cannot tell which is the person, and follows both (each alert decided as a read)."""
    a = add(env.store, "court/1", **john())
    resolve(env.store, RESOLVE)
    first = identity_of(env.store, a)
    w = watch(env, "gov", first)
    lineage(env.store, ("r-x", first, "retired", ["P-LEFT", "P-RIGHT"]),
            ("r-x", "P-LEFT", "split", [first]), ("r-x", "P-RIGHT", "split", [first]))
    assert watches.followed_identities(env.store, w.watch_id) == sorted(
        [first, "P-LEFT", "P-RIGHT"])
    for piece in ("P-LEFT", "P-RIGHT"):
        booking(env, piece)
    got = sorted(x.identity_id for x in alerts.list_alerts(env.store, "gov"))
    assert got == ["P-LEFT", "P-RIGHT"]


def test_lineage_cycle_ends_and_a_cancelled_watch_follows_nothing(env: Env) -> None:
    """A lineage that comes back to an id (A -> B -> A) is followed once; a cancelled
    watch is never found."""
    a = add(env.store, "court/1", **john())
    resolve(env.store, RESOLVE)
    first = identity_of(env.store, a)
    w = watch(env, "gov", first)
    lineage(env.store, ("r-x", first, "retired", ["P-OTHER"]),
            ("r-y", "P-OTHER", "retired", [first]))
    assert watches.followed_identities(env.store, w.watch_id) == sorted([first, "P-OTHER"])
    assert [s.watch.watch_id for s in watches.watching(env.store, ["P-OTHER"])["P-OTHER"]] \
        == [w.watch_id]
    app_watches.cancel_watch(env, Caller("gov", via="api"), w.watch_id)
    assert watches.watching(env.store, ["P-OTHER", first]) == {}


def _entries(env: Env) -> list[dict[str, Any]]:
    import json

    return [json.loads(r[0]) for r in env.store.fetchall(
        "SELECT entry FROM audit_log ORDER BY seq")]


def test_deconfliction_follows_the_lineage_too(env: Env) -> None:
    """Another agency's watch on an identity since merged into B is still a watch on
    that person: a new watch on B is deconflicted with it, both ways."""
    a = add(env.store, "court/1", **john())
    resolve(env.store, RESOLVE)
    first = identity_of(env.store, a)
    theirs = app_watches.create_watch(
        env, Caller("det", via="api"), identity_id=first, case_id="N1",
        purpose="criminal_investigation", expires=LATER)
    lineage(env.store, ("r-x", first, "retired", ["P-MERGED"]))
    mine = watch(env, "gov", "P-MERGED")
    told = {(n.recipient, n.other_watch_id) for who in ("gov", "det")
            for n in watches.deconflictions_for(env.store, who)}
    assert ("gov", theirs.watch_id) in told and ("det", mine.watch_id) in told
