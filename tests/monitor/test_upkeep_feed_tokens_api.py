"""Feed tokens over HTTP (issue 16 leftover): an administrator lists a source's feed
tokens (never a secret) and revokes one at once; a token of another source is not
reachable through this source's path; the revoked token's next push is 401."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from feed_fixtures import booking, caller, lines, linked_env

from idgraph.api.app import create_app
from idgraph.app import auth, feeds
from idgraph.app.context import Env

BASE = "/api/v1/feeds"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    e = linked_env(tmp_path_factory.mktemp("feed_tokens_api"))
    yield e
    e.close()


@pytest.fixture(scope="module")
def client(env: Env) -> Iterator[TestClient]:
    with TestClient(create_app(env.settings, env=env)) as c:
        yield c


def _user(env: Env, name: str) -> dict[str, str]:
    secret = auth.create_token(env, caller(name, via="cli"), name=f"t-{name}", days=1).secret
    return {"Authorization": f"Bearer {secret}"}


def test_list_and_revoke_feed_tokens(env: Env, client: TestClient) -> None:
    admin, officer = _user(env, "root"), _user(env, "ro")
    tok = feeds.create_token(env, caller("root"), "bookings", days=1)
    court = feeds.create_token(env, caller("root"), "court", days=1)
    token_id, secret = tok.split("_")[1], tok.split("_", 2)[2]
    court_id = court.split("_")[1]

    r = client.get(f"{BASE}/bookings/tokens", headers=admin)
    assert r.status_code == 200, r.text
    listed = {t["token_id"]: t for t in r.json()}
    assert listed[token_id]["state"] == "active" and court_id not in listed
    assert secret not in r.text and "digest" not in r.text
    assert client.get(f"{BASE}/bookings/tokens", headers=officer).status_code == 403
    assert client.get(f"{BASE}/bookings/tokens").status_code == 401

    # court's token through bookings' path: 404, and it still pushes to court
    r = client.post(f"{BASE}/bookings/tokens/{court_id}/revoke", headers=admin)
    assert r.status_code == 404, r.text
    assert client.post(f"{BASE}/bookings/tokens/{token_id}/revoke",
                       headers=officer).status_code == 403
    push = {"Authorization": f"Bearer {tok}", "Content-Type": "application/x-ndjson"}
    assert client.post(f"{BASE}/bookings", content=lines(booking("K1")),
                       headers=push).status_code == 200

    r = client.post(f"{BASE}/bookings/tokens/{token_id}/revoke", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "revoked" and r.json()["revoked_at"]
    assert client.post(f"{BASE}/bookings", content=lines(booking("K2")),
                       headers=push).status_code == 401
    court_push = {"Authorization": f"Bearer {court}", "Content-Type": "application/x-ndjson"}
    assert client.post(f"{BASE}/court", content=lines(booking("K3")),
                       headers=court_push).status_code == 200
