"""Issue 16's Done-when, in a real browser: a watch page open in Chromium shows an alert
within a second of a booking pushed over HTTP to the live feed (measured from sending
the push to the alert's row appearing in the page, asserted, and printed); a watch whose
purpose may not use the source shows nothing; pushed script is inert in a live row.

The server is the in-process uvicorn on 127.0.0.1 (``monitor_web_fixtures``); the push is
a real HTTP ``POST /api/v1/feeds/{source}`` with a feed token; the watch page's
EventSource is on the browser's session cookie. Chromium missing fails (never skips).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Final

import pytest
from monitor_web_fixtures import (
    IMM_CASE,
    IMM_PURPOSE,
    IMMIGRATION,
    JAIL,
    NY_DMV,
    alerts_of,
    feed_token,
    identity_of,
    live_monitor,
    push,
    record,
)
from playwright.sync_api import Browser, BrowserContext, Page, expect
from web_fixtures import (
    CASE,
    CLAIMS,
    INVESTIGATOR,
    PURPOSE,
    XSS_IMG,
    XSS_SCRIPT,
    LiveWeb,
    choose_purpose,
    log_in,
    shot,
)

BUDGET_SECONDS: Final = 1.0  # the issue: "within a second of a pushed booking"
DOC_SHOT: Final = Path(__file__).resolve().parents[2] / "docs" / "img" / "ui-watch.png"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWeb]:
    with live_monitor(tmp_path_factory.mktemp("monitor")) as running:
        yield running


CONTEXTS: list[BrowserContext] = []


@pytest.fixture(autouse=True)
def _close_pages() -> Iterator[None]:
    """Each test's browser contexts are closed after it (their streams end with them)."""
    yield
    while CONTEXTS:
        CONTEXTS.pop().close()


def _page(browser: Browser, errors: list[str]) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    CONTEXTS.append(context)
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}")
            if m.type == "error" else None)
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    return page


def _set_up_watch(page: Page, live: LiveWeb, user: str, identity: str, *, purpose: str,
                  case: str, claims: tuple[str, ...]) -> str:
    """Log in, state the purpose, create a watch on ``identity`` through the form and open
    its page; wait until its live stream is open. The watch id."""
    log_in(page, live, user)
    choose_purpose(page, purpose, case=case, claims=claims)
    page.goto(live.url("/watches"))
    page.get_by_label("Identity").fill(identity)
    page.get_by_label("Expires").fill((date.today() + timedelta(days=30)).isoformat())
    page.get_by_role("button", name="Set up watch").click()
    page.wait_for_load_state()
    created = page.locator("#created-watch")
    expect(created).to_be_visible()
    watch_id = created.inner_text().strip()
    created.click()
    page.wait_for_url(f"**/watches/{watch_id}")
    expect(page.locator("#stream-state")).to_have_attribute("data-state", "open")
    return watch_id


def _rows(page: Page, source: str) -> int:
    return page.locator("tr.alert-row").filter(has_text=source).count()


def test_a_pushed_booking_appears_on_the_watch_page_within_a_second(
        browser: Browser, live: LiveWeb) -> None:
    errors: list[str] = []
    page = _page(browser, errors)
    identity = identity_of(live, "tx_dmv/1")
    assert identity
    watch_id = _set_up_watch(page, live, INVESTIGATOR, identity, purpose=PURPOSE, case=CASE,
                             claims=CLAIMS)
    assert _rows(page, JAIL) == 0
    token = feed_token(live, JAIL)
    # the feed is running: one booking of somebody nobody watches goes first (a server's
    # first push opens the index writer and the live linker)
    warm = push(live, JAIL, token, record("B0", first="ELIZABETH", last="TAYLOR",
                                          dob="1962-02-27"))
    assert warm["stored"] == 1 and _rows(page, JAIL) == 0
    arrived = page.locator("tr.alert-row").filter(has_text=f"{JAIL}/B1")

    t0 = time.perf_counter()
    receipt = push(live, JAIL, token, record("B1"))
    pushed = time.perf_counter() - t0
    arrived.wait_for(state="visible", timeout=10_000)
    elapsed = time.perf_counter() - t0

    print(f"\nfeed push answered in {pushed * 1000:.0f} ms; alert on the watch page "
          f"{elapsed * 1000:.0f} ms after the push was sent (budget {BUDGET_SECONDS:.1f} s)")
    assert [line["status"] for line in receipt["lines"]] == ["stored"]
    assert receipt["placed"] is True, receipt
    assert identity_of(live, f"{JAIL}/B1") == identity
    assert elapsed <= BUDGET_SECONDS, f"the alert took {elapsed:.3f} s (> {BUDGET_SECONDS} s)"
    # the row shows the minimised record, and it is the stored alert
    expect(arrived).to_contain_text("ONEIL")
    DOC_SHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot(page, "monitor_watch_live", full_page=False), DOC_SHOT)
    assert alerts_of(live, watch_id) == [f"{JAIL}/B1"]
    stored_id = arrived.get_attribute("data-alert-id")
    page.reload()
    expect(page.locator(f'tr.alert-row[data-alert-id="{stored_id}"]')).to_have_count(1)
    expect(page.locator("#stream-state")).to_have_attribute("data-state", "open")
    shot(page, "monitor_watch_reloaded")
    assert not errors, errors


def test_a_watch_whose_purpose_may_not_use_the_source_shows_nothing(
        browser: Browser, live: LiveWeb) -> None:
    """Civil immigration enforcement watching a person whose new record is a New York DMV
    record, without an Article III warrant (N.Y. VTL § 201(12)(a)): nothing on its page,
    while the criminal investigation's watch on the same person shows the record."""
    errors: list[str] = []
    identity = identity_of(live, "tx_dmv/1")
    assert identity
    gov = _page(browser, errors)
    gov_watch = _set_up_watch(gov, live, INVESTIGATOR, identity, purpose=PURPOSE, case=CASE,
                              claims=CLAIMS)
    ice = _page(browser, errors)
    ice_watch = _set_up_watch(ice, live, IMMIGRATION, identity, purpose=IMM_PURPOSE,
                              case=IMM_CASE, claims=())
    before = _rows(ice, "")
    token = feed_token(live, NY_DMV)
    t0 = time.perf_counter()
    receipt = push(live, NY_DMV, token, record("D1"))
    assert receipt["placed"] is True and identity_of(live, f"{NY_DMV}/D1") == identity
    # the control: the permitted watch shows it (so the push was placed and decided) ...
    gov.locator("tr.alert-row").filter(has_text=f"{NY_DMV}/D1").wait_for(timeout=10_000)
    print(f"\npermitted watch: NY DMV alert shown {time.perf_counter() - t0:.3f} s after "
          "the push; the immigration watch is checked for 1.5 s more")
    # ... and the refused one shows nothing, now or later
    ice.wait_for_timeout(1500)
    assert _rows(ice, NY_DMV) == 0
    assert _rows(ice, "") == before
    expect(ice.locator("#stream-state")).to_have_attribute("data-state", "open")
    assert f"{NY_DMV}/D1" in alerts_of(live, gov_watch)
    assert not any(r.startswith(f"{NY_DMV}/") for r in alerts_of(live, ice_watch))
    ice.reload()
    assert _rows(ice, NY_DMV) == 0
    assert not errors, errors


def test_script_in_a_pushed_record_is_inert_in_the_live_row(
        browser: Browser, live: LiveWeb) -> None:
    errors: list[str] = []
    page = _page(browser, errors)
    identity = identity_of(live, "tx_dmv/1")
    assert identity
    _set_up_watch(page, live, INVESTIGATOR, identity, purpose=PURPOSE, case=CASE,
                  claims=CLAIMS)
    scripts_before = page.locator("script").count()
    token = feed_token(live, JAIL)
    rid = f"B2{XSS_SCRIPT}{XSS_IMG}"  # a record id is shown as sent (names are normalised)
    receipt = push(live, JAIL, token, record(rid))
    assert receipt["placed"] is True and identity_of(live, f"{JAIL}/{rid}") == identity
    row = page.locator("tr.alert-row").filter(has_text=f"{JAIL}/B2")
    row.wait_for(timeout=10_000)
    expect(row).to_contain_text(XSS_SCRIPT)  # shown as text ...
    expect(row).to_contain_text(XSS_IMG)
    assert row.locator("img, script").count() == 0  # ... not as markup
    assert page.locator("#alerts img").count() == 0
    assert page.locator("script").count() == scripts_before
    page.wait_for_timeout(300)
    assert not errors, errors
