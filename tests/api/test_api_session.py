"""A web session on the API (cookie + CSRF header on unsafe methods), and the headers the
security middleware puts on web pages and static files."""

from __future__ import annotations

from api_fixtures import ADMIN, ROLE_USERS, LiveApi

from idgraph.api.deps import CSRF_HEADER, SESSION_COOKIE, locked
from idgraph.api.security import CSP
from idgraph.app import auth
from idgraph.app.context import Caller

PASSWORD = "a synthetic session passphrase"


def session(live: LiveApi, name: str) -> auth.SessionGrant:
    with locked(live.env):
        auth.set_password(live.env, Caller(ADMIN, via="api"), name, PASSWORD)
        return auth.login(live.env, name, PASSWORD, client="127.0.0.1")


def test_session_cookie_reads_and_needs_csrf_for_unsafe_methods(live: LiveApi) -> None:
    grant = session(live, ROLE_USERS["investigator"])
    assert live.person is not None
    with live.client(cookies={SESSION_COOKIE: grant.session_id}) as c:
        r = c.get("/api/v1/search", params={**live.read_params(), "name": live.person[0]})
        assert r.status_code == 200, r.text
        r = c.post("/api/v1/tokens", json={"name": "from-session"})
        assert r.status_code == 401, r.text
        r = c.post("/api/v1/tokens", json={"name": "from-session"},
                   headers={CSRF_HEADER: "not-the-token"})
        assert r.status_code == 401, r.text
        r = c.post("/api/v1/tokens", json={"name": "from-session"},
                   headers={CSRF_HEADER: grant.csrf})
        assert r.status_code == 422, r.text  # a session re-authenticates to mint a token
        r = c.post("/api/v1/tokens", json={"name": "from-session", "password": PASSWORD},
                   headers={CSRF_HEADER: grant.csrf})
        assert r.status_code == 201, r.text
    with live.client(cookies={SESSION_COOKIE: "forged"}) as c:
        assert c.get("/api/v1/tokens").status_code == 401


def test_web_pages_carry_the_security_headers_and_static_files_may_be_cached(
    live: LiveApi,
) -> None:
    with live.client(follow_redirects=False) as c:
        page = c.get("/login")
        assert page.status_code == 200, page.text
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in page.text  # CSP: no inline scripts
        static = c.get("/static/app.css")
        assert static.status_code == 200
        assert static.headers.get("cache-control") != "no-store"
        assert static.headers["x-content-type-options"] == "nosniff"
