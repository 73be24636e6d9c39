"""The web UI's defences: script in ingested names and ids stays text on every page that
shows them, CSRF tokens on every unsafe request, session cookie flags, login redirects,
security headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect
from starlette.requests import Request
from starlette.responses import Response
from web_fixtures import (
    CASE,
    CLAIMS,
    INVESTIGATOR,
    PASSWORD,
    PURPOSE,
    XSS_ID,
    LiveWeb,
    choose_purpose,
    log_in,
    shot,
)

from idgraph.web.errors import safe_next
from idgraph.web.session import set_session_cookie

STATIC_SCRIPTS = ["/static/htmx.min.js", "/static/app.js"]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@contextmanager
def _logged_in(live: LiveWeb, user: str = INVESTIGATOR) -> Iterator[httpx.Client]:
    """An httpx client holding a session (through the login form) with the purpose set."""
    with httpx.Client(base_url=live.base_url, follow_redirects=False, timeout=60) as client:
        yield _log_in(client, user)


def _log_in(client: httpx.Client, user: str) -> httpx.Client:
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "name": user, "password": PASSWORD})
    assert r.status_code == 303, r.text
    token = _csrf(client.get("/purpose").text)
    r = client.post("/purpose", data={"csrf": token, "purpose": PURPOSE, "claims": list(CLAIMS),
                                      "case_id": CASE})
    assert r.status_code == 303, r.text
    return client


@pytest.fixture(scope="module")
def client(live: LiveWeb) -> Iterator[httpx.Client]:
    with _logged_in(live) as c:
        yield c


# -- XSS ----------------------------------------------------------------------------------

def _inert(page: Page, dialogs: list[str]) -> None:
    """Nothing the data carried became markup: no dialog, no injected element, only the
    site's own scripts."""
    assert not dialogs, dialogs
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("[onerror]").count() == 0
    sources = page.eval_on_selector_all("script", "els => els.map(e => e.getAttribute('src'))")
    assert sources == STATIC_SCRIPTS, sources


def test_script_in_ingested_names_is_inert(browser: Browser, live: LiveWeb) -> None:
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    log_in(page, live, INVESTIGATOR, then="/search")
    choose_purpose(page)
    pages = {
        "search": "/search?name=" + quote("script alert"),
        "search_reflected": "/search?name=" + quote('"><img src=x onerror=alert(1)>'),
        "search_refused": "/search?other_field=" + quote('"><script>alert(3)</script>')
        + "&other_value=x",
        "profile": "/identities/X1",
        "associates": "/identities/X1/associates",
        "explain": "/explain?a=" + quote(f"court/{XSS_ID}", safe="") + "&b=utility/X2",
    }
    for name, path in pages.items():
        page.goto(live.url(path))
        page.wait_for_load_state("networkidle")
        _inert(page, dialogs)
        if name == "search":
            expect(page.locator(".hit").first).to_contain_text("SCRIPT")
        if name == "profile":
            # the record id kept its characters: shown as text, not parsed
            expect(page.locator("main")).to_contain_text('X1"><img src=x onerror=alert(2)>')
            shot(page, "xss_profile")
        if name == "search_reflected":
            value = page.get_by_label("Name").input_value()
            assert value == '"><img src=x onerror=alert(1)>'
    # the bulk match page shows row ids from the uploaded list
    page.goto(live.url("/match"))
    page.get_by_label("List").set_input_files({
        "name": "x.csv", "mimeType": "text/csv",
        "buffer": b'REF,NAME\n"<img src=x onerror=alert(4)>",William Oneil\n'})
    page.get_by_label("Mapping").set_input_files({
        "name": "m.yaml", "mimeType": "text/yaml",
        "buffer": b"fields:\n  full_name: {column: NAME, order: first_last}\nrecord_id: REF\n"})
    page.get_by_role("button", name="Start matching").click()
    expect(page.locator("#job-progress")).to_contain_text("Done", timeout=60_000)
    expect(page.locator("#job-progress table")).to_contain_text("<img src=x onerror=alert(4)>")
    _inert(page, dialogs)
    context.close()


# -- CSRF ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("how", "expected"),
    [("none", 403), ("wrong", 403), ("form", 303), ("header", 303)],
)
def test_unsafe_requests_need_the_csrf_token(client: httpx.Client, how: str,
                                             expected: int) -> None:
    token = _csrf(client.get("/cases").text)
    case_id = f"CSRF-{how.upper()}"
    form = {"case_id": case_id, "title": "csrf test", "kind": "criminal"}
    headers = {}
    if how == "form":
        form["csrf"] = token
    elif how == "header":
        headers["X-CSRF-Token"] = token
    elif how == "wrong":
        form["csrf"] = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    r = client.post("/cases", data=form, headers=headers)
    assert r.status_code == expected, r.text[:500]
    listed = client.get("/cases").text
    assert (case_id in listed) is (expected == 303)


def test_login_form_needs_its_token(live: LiveWeb) -> None:
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
        r = c.post("/login", data={"name": INVESTIGATOR, "password": PASSWORD})
        assert r.status_code == 403
        assert "idg_session" not in r.headers.get("set-cookie", "")


def test_logout_needs_the_token(live: LiveWeb) -> None:
    with _logged_in(live) as c:
        assert c.post("/logout").status_code == 403
        assert c.get("/search").status_code == 200  # still logged in
        token = _csrf(c.get("/search").text)
        assert c.post("/logout", data={"csrf": token}).status_code == 303
        r = c.get("/search")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


# -- sessions and cookies -----------------------------------------------------------------

def test_session_cookie_flags(live: LiveWeb) -> None:
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
        token = _csrf(c.get("/login").text)
        r = c.post("/login", data={"csrf": token, "name": INVESTIGATOR, "password": PASSWORD})
    cookie = next(v for k, v in r.headers.multi_items()
                  if k == "set-cookie" and v.startswith("idg_session="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "expires"} <= flags
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in flags  # plain http on 127.0.0.1


def test_session_cookie_is_secure_over_https() -> None:
    from datetime import UTC, datetime

    from idgraph.app.auth import SessionGrant
    from idgraph.policy.users import User

    request = Request({"type": "http", "scheme": "https", "method": "POST", "path": "/login",
                       "headers": [], "server": ("example.org", 443)})
    response = Response()
    grant = SessionGrant("sid", "csrf", User("u", "investigator", "o", "government"),
                         datetime(2030, 1, 1, tzinfo=UTC))
    set_session_cookie(response, request, grant)
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_browser_sees_an_httponly_strict_cookie(browser: Browser, live: LiveWeb) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, live, INVESTIGATOR)
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["idg_session"]
    assert session.get("httpOnly") is True and session.get("sameSite") == "Strict"
    assert page.evaluate("document.cookie").find("idg_session") == -1
    context.close()


def test_wrong_password_and_unknown_user_look_alike(live: LiveWeb) -> None:
    bodies = []
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
        for name in (INVESTIGATOR, "nobody-here"):
            token = _csrf(c.get("/login").text)
            r = c.post("/login", data={"csrf": token, "name": name, "password": "wrong" * 3})
            assert r.status_code == 401
            bodies.append(re.sub(r'value="[^"]*"', "", r.text))
    assert bodies[0] == bodies[1]


@pytest.mark.parametrize("path", ["/search", "/identities/P1", "/records", "/oversight",
                                  "/match", "/cases"])
def test_pages_need_a_session(live: LiveWeb, path: str) -> None:
    r = httpx.get(live.url(path), follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=" + path


def test_htmx_requests_are_redirected_by_header(live: LiveWeb) -> None:
    r = httpx.get(live.url("/search?name=x"), headers={"HX-Request": "true"},
                  follow_redirects=False)
    assert r.status_code == 200 and r.headers["HX-Redirect"].startswith("/login")


@pytest.mark.parametrize(("given", "kept"), [
    ("/search?name=x", "/search?name=x"), ("//evil.example/", "/"), ("/\\evil", "/"),
    ("https://evil.example/", "/"), ("", "/"), ("search", "/"),
])
def test_back_after_login_stays_on_this_site(given: str, kept: str) -> None:
    assert safe_next(given) == kept


def test_security_headers_on_pages(client: httpx.Client) -> None:
    r = client.get("/search?name=oneil")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "style-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text and " style=" not in r.text  # nothing inline
    assert client.get("/static/htmx.min.js").status_code == 200


def test_a_read_without_a_purpose_goes_to_the_purpose_screen(live: LiveWeb) -> None:
    with httpx.Client(base_url=live.base_url, follow_redirects=False) as c:
        token = _csrf(c.get("/login").text)
        c.post("/login", data={"csrf": token, "name": INVESTIGATOR, "password": PASSWORD})
        r = c.get("/identities/P1")
        assert r.status_code == 303 and r.headers["location"].startswith("/purpose")


def test_a_refused_purpose_is_shown_with_its_reason(client: httpx.Client) -> None:
    token = _csrf(client.get("/purpose").text)
    r = client.post("/purpose", data={"csrf": token, "purpose": "made_up_purpose",
                                      "case_id": CASE})
    assert r.status_code in (403, 422), r.status_code
    assert 'role="alert"' in r.text
    # the session keeps its earlier purpose
    assert "criminal_investigation" in client.get("/search").text
