"""Issue 16, deconfliction: when two agencies watch one identity, each is told of the
other, and each agency's supervisors see it. A private organisation or a newsroom is
neither told of an agency's watch nor revealed to it (monitor.watches.deconflict)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from monitor_fixtures import CI, IDENTITY, TODAY, caller, entries, env

from idgraph import clock
from idgraph.app import watches as app_watches
from idgraph.app.context import Env
from idgraph.monitor import alerts

__all__ = ["env"]

LATER = TODAY + timedelta(days=30)


def _watch(env: Env, who: str, case: str, purpose: str, identity: str = IDENTITY) -> str:
    claims = ("DPPA-b4",) if who == "pi" else ()
    return app_watches.create_watch(env, caller(who), identity_id=identity, case_id=case,
                                    purpose=purpose, claims=claims, expires=LATER).watch_id


def test_deconfliction_tells_both_watchers_and_both_supervisors(env: Env) -> None:
    ice = _watch(env, "gov", "C1", CI)
    assert app_watches.list_deconflictions(env, caller("gov")) == []
    streams = {u: alerts.BUS.subscribe(u) for u in ("gov", "chief", "det", "nysup")}
    nypd = _watch(env, "det", "N1", CI)
    for user, mine, theirs, other_org, other_owner in [
        ("gov", ice, nypd, "nypd", "det"), ("chief", ice, nypd, "nypd", "det"),
        ("det", nypd, ice, "ice", "gov"), ("nysup", nypd, ice, "ice", "gov"),
    ]:
        [note] = app_watches.list_deconflictions(env, caller(user))
        assert (note.watch_id, note.other_watch_id, note.identity_id) == (mine, theirs, IDENTITY)
        assert (note.other_org, note.other_owner) == (other_org, other_owner)
        item = streams[user].get(timeout=1)
        assert item["event"] == "deconfliction" and item["data"]["other_watch_id"] == theirs
        alerts.BUS.unsubscribe(user, streams[user])
    # nobody else was told (another investigator of ice is not a supervisor)
    assert app_watches.list_deconflictions(env, caller("off")) == []
    [audited] = entries(env, alerts.DECONFLICT_ACTION)
    assert audited["identity_ids"] == [IDENTITY] and audited["principal"] == "det"
    assert audited["detail"]["watches"] == sorted([ice, nypd])
    assert audited["detail"]["recipients"] == sorted(["gov", "chief", "det", "nysup"])
    created = entries(env, "watch.create")[-1]
    assert created["detail"]["deconflicted"] == [ice]


def test_same_organisation_or_cancelled_watch_is_not_deconflicted(env: Env) -> None:
    first = _watch(env, "gov", "C1", CI)
    _watch(env, "chief", "C1", CI)  # the same organisation: no notice
    assert app_watches.list_deconflictions(env, caller("gov")) == []
    app_watches.cancel_watch(env, caller("gov"), first)
    _watch(env, "det", "N1", CI)  # told of chief's standing watch only
    [note] = app_watches.list_deconflictions(env, caller("det"))
    assert note.other_owner == "chief"
    assert app_watches.list_deconflictions(env, caller("gov")) == []  # cancelled: not told
    assert len(entries(env, alerts.DECONFLICT_ACTION)) == 1


def test_a_watch_on_another_identity_is_not_deconflicted(env: Env) -> None:
    _watch(env, "gov", "C1", CI)
    _watch(env, "det", "N1", CI, identity="I9")
    assert app_watches.list_deconflictions(env, caller("gov")) == []


def test_a_private_organisation_is_neither_told_nor_revealed(env: Env) -> None:
    """An agency's watch is not disclosed to a private investigator (it could tip off the
    subject), and a private organisation's watch is not disclosed to an agency."""
    ice = _watch(env, "gov", "C1", CI)
    acme = _watch(env, "pi", "P1", "legal_proceeding")
    for user in ("gov", "chief", "pi", "acmesup"):
        assert app_watches.list_deconflictions(env, caller(user)) == []
    assert entries(env, alerts.DECONFLICT_ACTION) == []
    assert entries(env, "watch.create")[-1]["detail"].get("deconflicted", []) == []
    # the private watch stays invisible when a second agency comes: only ice and nypd meet
    nypd = _watch(env, "det", "N1", CI)
    [note] = app_watches.list_deconflictions(env, caller("det"))
    assert (note.watch_id, note.other_watch_id) == (nypd, ice)
    assert acme not in (note.watch_id, note.other_watch_id)


@pytest.mark.postgres_only
def test_two_agencies_watching_at_once_from_two_processes_are_deconflicted(env: Env) -> None:
    """PostgreSQL (several processes, one database): two agencies' watches on one person
    made at the same moment, on two connections, still see each other (the act holds the
    ``watches`` lock while it creates and deconflicts)."""
    envs = [Env(store=env.store.sibling(), settings=env.settings) for _ in range(2)]
    start = threading.Barrier(2)
    made: dict[str, str] = {}
    errors: list[BaseException] = []

    def make(e: Env, who: str, case: str) -> None:
        try:
            with clock.frozen(TODAY):
                start.wait(timeout=10)
                made[who] = _watch(e, who, case, CI)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(e, who, case))
               for e, (who, case) in zip(envs, [("gov", "C1"), ("det", "N1")], strict=True)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        for e in envs:
            e.store.close()
    assert not errors and len(made) == 2
    [gov_note] = app_watches.list_deconflictions(env, caller("gov"))
    [det_note] = app_watches.list_deconflictions(env, caller("det"))
    assert (gov_note.watch_id, gov_note.other_watch_id) == (made["gov"], made["det"])
    assert (det_note.watch_id, det_note.other_watch_id) == (made["det"], made["gov"])
