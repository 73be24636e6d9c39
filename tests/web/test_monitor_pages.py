"""The monitoring pages (watches, a watch, alerts, deconflictions, dead letters, feeds) in
Chromium and over HTTP: who sees what, refusals as pages, CSRF, the watch stream's
session checks, feed-token mint and revoke. Attacks first."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from monitor_web_fixtures import (
    IMM_CASE,
    IMM_PURPOSE,
    IMMIGRATION,
    JAIL,
    NY_DMV,
    feed_token,
    identity_of,
    live_monitor,
    push,
    record,
)
from playwright.sync_api import APIResponse, Browser, BrowserContext, Dialog, Page, expect
from web_fixtures import (
    ADMIN,
    CASE,
    CLAIMS,
    INVESTIGATOR,
    OVERSEER,
    PURPOSE,
    RECORDS,
    SUPERVISOR,
    XSS_SCRIPT,
    LiveWeb,
    choose_purpose,
    log_in,
    shot,
)

from idgraph.api.deps import SESSION_COOKIE, locked
from idgraph.app import watches
from idgraph.app.context import Caller
from idgraph.web import views_monitor

EXPIRES = (date.today() + timedelta(days=30)).isoformat()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWeb]:
    with live_monitor(tmp_path_factory.mktemp("monitor-pages")) as running:
        yield running


ALERTS: list[str] = []  # alert() dialogs seen: script that ran


def _answer(dialog: Dialog) -> None:
    """Accept the site's own confirmations (``data-confirm``); record any alert()."""
    if dialog.type == "confirm":
        dialog.accept()
    else:
        ALERTS.append(dialog.message)
        dialog.dismiss()


CONTEXTS: list[BrowserContext] = []


@pytest.fixture(autouse=True)
def _close_pages() -> Iterator[None]:
    """Each test's browser contexts are closed after it (their streams end with them)."""
    yield
    while CONTEXTS:
        CONTEXTS.pop().close()


def _as(browser: Browser, live: LiveWeb, user: str, *, purpose: str | None = None,
        case: str | None = None, claims: tuple[str, ...] = ()) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    CONTEXTS.append(context)
    page = context.new_page()
    page.on("dialog", _answer)
    log_in(page, live, user)
    if purpose:
        choose_purpose(page, purpose, case=case, claims=claims)
    return page


def _csrf(page: Page) -> str:
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    return token


def _post(page: Page, live: LiveWeb, path: str, form: dict[str, Any], *,
          csrf: bool = True) -> APIResponse:
    """A form POST with the page's cookies (the CSRF field from its meta, unless not)."""
    data = {**form, **({"csrf": _csrf(page)} if csrf else {})}
    return page.request.post(live.url(path), form=data, max_redirects=0)


def _watch_of(live: LiveWeb, user: str, identity: str, *, purpose: str, case: str,
              claims: tuple[str, ...]) -> str:
    with locked(live.env):
        made = watches.create_watch(live.env, Caller(user, via="web"), identity_id=identity,
                                    case_id=case, purpose=purpose, claims=claims,
                                    expires=date.today() + timedelta(days=30))
    return made.watch_id


@pytest.fixture(scope="module")
def p1(live: LiveWeb) -> str:
    ident = identity_of(live, "tx_dmv/1")
    assert ident
    return ident


# -- attacks first -----------------------------------------------------------------------

def test_forms_without_the_csrf_token_are_refused(browser: Browser, live: LiveWeb,
                                                  p1: str) -> None:
    gov = _as(browser, live, INVESTIGATOR, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    watch_id = _watch_of(live, INVESTIGATOR, p1, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    gov.goto(live.url("/watches"))
    made = _post(gov, live, "/watches", {"identity_id": p1, "case_id": CASE,
                                         "purpose": PURPOSE, "expires": EXPIRES}, csrf=False)
    cancel = _post(gov, live, f"/watches/{watch_id}/cancel", {}, csrf=False)
    admin = _as(browser, live, ADMIN)
    admin.goto(live.url(f"/feeds/{JAIL}"))
    mint = _post(admin, live, f"/feeds/{JAIL}/tokens", {"days": "1"}, csrf=False)
    assert (made.status, cancel.status, mint.status) == (403, 403, 403)
    with locked(live.env):
        mine = watches.list_watches(live.env, Caller(INVESTIGATOR, via="web"))
    assert {w.watch_id: w.status for w in mine}[watch_id] == "active"


def test_another_users_watch_and_its_stream_are_not_found(browser: Browser, live: LiveWeb,
                                                          p1: str) -> None:
    ice_watch = _watch_of(live, IMMIGRATION, p1, purpose=IMM_PURPOSE, case=IMM_CASE,
                          claims=())
    gov = _as(browser, live, INVESTIGATOR, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    page = gov.request.get(live.url(f"/watches/{ice_watch}"))
    stream = gov.request.get(live.url(f"/watches/{ice_watch}/stream"))
    cancel = _post(gov, live, f"/watches/{ice_watch}/cancel", {})
    assert (page.status, stream.status) == (404, 404)
    assert cancel.status in (403, 404)
    assert "event:" not in stream.text()


def test_the_stream_needs_a_live_session(live: LiveWeb, p1: str) -> None:
    watch_id = _watch_of(live, INVESTIGATOR, p1, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    for cookies in ({}, {SESSION_COOKIE: "forged-session-id"}):
        answer = httpx.get(live.url(f"/watches/{watch_id}/stream"), cookies=cookies,
                           follow_redirects=False, timeout=10)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")


def test_the_stream_ends_when_the_session_ends(browser: Browser, live: LiveWeb, p1: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views_monitor, "KEEP_ALIVE", 0.2)
    monkeypatch.setattr(views_monitor, "RECHECK_SECONDS", 0.2)
    gov = _as(browser, live, INVESTIGATOR, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    watch_id = _watch_of(live, INVESTIGATOR, p1, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    sid = next(c["value"] for c in gov.context.cookies() if c["name"] == SESSION_COOKIE)
    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        with httpx.stream("GET", live.url(f"/watches/{watch_id}/stream"),
                          cookies={SESSION_COOKIE: sid}, timeout=20) as answer:
            assert answer.headers["content-type"].startswith("text/event-stream")
            for line in answer.iter_lines():
                seen.append(line)
                if line == "event: end":
                    break
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(1.0)
    assert ": keep-alive" in seen  # open and alive
    gov.goto(live.url("/watches"))
    gov.get_by_role("button", name="Log out").click()
    gov.wait_for_url("**/login**")
    ended = time.monotonic()
    assert done.wait(10), seen[-5:]
    assert "event: end" in seen
    assert time.monotonic() - ended < 5


def test_a_supervisor_sees_the_watch_but_not_its_alerts(browser: Browser, live: LiveWeb,
                                                        p1: str) -> None:
    watch_id = _watch_of(live, INVESTIGATOR, p1, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    chief = _as(browser, live, SUPERVISOR)
    chief.goto(live.url(f"/watches/{watch_id}"))
    expect(chief.locator("main")).to_contain_text("shown to the owner only")
    assert chief.locator("#alerts").count() == 0


def test_refused_and_invalid_watches_are_pages_naming_why(browser: Browser, live: LiveWeb,
                                                          p1: str) -> None:
    gov = _as(browser, live, INVESTIGATOR, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    gov.goto(live.url("/watches"))
    base = {"case_id": CASE, "purpose": PURPOSE, "expires": EXPIRES, "claims": "DPPA-b1"}
    neither = _post(gov, live, "/watches", base)
    both = _post(gov, live, "/watches", {**base, "identity_id": p1,
                                         "criteria": "last_name: ONEIL"})
    protected = _post(gov, live, "/watches", {**base, "criteria": "ethnicity: x"})
    past = _post(gov, live, "/watches", {**base, "identity_id": p1, "expires": "2000-01-01"})
    wrong_case = _post(gov, live, "/watches", {**base, "identity_id": p1, "case_id": IMM_CASE})
    assert neither.status == 422 and "identity or give criteria" in neither.text()
    assert both.status == 422
    assert protected.status == 403 and "base.filters_allowed" in protected.text()
    assert past.status == 422 and "expires" in past.text()
    assert wrong_case.status in (403, 404)
    # the form keeps what was typed
    assert f'value="{p1}"' in past.text()


def test_criteria_with_script_are_shown_inert(browser: Browser, live: LiveWeb) -> None:
    gov = _as(browser, live, INVESTIGATOR, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    gov.goto(live.url("/watches"))
    gov.get_by_label("Criteria").fill(f"last_name: {XSS_SCRIPT}")
    gov.get_by_label("Expires").fill(EXPIRES)
    scripts = gov.locator("script").count()
    gov.get_by_role("button", name="Set up watch").click()
    gov.wait_for_load_state()
    expect(gov.locator("#created-watch")).to_be_visible()
    expect(gov.locator("table").first).to_contain_text(XSS_SCRIPT)
    assert gov.locator("script").count() == scripts
    gov.wait_for_timeout(200)
    assert not ALERTS, ALERTS


def test_an_overseer_lists_watches_but_cannot_set_one_up(browser: Browser, live: LiveWeb,
                                                         p1: str) -> None:
    _watch_of(live, INVESTIGATOR, p1, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    ovs = _as(browser, live, OVERSEER)
    ovs.goto(live.url("/watches"))
    expect(ovs.locator("main table").first).to_contain_text(INVESTIGATOR)  # every org's
    assert ovs.get_by_role("button", name="Set up watch").count() == 0
    made = _post(ovs, live, "/watches", {"identity_id": p1, "case_id": CASE,
                                         "purpose": PURPOSE, "expires": EXPIRES})
    assert made.status == 403  # hiding the form decides nothing: the app refuses


# -- the pages ---------------------------------------------------------------------------

def test_nav_links_by_role(browser: Browser, live: LiveWeb) -> None:
    expected = {
        INVESTIGATOR: {"Watches", "Alerts"},
        SUPERVISOR: {"Watches", "Alerts", "Feeds"},
        ADMIN: {"Feeds"},
        RECORDS: {"Feeds"},
    }
    for user, links in expected.items():
        page = _as(browser, live, user)
        nav = set(page.locator("nav.site-nav a").all_inner_texts())
        assert nav & {"Watches", "Alerts", "Feeds"} == links, (user, nav)


def test_watch_create_cancel_alerts_and_deconfliction(browser: Browser, live: LiveWeb,
                                                      p1: str) -> None:
    gov = _as(browser, live, INVESTIGATOR, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    gov.goto(live.url("/watches"))
    gov.get_by_label("Identity").fill(p1)
    gov.get_by_label("Expires").fill(EXPIRES)
    gov.get_by_role("button", name="Set up watch").click()
    gov.wait_for_load_state()
    watch_id = gov.locator("#created-watch").inner_text().strip()
    gov.goto(live.url(f"/watches/{watch_id}"))
    expect(gov.locator("#stream-state")).to_have_attribute("data-state", "open")
    told = gov.locator("tr.deconfliction-row").count()
    # another organisation watches the same person: both are told, live on the page too
    ice_watch = _watch_of(live, IMMIGRATION, p1, purpose=IMM_PURPOSE, case=IMM_CASE,
                          claims=())
    live_row = gov.locator("tr.deconfliction-row").filter(has_text=ice_watch)
    expect(live_row).to_have_count(1)
    expect(live_row).to_contain_text(IMMIGRATION)
    assert gov.locator("tr.deconfliction-row").count() == told + 1
    gov.goto(live.url("/watches/deconflictions"))
    expect(gov.locator("main table")).to_contain_text("ice")
    expect(gov.locator("main table")).to_contain_text(IMMIGRATION)
    # an alert, listed on /alerts and on the watch's page
    receipt = push(live, JAIL, feed_token(live, JAIL), record("PG1"))
    assert receipt["placed"] is True
    gov.goto(live.url("/alerts"))
    expect(gov.locator("main table")).to_contain_text(f"{JAIL}/PG1")
    gov.goto(live.url(f"/watches/{watch_id}"))
    expect(gov.locator("tr.alert-row").filter(has_text=f"{JAIL}/PG1")).to_have_count(1)
    gov.goto(live.url("/watches/dead-letters"))
    expect(gov.locator("h1")).to_have_text("Failed webhook deliveries")
    # cancel through the form: the watch stops and says so
    gov.goto(live.url(f"/watches/{watch_id}"))
    gov.get_by_role("button", name="Cancel watch").click()
    gov.wait_for_load_state()
    expect(gov.locator("#watch-status")).to_have_text("cancelled")
    assert gov.get_by_role("button", name="Cancel watch").count() == 0
    shot(gov, "monitor_watch_cancelled")


def test_feed_status_mint_and_revoke(browser: Browser, live: LiveWeb) -> None:
    admin = _as(browser, live, ADMIN)
    admin.goto(live.url("/feeds"))
    admin.get_by_role("link", name=JAIL, exact=True).click()
    admin.wait_for_url(f"**/feeds/{JAIL}")
    stored_before = int(admin.locator("#feed-stored").inner_text())
    admin.get_by_label("Valid for (days)").fill("2")
    admin.get_by_role("button", name="Mint a token").click()
    admin.wait_for_load_state()
    token = admin.locator("#minted-token").inner_text().strip()
    assert token.startswith("idgf_")
    receipt = push(live, JAIL, token, record("FS1"))
    assert receipt["stored"] == 1
    admin.goto(live.url(f"/feeds/{JAIL}"))
    assert int(admin.locator("#feed-stored").inner_text()) == stored_before + 1
    assert admin.locator("#minted-token").count() == 0  # shown once
    shot(admin, "monitor_feed")
    token_id = token.split("_")[1]
    listed = admin.locator(f'tr.token-row[data-token-id="{token_id}"]')
    expect(listed).to_contain_text("active")
    assert token.split("_", 2)[2] not in (admin.content())  # listed without its secret
    # a token of another source is not found from this source's page
    other = feed_token(live, NY_DMV).split("_")[1]
    assert _post(admin, live, f"/feeds/{JAIL}/tokens/revoke", {"token_id": other}).status == 404
    admin.get_by_role("button", name=f"Revoke {token_id}").click()
    admin.wait_for_load_state()
    expect(admin.locator("main")).to_contain_text("revoked")
    expect(listed).to_contain_text("revoked")
    assert admin.get_by_role("button", name=f"Revoke {token_id}").count() == 0
    refused = httpx.post(live.url(f"/api/v1/feeds/{JAIL}"), content=b'{"id": "FS2"}\n',
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert refused.status_code == 401


def test_feed_pages_by_role(browser: Browser, live: LiveWeb) -> None:
    rec = _as(browser, live, RECORDS)
    rec.goto(live.url(f"/feeds/{JAIL}"))
    expect(rec.locator("#feed-stored")).to_be_visible()
    assert rec.get_by_role("button", name="Mint a token").count() == 0
    assert _post(rec, live, f"/feeds/{JAIL}/tokens", {"days": "1"}).status == 403
    assert _post(rec, live, f"/feeds/{JAIL}/tokens/revoke", {"token_id": "x"}).status == 403
    gov = _as(browser, live, INVESTIGATOR)
    assert gov.request.get(live.url(f"/feeds/{JAIL}")).status == 403
    assert gov.request.get(live.url("/feeds")).status == 403
    admin = _as(browser, live, ADMIN)
    assert admin.request.get(live.url("/feeds/no-such-source")).status == 404


def _stream_lines(live: LiveWeb, sid: str, path: str, *, seconds: float) -> list[str]:
    """The SSE lines of ``path`` read for ``seconds`` (keep-alives every 0.2 s)."""
    lines: list[str] = []
    until = time.monotonic() + seconds
    with httpx.stream("GET", live.url(path), cookies={SESSION_COOKIE: sid},
                      timeout=10) as answer:
        assert answer.status_code == 200, answer.read()[:300]
        for line in answer.iter_lines():
            lines.append(line)
            if time.monotonic() >= until:
                break
    return lines


def test_the_stream_sends_what_was_missed_and_only_its_watchs_alerts(
        browser: Browser, live: LiveWeb, p1: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An alert raised between the page's render and the stream's opening (or while the
    browser reconnects) is sent first (``?since=``); another watch's alert never is."""
    monkeypatch.setattr(views_monitor, "KEEP_ALIVE", 0.2)
    gov = _as(browser, live, INVESTIGATOR, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    sid = next(c["value"] for c in gov.context.cookies() if c["name"] == SESSION_COOKIE)
    p6 = identity_of(live, "tx_dmv/6")
    assert p6
    on_p1 = _watch_of(live, INVESTIGATOR, p1, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    on_p6 = _watch_of(live, INVESTIGATOR, p6, purpose=PURPOSE, case=CASE, claims=CLAIMS)
    gov.goto(live.url(f"/watches/{on_p1}"))
    since = gov.locator("#alerts").get_attribute("data-stream")
    assert since and "?since=" in since
    receipt = push(live, JAIL, feed_token(live, JAIL), record("MS1"))  # the page is not open
    assert receipt["placed"] is True
    caught = _stream_lines(live, sid, since, seconds=1.0)
    other = _stream_lines(live, sid, f"/watches/{on_p6}/stream?since=2000-01-01T00:00:00",
                          seconds=1.0)
    later = _stream_lines(live, sid, f"/watches/{on_p1}/stream?since=2999-01-01T00:00:00",
                          seconds=1.0)
    alerts = [line for line in caught if line.startswith("data: ") and "MS1" in line]
    assert "event: alert" in caught and len(alerts) == 1
    assert on_p1 in alerts[0]
    assert not any(line.startswith(("event: alert", "data: ")) for line in other)
    assert not any(line.startswith(("event: alert", "data: ")) for line in later)
    assert ": keep-alive" in other and ": keep-alive" in later


def test_monitor_js_is_package_data_and_inserts_text_only() -> None:
    from importlib import resources

    script = resources.files("idgraph.web").joinpath("static", "monitor.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function"):
        assert sink not in script, sink
    assert "textContent" in script and "EventSource" in script
