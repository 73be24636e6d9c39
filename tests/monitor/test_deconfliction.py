"""Issue 16, deconfliction: when two organisations watch one identity, each is told of
the other, and each organisation's supervisors see it."""

from __future__ import annotations

from datetime import timedelta

from monitor_fixtures import CI, IDENTITY, TODAY, caller, entries, env

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
    streams = {u: alerts.BUS.subscribe(u) for u in ("gov", "chief", "pi", "acmesup")}
    acme = _watch(env, "pi", "P1", "legal_proceeding")
    for user, mine, theirs, other_org, other_owner in [
        ("gov", ice, acme, "acme", "pi"), ("chief", ice, acme, "acme", "pi"),
        ("pi", acme, ice, "ice", "gov"), ("acmesup", acme, ice, "ice", "gov"),
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
    assert audited["identity_ids"] == [IDENTITY] and audited["principal"] == "pi"
    assert audited["detail"]["watches"] == sorted([ice, acme])
    assert audited["detail"]["recipients"] == sorted(["gov", "chief", "pi", "acmesup"])
    created = entries(env, "watch.create")[-1]
    assert created["detail"]["deconflicted"] == [ice]


def test_same_organisation_or_cancelled_watch_is_not_deconflicted(env: Env) -> None:
    first = _watch(env, "gov", "C1", CI)
    _watch(env, "chief", "C1", CI)  # the same organisation: no notice
    assert app_watches.list_deconflictions(env, caller("gov")) == []
    app_watches.cancel_watch(env, caller("gov"), first)
    _watch(env, "pi", "P1", "legal_proceeding")  # told of chief's standing watch only
    [note] = app_watches.list_deconflictions(env, caller("pi"))
    assert note.other_owner == "chief"
    assert app_watches.list_deconflictions(env, caller("gov")) == []  # cancelled: not told
    assert len(entries(env, alerts.DECONFLICT_ACTION)) == 1


def test_a_watch_on_another_identity_is_not_deconflicted(env: Env) -> None:
    _watch(env, "gov", "C1", CI)
    _watch(env, "pi", "P1", "legal_proceeding", identity="I9")
    assert app_watches.list_deconflictions(env, caller("gov")) == []
