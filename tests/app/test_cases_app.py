"""Need-to-know end to end (idgraph.app.cases + the read gate): an investigator of the
case's organisation who is not a member of it searches, reads a profile or matches under
it -> Denied with base.need_to_know, and the refusal is audited under the case; once a
supervisor assigns them, the same read is served; the case's activity lists both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from data_fixtures import CASE, audit_rows, caller, new_env, reader, save_fixed_model, write_sources

from idgraph.app import cases as app_cases
from idgraph.app import data, reads
from idgraph.app.context import Env
from idgraph.app.errors import Denied
from idgraph.policy import users as users_mod


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("cases")
    e = new_env(tmp)
    users_mod.add_user(e.store, "gov2", "investigator", "ice", org_type="government",
                       actor="root")
    users_mod.add_user(e.store, "boss", "supervisor", "ice", org_type="government",
                       actor="root")
    e.refresh()
    assert data.ingest(e, caller("ro"), [write_sources(tmp / "src")]).ok
    save_fixed_model(e)
    data.resolve(e, caller("ro"))
    yield e
    e.close()


def test_attack_non_member_investigator_reads_under_the_case_denied_and_audited(
        env: Env) -> None:
    before = len(audit_rows(env))
    with pytest.raises(Denied) as exc:
        reads.search(env, reader("gov2"), name="william oneil", dob="1984")
    assert "base.need_to_know" in exc.value.rules
    new = [e for e in audit_rows(env)[before:] if e["principal"] == "gov2"]
    assert new and all(e["case_id"] == CASE for e in new)
    assert [e["outcome"] for e in new if e["action"] == "search"] == ["deny"]
    # the member reads; then a supervisor assigns gov2, who now may
    found = reads.search(env, reader("gov"), name="william oneil", dob="1984")
    with pytest.raises(Denied):
        reads.profile(env, reader("gov2"), found.hits[0].identity_id)
    app_cases.assign(env, caller("boss"), CASE, add=["gov2"])
    assert reads.search(env, reader("gov2"), name="william oneil", dob="1984").hits
    activity = app_cases.activity(env, caller("gov"), CASE, limit=50)
    seen = [(a.principal, a.action, a.outcome) for a in activity.items]
    assert ("gov2", "search", "deny") in seen and ("gov2", "search", "ok") in seen
    assert ("boss", "cases.assign", "ok") in seen
