"""The web UI end to end in headless Chromium: log in, state a purpose, search, profile
(a withheld source named with its rule), associates, explain, bulk match, the overseer's
dashboard and a subject-access report. Screenshots go to test-artifacts/web_*.png."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect
from web_fixtures import (
    INVESTIGATOR,
    MATCH_LIST,
    MATCH_MAPPING,
    OVERSEER,
    RECORDS,
    SAR_CASE,
    LiveWeb,
    choose_purpose,
    log_in,
    shot,
)


def _page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _no_console_errors(page: Page) -> None:
    """No script error and no CSP violation (an inline script or style would be one)."""
    errors: list[str] = page.errors  # type: ignore[attr-defined]
    assert not errors, errors


def test_investigator_walkthrough(browser: Browser, live: LiveWeb) -> None:
    page = _page(browser)
    page.goto(live.url("/identities/P1"))
    expect(page).to_have_url(live.url("/login?next=/identities/P1"))
    shot(page, "login")
    log_in(page, live, INVESTIGATOR, then="/search")
    expect(page.locator(".purpose-banner")).to_contain_text("No purpose chosen")
    shot(page, "purpose")
    choose_purpose(page)
    expect(page).to_have_url(live.url("/search"))
    banner = page.locator(".purpose-banner")
    expect(banner).to_contain_text("criminal_investigation")
    expect(banner).to_contain_text("C1")
    expect(banner).to_contain_text("DPPA-b1")

    # search (htmx swaps the results in and pushes the URL)
    page.get_by_label("Name").fill("bill oneil")
    page.get_by_label("Date of birth").fill("1984")
    page.get_by_role("button", name="Search").click()
    first = page.locator(".hit").first
    expect(first).to_contain_text("WILLIAM ONEIL")
    expect(first.locator("table.why")).to_contain_text("first name")
    expect(page.locator("#results")).to_contain_text("Not searched for this purpose: canary")
    expect(page).to_have_url(re.compile(r"/search\?name=bill(%20|\+)oneil&dob=1984"))  # pushed
    shot(page, "search")

    # a protected attribute refuses the whole search: the refusal is swapped in, with its rule
    page.get_by_label("Other criterion: field").fill("race")
    page.get_by_label("Other criterion: value").fill("x")
    page.get_by_role("button", name="Search").click()
    refusal = page.locator("#results [role='alert']")
    expect(refusal).to_be_visible()
    expect(page.locator("#results .tag.bad").first).to_be_visible()
    expect(page.locator(".hit")).to_have_count(0)
    shot(page, "search_refused")
    errors: list[str] = page.errors  # type: ignore[attr-defined]
    assert errors == ["Failed to load resource: the server responded with a status of 403 "
                      "(Forbidden)"], errors  # the refusal's status, nothing else
    errors.clear()
    page.get_by_label("Other criterion: field").fill("")
    page.get_by_label("Other criterion: value").fill("")
    page.get_by_role("button", name="Search").click()
    first = page.locator(".hit").first
    expect(first).to_contain_text("WILLIAM ONEIL")

    # profile: records by source with provenance, the withheld credit header and its rule
    first.get_by_role("link", name="WILLIAM ONEIL").click()
    expect(page).to_have_url(live.url("/identities/P1"))
    expect(page.locator("h1")).to_contain_text("WILLIAM ONEIL")
    withheld = page.locator("[data-withheld='canary']")
    expect(withheld).to_contain_text("canary")
    expect(withheld).to_contain_text("glba")
    expect(page.locator(".timeline li")).to_have_count(2)
    expect(page.locator(".source-group")).to_have_count(3)
    expect(page.get_by_text("77 HIDDEN LN")).to_have_count(0)  # the canary's address
    shot(page, "profile")

    # explain a link of the profile
    page.get_by_role("link", name="Explain").first.click()
    expect(page.locator("table.waterfall")).to_contain_text("prior")
    expect(page.locator("table.waterfall svg").first).to_be_attached()
    shot(page, "explain")

    # associates: the SVG graph links to the associate's profile
    page.goto(live.url("/identities/P1/associates"))
    graph = page.locator("figure.graph svg")
    expect(graph).to_be_visible()
    expect(graph.locator("a")).to_have_count(1)
    expect(page.locator("table")).to_contain_text("P2")
    shot(page, "associates")

    # bulk match: upload, progress (htmx polling), results and download
    page.goto(live.url("/match"))
    page.get_by_label("List").set_input_files(
        {"name": "people.csv", "mimeType": "text/csv", "buffer": MATCH_LIST.encode()})
    page.get_by_label("Mapping").set_input_files(
        {"name": "mapping.yaml", "mimeType": "text/yaml", "buffer": MATCH_MAPPING.encode()})
    page.get_by_role("button", name="Start matching").click()
    expect(page.locator("#job-progress")).to_contain_text("Done: 4 rows", timeout=60_000)
    expect(page.locator("progress")).to_have_attribute("value", "100")
    expect(page.locator("#job-progress table")).to_contain_text("P1")
    shot(page, "match")
    with page.expect_download() as info:
        page.locator("#download").click()
    text = info.value.path().read_text()
    assert text.splitlines()[0].startswith("line,row_id,status,identity_id")
    assert len(text.splitlines()) == 5

    # cases and legal process
    page.goto(live.url("/cases/C1"))
    expect(page.locator("h1")).to_contain_text("burglary series")
    shot(page, "case")
    _no_console_errors(page)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(live.url("/login"))
    page.goto(live.url("/search"))
    expect(page).to_have_url(live.url("/login?next=/search"))
    page.context.close()


def test_overseer_dashboard(browser: Browser, live: LiveWeb) -> None:
    page = _page(browser)
    log_in(page, live, OVERSEER, then="/oversight")
    page.goto(live.url("/oversight"))
    expect(page.locator("h1")).to_have_text("Oversight report")
    expect(page.locator(".charts svg")).to_have_count(4)
    expect(page.locator(".cards .card").first).to_be_visible()
    shot(page, "oversight")
    _no_console_errors(page)
    page.context.close()


def test_records_officer_subject_access_report(browser: Browser, live: LiveWeb) -> None:
    page = _page(browser)
    log_in(page, live, RECORDS, then="/records")
    page.goto(live.url("/records"))
    expect(page.locator("h1")).to_have_text("Records officer")
    page.get_by_label("Identity").fill("P1")
    page.get_by_label("Case (subject access)").fill(SAR_CASE)
    page.get_by_label("Requester").fill("the subject, by post")
    page.get_by_role("button", name="Open request").click()
    expect(page.locator(".alert.ok")).to_contain_text("subject-access request is open")
    shot(page, "records")
    page.get_by_role("link", name="Report").first.click()
    expect(page.locator("h1")).to_have_text("Subject-access report")
    expect(page.locator("main")).to_contain_text("Records held about you")
    expect(page.locator(".site-footer")).to_contain_text("logged as entry #")
    shot(page, "subject_report")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.get_by_role("button", name="Print this report")).to_be_hidden()
    shot(page, "subject_report_print")
    _no_console_errors(page)
    page.context.close()
