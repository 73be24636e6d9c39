"""Acts through the UI: open a case, register legal process, apply retention; a refused
act is a page naming its rules, with the status kept."""

from __future__ import annotations

import json

from playwright.sync_api import Browser, Dialog, expect
from web_fixtures import (
    ADMIN,
    CASE,
    INVESTIGATOR,
    OVERSEER,
    PASSWORD,
    PURPOSE,
    RECORDS,
    SUPERVISOR,
    LiveWeb,
    choose_purpose,
    log_in,
    shot,
)

from idgraph.api.deps import locked


def _accept(dialog: Dialog) -> None:
    dialog.accept()


def test_open_a_case_and_register_legal_process(browser: Browser, live: LiveWeb) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, live, INVESTIGATOR)
    page.goto(live.url("/cases"))
    page.get_by_label("Case id").fill("C-UI-1")
    page.get_by_label("Title").fill("opened in the browser")
    page.get_by_label("Kind").select_option("criminal")
    page.get_by_role("button", name="Open case").click()
    expect(page).to_have_url(live.url("/cases/C-UI-1"))
    expect(page.locator("h1")).to_contain_text("opened in the browser")

    page.get_by_label("Type").select_option("subpoena")
    page.get_by_label("Number").fill("SUB-77")
    page.get_by_label("Issued").fill("2026-01-05")
    page.get_by_label("Level").select_option("state")
    page.get_by_label("Issuer").select_option("court")
    page.get_by_label("Court", exact=True).fill("Kings County Supreme Court")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("table").first).to_contain_text("SUB-77")
    expect(page.locator("table").first).to_contain_text("not verified")

    # a second person of the organisation checks the paper: its scan's SHA-256 is kept
    checker = browser.new_context().new_page()
    log_in(checker, live, SUPERVISOR)
    checker.goto(live.url("/legal?case_id=C-UI-1"))
    row = checker.locator("tr", has_text="SUB-77")
    row.locator("input[type='file']").set_input_files(
        {"name": "sub-77.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 synthetic"})
    row.get_by_role("button", name="Verify").click()
    expect(checker.locator("tr", has_text="SUB-77")).to_contain_text(f"verified by {SUPERVISOR}")
    shot(checker, "legal")
    checker.context.close()

    page.goto(live.url("/cases/C-UI-1"))
    page.on("dialog", _accept)
    page.get_by_role("button", name="Close case").click()
    expect(page.locator("dl.values")).to_contain_text("closed")
    context.close()


def test_records_officer_applies_retention(browser: Browser, live: LiveWeb) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.on("dialog", _accept)
    log_in(page, live, RECORDS)
    page.goto(live.url("/records"))
    runs = page.locator("h2:has-text('Retention') + table tr")
    before = runs.count()  # header + runs, or header + "No retention runs yet."
    empty = page.get_by_text("No retention runs yet.").count() == 1
    page.get_by_role("button", name="Apply retention now").click()
    expect(page.locator(".alert.ok")).to_contain_text("Retention was applied")
    expect(runs).to_have_count(before if empty else before + 1)
    expect(page.get_by_text("No retention runs yet.")).to_have_count(0)
    context.close()


def test_a_refused_act_is_a_page_with_its_rules(browser: Browser, live: LiveWeb) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, live, INVESTIGATOR)
    response = page.goto(live.url("/oversight"))
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Denied")
    expect(page.locator("main .tag.bad").first).to_be_visible()
    shot(page, "denied")
    context.close()


def test_purpose_changes_are_audited_as_web_acts(browser: Browser, live: LiveWeb) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, live, INVESTIGATOR)
    choose_purpose(page)
    with locked(live.env):
        rows = live.env.store.fetchall("SELECT entry FROM audit_log ORDER BY seq")
    entries = [json.loads(r[0]) for r in rows]
    changes = [e for e in entries
               if e["action"] == "session.purpose" and e["principal"] == INVESTIGATOR]
    assert changes, [e["action"] for e in entries][-10:]
    last = changes[-1]
    assert last["detail"]["purpose"] == PURPOSE and last["case_id"] == CASE
    assert last["detail"]["via"] == "web" and last["outcome"] == "ok"
    context.close()


def test_keyboard_reaches_the_content_first(browser: Browser, live: LiveWeb) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, live, INVESTIGATOR)
    choose_purpose(page)
    page.goto(live.url("/search"))
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown when focused
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Name")).to_be_focused()
    page.keyboard.type("liz taylor")
    page.keyboard.press("Enter")  # submits the form from the keyboard
    expect(page.locator(".hit").first).to_contain_text("TAYLOR")
    context.close()


def test_admin_adds_a_user_who_logs_in_until_disabled(browser: Browser, live: LiveWeb) -> None:
    chief = browser.new_context().new_page()
    log_in(chief, live, ADMIN)
    chief.goto(live.url("/users"))
    chief.get_by_label("User name").fill("newdet")
    chief.get_by_label("Role").select_option("investigator")
    chief.get_by_label("Organisation", exact=True).fill("nypd")
    chief.get_by_label("Organisation type").select_option("government")
    chief.get_by_role("button", name="Add user").click()
    expect(chief.locator(".alert.ok")).to_contain_text("The user is added")
    new_password = "a fresh passphrase for newdet"
    chief.get_by_label("New password for newdet").fill(new_password)
    chief.get_by_label("Again, for newdet").fill(new_password)
    chief.locator("tr", has_text="newdet").get_by_role("button", name="Set").click()
    expect(chief.locator(".alert.ok")).to_contain_text("The password is set")
    shot(chief, "users")

    det = browser.new_context().new_page()
    det.goto(live.url("/login"))
    det.get_by_label("User name").fill("newdet")
    det.get_by_label("Password").fill(new_password)
    det.get_by_role("button", name="Log in").click()
    det.wait_for_url("**/purpose**")
    det.goto(live.url("/account"))
    expect(det.locator("main")).to_contain_text("newdet")

    chief.on("dialog", _accept)
    chief.locator("tr", has_text="newdet").get_by_role("button", name="Disable").click()
    expect(chief.locator(".alert.ok")).to_contain_text("disabled")
    det.goto(live.url("/account"))
    expect(det).to_have_url(live.url("/login?next=/account"))  # the session stopped at once
    chief.context.close()
    det.context.close()


def test_a_user_changes_their_own_password(browser: Browser, live: LiveWeb) -> None:
    page = browser.new_context().new_page()
    log_in(page, live, OVERSEER)
    page.goto(live.url("/account"))
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("one long passphrase")
    page.get_by_label("New password again").fill("another long passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("[role='alert']")).to_contain_text("differ")
    page.goto(live.url("/account"))
    page.get_by_label("Current password").fill("not the password at all")
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("[role='alert']")).to_be_visible()  # a wrong current one: refused
    page.goto(live.url("/account"))  # still logged in
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(PASSWORD)  # the same, valid
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(live.url("/login?changed=1"))  # every session of theirs ended
    expect(page.locator(".alert.ok")).to_contain_text("password is changed")
    page.get_by_label("User name").fill(OVERSEER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/purpose**")
    page.context.close()
