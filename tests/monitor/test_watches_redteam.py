"""Issue 16 red team: each test is an attack on the live monitoring, written before any
fix, and the answer it must get.

* a feed token of one source pushing records that claim another source in the body;
* a feed token revoked through another source's path; listing tokens shows no secret;
* a watch cancelled by another organisation's supervisor (or a colleague);
* another user's live stream;
* an alert (or a deconfliction notice) after the owner is disabled;
* a criteria watch on a protected attribute, in every spelling.
(The webhook URL ``http://[::ffff:127.0.0.1]/`` and its kin: test_webhooks_ssrf.py.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from feed_fixtures import booking, lines, linked_env
from monitor_fixtures import CI, IDENTITY, TODAY, caller, entries, env, join

from idgraph import clock
from idgraph.app import feeds
from idgraph.app import watches as app_watches
from idgraph.app.context import Caller, Env
from idgraph.app.errors import Denied, NotFound, Unauthenticated
from idgraph.monitor import alerts, watches
from idgraph.policy.users import disable_user

__all__ = ["env"]

LATER = TODAY + timedelta(days=30)


# -- feeds -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fenv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    e = linked_env(tmp_path_factory.mktemp("redteam-feeds"))
    yield e
    e.close()


def _records(e: Env, source: str) -> list[tuple[str, str, int]]:
    return [(str(r[0]), str(r[1]), int(r[2])) for r in e.store.fetchall(
        "SELECT record_id, source_id, version FROM records WHERE source_id = ? "
        "ORDER BY record_id, version", [source])]


def test_a_push_claiming_another_source_in_its_body_is_stored_as_its_own_source(
    fenv: Env,
) -> None:
    """The token binds the source; a body naming ``court`` (source_id, record_id,
    origin, provenance) changes nothing of court's records and lands in bookings."""
    tok = feeds.create_token(fenv, caller("root"), "bookings", days=1)
    court_before = _records(fenv, "court")
    forged = booking("court/1", source_id="court", source="court", record_id="court/1",
                     origin_jurisdiction="US-NY", batch_id="court-b1", version=9,
                     is_current=False, source_file="court.csv")
    receipt = feeds.push(fenv, tok, "bookings", lines(forged))
    assert [x.status for x in receipt.lines] == ["stored"]
    [line] = receipt.lines
    assert line.record_id is not None and line.record_id.startswith("bookings/")
    assert _records(fenv, "court") == court_before
    row = fenv.store.fetchone(
        "SELECT source_id, is_current, version, origin_jurisdiction, batch_id, source_file "
        "FROM records WHERE record_id = ?", [line.record_id])
    assert row is not None
    assert row[:4] == ("bookings", True, 1, None)  # no origin claimed by the body
    assert row[4].startswith("bookings-feed-") and row[5].startswith("feed:")
    # and the token may not push to court's path at all
    with pytest.raises(Denied):
        feeds.push(fenv, tok, "court", lines(booking("9")))


def test_feed_tokens_are_listed_without_secrets_and_revoked_only_through_their_source(
    fenv: Env,
) -> None:
    tok = feeds.create_token(fenv, caller("root"), "bookings", days=1)
    token_id, secret = tok.split("_")[1], tok.split("_", 2)[2]
    listed = feeds.list_tokens(fenv, caller("root"), "bookings")
    assert token_id in {t.token_id for t in listed}
    text = repr([t.to_dict() for t in listed])
    assert secret not in text and "digest" not in text
    with pytest.raises(Denied):
        feeds.list_tokens(fenv, caller("ro"), "bookings")
    with pytest.raises(NotFound):
        feeds.list_tokens(fenv, caller("root"), "no_such_source")
    # a path naming court may not revoke a bookings token: 404, and the token still works
    with pytest.raises(NotFound):
        feeds.revoke_token(fenv, caller("root"), token_id, source_id="court")
    assert feeds.push(fenv, tok, "bookings", lines(booking("T1"))).stored == 1
    after = feeds.revoke_token(fenv, caller("root"), token_id, source_id="bookings")
    assert after.state == "revoked"
    with pytest.raises(Unauthenticated):
        feeds.push(fenv, tok, "bookings", lines(booking("T2")))
    assert {t.token_id: t.state for t in feeds.list_tokens(fenv, caller("root"),
                                                            "bookings")}[token_id] == "revoked"


# -- watches -----------------------------------------------------------------------------
def _watch(e: Env, who: str = "gov", **kw: object) -> watches.Watch:
    args: dict[str, object] = {"identity_id": IDENTITY, "case_id": "C1", "purpose": CI,
                               "expires": LATER}
    args.update(kw)
    return app_watches.create_watch(e, caller(who), **args)  # type: ignore[arg-type]


def test_another_organisation_s_supervisor_cannot_cancel_a_watch(env: Env) -> None:
    w = _watch(env)
    with pytest.raises(NotFound):  # not even told that it exists
        app_watches.cancel_watch(env, caller("acmesup"), w.watch_id)
    with pytest.raises(Denied):  # a colleague who is not its owner nor a supervisor
        app_watches.cancel_watch(env, caller("off"), w.watch_id)
    got = watches.get_watch(env.store, w.watch_id)
    assert got is not None and got.status == "active"
    refusals = [e for e in entries(env, "watch.cancel") if e["outcome"] != "ok"]
    assert {e["principal"] for e in refusals} == {"acmesup", "off"}
    join(env, "court", case_number="CR-1")
    assert len(alerts.list_alerts(env.store, "gov")) == 1  # it still fires
    app_watches.cancel_watch(env, caller("chief"), w.watch_id)  # its org's supervisor may


def _drain(stream: Iterator[dict[str, object] | None]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for item in stream:
        if item is None:
            break
        out.append(item)
    return out


def test_no_one_else_s_stream_carries_an_alert(env: Env) -> None:
    """An alert goes to its owner's streams only: not a colleague's, not the
    supervisor's, not another organisation's."""
    _watch(env)
    stop = threading.Event()
    streams = {who: app_watches.alert_stream(env, caller(who), timeout=0.05, stop=stop)
               for who in ("gov", "off", "chief", "pi", "acmesup")}
    join(env, "court", case_number="CR-1")
    got = {who: _drain(s) for who, s in streams.items()}
    stop.set()
    assert [i["event"] for i in got["gov"]] == ["alert"]
    assert all(got[w] == [] for w in ("off", "chief", "pi", "acmesup"))


def test_nothing_leaves_after_the_owner_is_disabled(env: Env) -> None:
    """Disabled by another process while the watch stands and the owner's stream is
    still open: no alert, no disclosure entry, no stream item, no deconfliction notice."""
    _watch(env)
    stop = threading.Event()
    stream = app_watches.alert_stream(env, caller("gov"), timeout=0.05, stop=stop)
    disable_user(env.store, "gov", actor="root")
    before = len(entries(env))
    join(env, "court", case_number="CR-2")
    assert alerts.list_alerts(env.store, "gov") == []
    assert not [e for e in entries(env)[before:] if e["action"] == alerts.ACTION]
    assert _drain(stream) == []
    # another organisation's watch on the same identity: the disabled owner's watch no
    # longer stands, so no one is told of it (and it is told nothing)
    app_watches.create_watch(env, caller("pi"), identity_id=IDENTITY, case_id="P1",
                             purpose="legal_proceeding", claims=("DPPA-b4",), expires=LATER)
    assert watches.deconflictions_for(env.store, "gov") == []
    assert watches.deconflictions_for(env.store, "pi") == []
    assert _drain(stream) == []
    stop.set()


@pytest.mark.parametrize("criteria", [
    {"ethnicity": "X"}, {"Ethnicity": "X"}, {" ethnicity ": "X"}, {"ETHNICITY": "X"},
    {"race": "X"}, {"religion": "X"}, {"disability": "X"}, {"medical": "X"},
    {"photo": "X"}, {"last_name": "ROE", "ethnicity": "X"}, {"raw": "X"},
    {"origin_jurisdiction": "US-NY"}, {"source_id": "court"}, {"ethnic-ity": "X"},
])
def test_a_criteria_watch_on_a_protected_attribute_is_refused_and_audited(
    env: Env, criteria: dict[str, str],
) -> None:
    with pytest.raises(Denied):
        app_watches.create_watch(env, caller("gov"), criteria=criteria, case_id="C1",
                                 purpose=CI, expires=LATER)
    assert watches.list_watches(env.store) == []
    [refused] = [e for e in entries(env, "watch.create") if e["outcome"] != "ok"]
    assert refused["principal"] == "gov"


def test_a_criteria_key_is_read_as_the_field_it_names(env: Env) -> None:
    """``Last-Name`` passes the criteria check as last_name: it is stored and matched as
    last_name (not stored as given, never matching, or matching on the wrong field)."""
    w = app_watches.create_watch(env, caller("gov"), criteria={"Last-Name": "roe"},
                                 case_id="C1", purpose=CI, expires=LATER)
    assert w.criteria == {"last_name": "roe"}
    join(env, "court", identity="I9", case_number="CR-3")
    assert len(alerts.list_alerts(env.store, "gov")) == 1
    with pytest.raises(Exception, match="twice"):
        app_watches.create_watch(env, caller("gov"),
                                 criteria={"last_name": "ROE", "Last Name": "DOE"},
                                 case_id="C1", purpose=CI, expires=LATER)


@pytest.mark.parametrize("criteria", [
    {"state": "NY"}, {"sex": "F"}, {"city": "AUSTIN"}, {"facility": "RIKERS"},
    {"zip": "10001"}, {"first_name": "ANA"}, {"booked_at": "2026-06-01"},
    {"state": "NY", "sex": "F", "city": "NEW YORK"}, {"dl_state": "NY"},
])
def test_a_criteria_watch_that_names_no_person_is_refused(
    env: Env, criteria: dict[str, str],
) -> None:
    """A dragnet: "every booking in New York", "every woman", "every ANA" alert on
    everyone. A watch is a standing read about someone: its criteria must name a person
    (a last or full name, or an identifier), as a match row must ("a sex or a state
    alone is no one")."""
    with pytest.raises(Denied, match="names no person"):
        app_watches.create_watch(env, caller("gov"), criteria=criteria, case_id="C1",
                                 purpose=CI, expires=LATER)
    assert watches.list_watches(env.store) == []


def test_a_member_taken_off_the_case_gets_no_more_alerts(env: Env) -> None:
    """Need-to-know (the case's members): an investigator removed from the case keeps a
    watch made while a member; it must stop disclosing at once, as a read would."""
    from idgraph.app import cases as app_cases

    app_cases.assign(env, caller("chief"), "C1", add=["off"])
    w = _watch(env, "off")
    join(env, "court", case_number="CR-4")
    assert len(alerts.list_alerts(env.store, "off")) == 1
    app_cases.assign(env, caller("chief"), "C1", remove=["off"])
    before = len(entries(env))
    join(env, "court", case_number="CR-5")
    assert len(alerts.list_alerts(env.store, "off")) == 1
    assert not [e for e in entries(env)[before:]
                if e["action"] == alerts.ACTION and e["principal"] == "off"]
    assert watches.get_watch(env.store, w.watch_id) is not None


def test_a_stream_opened_with_a_token_ends_when_the_token_is_revoked(env: Env) -> None:
    """A stolen API token streams its user's alerts. Revoking it must end the open
    stream, not only refuse the next request: the stream asks the shell's check
    (``stream_standing``) before every item."""
    from dataclasses import replace

    from idgraph.app import auth

    _watch(env)
    grant = auth.create_token(env, Caller("gov", via="cli"), name="phone", days=1)
    opened = replace(caller("gov"), token_id=grant.token_id)
    assert app_watches.stream_standing(env, opened) is None
    stream = app_watches.alert_stream(
        env, opened, timeout=0.05, recheck=0.0,
        still_valid=lambda: app_watches.stream_standing(env, opened) is None)
    join(env, "court", case_number="CR-6")
    assert [i["event"] for i in _drain(stream)] == ["alert"]
    auth.revoke_token(env, Caller("gov", via="cli"), grant.token_id)
    assert app_watches.stream_standing(env, opened) == "token revoked"
    join(env, "court", case_number="CR-7")
    assert list(stream) == []  # ended: nothing more, and the iterator is done
    assert len(alerts.list_alerts(env.store, "gov")) == 2  # the owner still has them
    assert alerts.BUS.publish("gov", {"event": "x", "data": {}}) == 0  # unsubscribed


def test_stream_standing_for_a_disabled_user_and_an_expired_token(env: Env) -> None:
    from dataclasses import replace

    from idgraph.app import auth

    grant = auth.create_token(env, Caller("gov", via="cli"), name="laptop", days=1)
    opened = replace(caller("gov"), token_id=grant.token_id)
    with clock.frozen(TODAY + timedelta(days=2)):
        assert app_watches.stream_standing(env, opened) == "token expired"
    assert app_watches.stream_standing(env, replace(opened, token_id="nope")) == \
        "token unknown"
    disable_user(env.store, "gov", actor="root")
    assert app_watches.stream_standing(env, opened) == "user unknown or disabled"
    assert app_watches.stream_standing(env, caller("gov")) == "user unknown or disabled"


@pytest.mark.parametrize("value", ["---", "%", "*", " . ", "''"])
def test_a_criterion_of_punctuation_only_is_refused(env: Env, value: str) -> None:
    """Criteria are compared with punctuation folded away: ``---`` would fold to nothing
    and match every record whose field folds to nothing. A value needs a letter or digit."""
    from idgraph.app.errors import Invalid

    with pytest.raises(Invalid):
        app_watches.create_watch(env, caller("gov"), criteria={"last_name": value},
                                 case_id="C1", purpose=CI, expires=LATER)
    assert watches.list_watches(env.store) == []
