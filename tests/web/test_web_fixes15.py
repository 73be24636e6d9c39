"""Fixes after the red team (issue 15, helper H): match progress needs a live session,
the results download goes through ``app.reads.match_download`` (audited, refused once the
case closed), undeclared search parameters are criteria the gate decides, and one's own
password change asks for the current one. Plain HTTP (httpx) over the live server."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from web_fixtures import CASE, CLAIMS, INVESTIGATOR, PASSWORD, PURPOSE, SUPERVISOR, LiveWeb

from idgraph.api.deps import locked
from idgraph.app import admin, auth
from idgraph.app import cases as app_cases
from idgraph.app.context import Caller

ROOT = Caller("root", via="cli")
LIST = b"REF,NAME,BORN\nR1,William ONeil,03/07/1984\n"
MAPPING = (b"fields:\n  full_name: {column: NAME, order: first_last}\n"
           b"  dob: {column: BORN, format: \"%m/%d/%Y\"}\nrecord_id: REF\n")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _shown(html: str) -> str:
    """``html`` without its random tokens (a CSRF token may hold "P1" or "R1")."""
    return re.sub(r'(value|content)="[A-Za-z0-9_\-]{32,}"', "", html)


def _new_user(live: LiveWeb, name: str) -> None:
    """An investigator of nypd, assigned to CASE by its supervisor (need-to-know: only
    members read under a case)."""
    with locked(live.env):
        admin.add_user(live.env, ROOT, name, "investigator", "nypd", org_type="government")
        live.env.refresh()
        auth.set_password(live.env, ROOT, name, PASSWORD)
        app_cases.assign(live.env, Caller(SUPERVISOR), CASE, add=[name])


@contextmanager
def _session(live: LiveWeb, user: str, case: str | None = CASE) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, follow_redirects=False, timeout=60) as c:
        token = _csrf(c.get("/login").text)
        r = c.post("/login", data={"csrf": token, "name": user, "password": PASSWORD})
        assert r.status_code == 303, r.text[:300]
        if case is not None:
            token = _csrf(c.get("/purpose").text)
            r = c.post("/purpose", data={"csrf": token, "purpose": PURPOSE,
                                         "claims": list(CLAIMS), "case_id": case})
            assert r.status_code == 303, r.text[:300]
        yield c


def _finished_job(c: httpx.Client) -> str:
    token = _csrf(c.get("/match").text)
    r = c.post("/match", data={"csrf": token}, files={
        "list_file": ("list.csv", LIST, "text/csv"),
        "mapping_file": ("m.yaml", MAPPING, "application/yaml")})
    assert r.status_code == 303, r.text[:300]
    job_path = r.headers["location"]
    deadline = time.monotonic() + 120
    while "results.csv" not in c.get(job_path + "/progress").text:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return job_path


def _entries_since(live: LiveWeb, seq: int) -> list[dict[str, Any]]:
    with locked(live.env):
        rows = live.env.store.fetchall("SELECT entry FROM audit_log WHERE seq > ? ORDER BY seq",
                                       [seq])
    return [json.loads(r[0]) for r in rows]


def _last_seq(live: LiveWeb) -> int:
    with locked(live.env):
        row = live.env.store.fetchone("SELECT coalesce(max(seq), 0) FROM audit_log")
    assert row is not None
    return int(row[0])


def test_finished_progress_shows_rows_to_the_live_session_only(live: LiveWeb) -> None:
    _new_user(live, "h_disabled")
    with _session(live, "h_disabled") as c:
        job_path = _finished_job(c)
        shown = c.get(job_path + "/progress")
        assert shown.status_code == 200 and "R1" in shown.text and "P1" in shown.text
        with locked(live.env):
            admin.disable_user(live.env, ROOT, "h_disabled")
            live.env.refresh()
        r = c.get(job_path + "/progress")  # the same cookie, its user disabled
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert "R1" not in _shown(r.text) and "P1" not in _shown(r.text)
        r = c.get(job_path + "/progress", headers={"HX-Request": "true"})
        assert r.headers.get("HX-Redirect", "").startswith("/login")
        assert "R1" not in _shown(r.text) and "P1" not in _shown(r.text)


def test_results_download_is_audited_then_refused_once_the_case_closed(live: LiveWeb) -> None:
    with locked(live.env):
        app_cases.open_case(live.env, Caller(INVESTIGATOR), "H-MATCH", title="h", kind="criminal")
        live.env.refresh()
    with _session(live, INVESTIGATOR, case="H-MATCH") as c:
        job_path = _finished_job(c)
        job_id = job_path.rsplit("/", 1)[-1]
        seq = _last_seq(live)
        r = c.get(job_path + "/results.csv")
        assert r.status_code == 200 and "P1" in r.text
        entries = [e for e in _entries_since(live, seq) if e["action"] == "match.download"]
        assert len(entries) == 1, entries
        entry = entries[0]
        assert entry["outcome"] == "ok" and entry["principal"] == INVESTIGATOR
        assert entry["identity_ids"] == ["P1"] and entry["case_id"] == "H-MATCH"
        assert entry["detail"]["via"] == "web" and entry["detail"]["job"] == job_id
        with locked(live.env):
            app_cases.close_case(live.env, Caller(INVESTIGATOR), "H-MATCH")
            live.env.refresh()
        seq = _last_seq(live)
        r = c.get(job_path + "/results.csv")
        assert r.status_code == 403, r.status_code
        assert r.headers["content-type"].startswith("text/html")
        assert "match.download_case_open" in r.text and "P1" not in _shown(r.text)
        denied = [e for e in _entries_since(live, seq) if e["action"] == "match.download"]
        assert [e["outcome"] for e in denied] == ["deny"]


def test_undeclared_search_parameters_are_criteria_the_gate_decides(live: LiveWeb) -> None:
    with _session(live, INVESTIGATOR) as c:
        seq = _last_seq(live)
        r = c.get("/search?name=oneil&race=black")
        assert r.status_code == 403, r.status_code
        assert "/identities/P1" not in r.text  # no hit shown
        entries = _entries_since(live, seq)
        assert any(e["outcome"] == "deny" and "race" in json.dumps(e) for e in entries), entries
        r = c.get("/search?name=oneil&race=black", headers={"HX-Request": "true"})
        assert r.status_code == 403 and "<html" not in r.text.lower()  # the error fragment
        assert c.get("/search?name=oneil").status_code == 200  # declared ones still work


def test_own_password_change_asks_for_the_current_one(live: LiveWeb) -> None:
    _new_user(live, "h_owner")
    new = "a brand new long passphrase"
    with _session(live, "h_owner", case=None) as c:
        page = c.get("/account").text
        assert re.search(r'<label for="pw-current">Current password</label>', page)
        assert 'name="current"' in page and 'autocomplete="current-password"' in page
        token = _csrf(page)
        r = c.post("/account/password", data={"csrf": token, "password": new, "again": new})
        assert r.status_code == 422, r.status_code
        r = c.post("/account/password", data={"csrf": token, "current": "not it at all",
                                              "password": new, "again": new})
        assert r.status_code == 403, r.status_code
        assert c.get("/account").status_code == 200  # still logged in, nothing changed
        r = c.post("/account/password", data={"csrf": token, "current": PASSWORD,
                                              "password": new, "again": new})
        assert r.status_code == 303 and r.headers["location"] == "/login?changed=1"
        assert c.get("/account").status_code == 303  # every session of theirs ended
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
        token = _csrf(c.get("/login").text)
        r = c.post("/login", data={"csrf": token, "name": "h_owner", "password": new})
        assert r.status_code == 303


def test_dates_at_the_end_of_the_calendar_are_refused_not_a_crash(live: LiveWeb) -> None:
    """9999-12-31 plus a day overflows (the oversight window's end, a request's deadline):
    the web forms refuse such dates with 422."""
    from web_fixtures import OVERSEER, RECORDS, SAR_CASE

    with _session(live, OVERSEER, case=None) as c:
        r = c.get("/oversight", params={"start": "2020-01-01", "end": "9999-12-31"})
        assert r.status_code == 422, r.status_code
        assert "end: a date from 1970-01-01 to 9000-12-31" in r.text
    with _session(live, RECORDS, case=None) as c:
        token = _csrf(c.get("/records").text)
        r = c.post("/sars", data={"csrf": token, "identity_id": "P1", "case_id": SAR_CASE,
                                  "requester": "someone", "received": "9999-12-31"})
        assert r.status_code == 422, r.status_code


def test_finished_job_pages_withhold_the_rows_once_the_case_closed(live: LiveWeb) -> None:
    with locked(live.env):
        app_cases.open_case(live.env, Caller(INVESTIGATOR), "H-VIEW", title="h", kind="criminal")
        live.env.refresh()
    with _session(live, INVESTIGATOR, case="H-VIEW") as c:
        job_path = _finished_job(c)
        shown = c.get(job_path + "/progress")
        assert "R1" in shown.text and "P1" in shown.text
        with locked(live.env):
            app_cases.close_case(live.env, Caller(INVESTIGATOR), "H-VIEW")
            live.env.refresh()
        r = c.get(job_path + "/progress")
        assert r.status_code == 200, r.status_code
        assert "P1" not in _shown(r.text) and ">R1<" not in r.text
        assert "withheld" in r.text and "match.download_case_open" in r.text
        r = c.get(job_path)  # the page: withheld too, or sent to choose a new purpose
        assert "P1" not in _shown(r.text) and ">R1<" not in r.text, r.status_code
