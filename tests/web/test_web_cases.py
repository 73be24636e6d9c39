"""The case page (issue 16 item 4): members with the supervisor's assign form, subjects
and notes, legal process, watches and the activity table; need-to-know on the page.

Attacks first: a note carrying ``<script>`` and an ``onerror`` image stays text in
Chromium; a colleague who is not a member sees the case's header but none of its material
(the refusal names the rule); the assign form refuses an investigator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import httpx
from playwright.sync_api import Browser, Dialog, expect
from web_fixtures import (
    ADMIN,
    INVESTIGATOR,
    PASSWORD,
    RECORDS,
    SAR_CASE,
    SUPERVISOR,
    XSS_IMG,
    XSS_SCRIPT,
    LiveWeb,
    log_in,
    shot,
)

from idgraph.api.deps import locked
from idgraph.app import Caller, admin, auth
from idgraph.app import cases as app_cases
from idgraph.audit import AuditEntry, record

WEB_CASE = "C-WEB-CASES"
COLLEAGUE = "gov-colleague"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _setup(live: LiveWeb) -> None:
    """A case of the investigator and a colleague of theirs who is not a member (once)."""
    root = Caller(ADMIN, via="cli")
    with locked(live.env):
        if WEB_CASE in {c.case_id for c in app_cases.list_cases(live.env, Caller(INVESTIGATOR))}:
            return
        admin.add_user(live.env, root, COLLEAGUE, "investigator", "nypd", org_type="government")
        live.env.refresh()
        auth.set_password(live.env, root, COLLEAGUE, PASSWORD)
        app_cases.open_case(live.env, Caller(INVESTIGATOR), WEB_CASE, title="case page",
                            kind="criminal")


@contextmanager
def _client(live: LiveWeb, user: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, follow_redirects=False, timeout=60) as client:
        token = _csrf(client.get("/login").text)
        r = client.post("/login", data={"csrf": token, "name": user, "password": PASSWORD})
        assert r.status_code == 303, r.text
        yield client


def test_attack_note_script_is_inert_in_chromium(browser: Browser, live: LiveWeb) -> None:
    _setup(live)
    page = browser.new_context().new_page()
    dialogs: list[str] = []

    def _record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", _record)
    log_in(page, live, INVESTIGATOR)
    page.goto(live.url(f"/cases/{WEB_CASE}"))
    page.get_by_label("Identity id").fill("I-web-1")
    page.get_by_role("button", name="Add subject").click()
    expect(page.locator("#subjects + table")).to_contain_text("I-web-1")
    note = f"{XSS_SCRIPT} {XSS_IMG}"
    page.get_by_label("Note (kept as written; never edited)").fill(note)
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".note-text").last).to_have_text(note)
    assert not dialogs, dialogs
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("[onerror]").count() == 0
    expect(page.locator("#members + table")).to_contain_text(INVESTIGATOR)
    expect(page.locator("#activity + table")).to_contain_text("cases.note")
    shot(page, "ui-case")


def test_non_member_sees_no_material_until_a_supervisor_assigns(live: LiveWeb) -> None:
    _setup(live)
    with _client(live, COLLEAGUE) as colleague:
        page = colleague.get(f"/cases/{WEB_CASE}")
        assert page.status_code == 200
        assert 'id="case-material-withheld"' in page.text
        assert "act.case_need_to_know" in page.text
        assert 'id="notes"' not in page.text and 'id="activity"' not in page.text
        # the assign form is a supervisor's: posted by an investigator it is refused
        r = colleague.post(f"/cases/{WEB_CASE}/assign",
                           data={"csrf": _csrf(page.text), "add": COLLEAGUE})
        assert r.status_code == 403
    with _client(live, SUPERVISOR) as chief:
        page = chief.get(f"/cases/{WEB_CASE}")
        assert 'action="/cases/C-WEB-CASES/assign"' in page.text
        r = chief.post(f"/cases/{WEB_CASE}/assign", data={"csrf": _csrf(page.text),
                                                         "add": COLLEAGUE})
        assert r.status_code == 303, r.text
    with _client(live, COLLEAGUE) as colleague:
        page = colleague.get(f"/cases/{WEB_CASE}")
        assert 'id="case-material-withheld"' not in page.text
        assert 'id="notes"' in page.text and COLLEAGUE in page.text
    with locked(live.env):  # leave the shared server as it was: the colleague removed
        app_cases.assign(live.env, Caller(SUPERVISOR), WEB_CASE, remove=[COLLEAGUE])


def test_records_officer_sees_the_supplements_due_and_marks_one_sent(live: LiveWeb) -> None:
    """A request answered while a criminal case withheld a disclosure is flagged when the
    case closes; the records officer sees it on the cases page and marks it sent."""
    ident, case = "I-web-supp", "C-WEB-SUPP"
    with locked(live.env):
        app_cases.open_case(live.env, Caller(INVESTIGATOR), case, title="s", kind="criminal")
        with live.env.store.transaction():
            record(live.env.store, AuditEntry(principal=INVESTIGATOR, action="profile.read",
                                              outcome="ok", case_id=case,
                                              identity_ids=(ident,)))
        sar = admin.open_sar(live.env, Caller(RECORDS), ident, case_id=SAR_CASE,
                             requester="the subject (synthetic)", received=date.today())
        app_cases.close_case(live.env, Caller(INVESTIGATOR), case)
    with _client(live, RECORDS) as rec:
        page = rec.get("/cases")
        assert page.status_code == 200 and 'id="supplements"' in page.text
        assert sar.sar_id in page.text
        r = rec.post(f"/cases/supplements/{sar.sar_id}/{case}/sent",
                     data={"csrf": _csrf(page.text)})
        assert r.status_code == 303, r.text
        assert sar.sar_id not in rec.get("/cases").text
    with _client(live, INVESTIGATOR) as det:
        assert 'id="supplements"' not in det.get("/cases").text
