"""The reads of idgraph.app: search, profile, explain, associates, match.

Each keeps the library's own gate (a response entry for every outcome); the app turns
the library's exceptions into AppErrors: a refusal is Denied with its rules and a row
per source, a bad criterion Invalid naming it (decided and audited first), an unknown
record NotFound, a missing index or graph Conflict."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from data_fixtures import (
    CASE,
    audit_rows,
    caller,
    manifest,
    new_env,
    reader,
    save_fixed_model,
    write_sources,
)

from idgraph.app import data, reads
from idgraph.app.context import Env
from idgraph.app.errors import AppError, Conflict, Denied, Invalid, NotFound
from idgraph.search.find import SearchResult

READS = {"search", "profile.read", "explain", "associates", "match"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("reads")
    e = new_env(tmp)
    assert data.ingest(e, caller("ro"), [write_sources(tmp / "src")]).ok
    save_fixed_model(e)
    data.resolve(e, caller("ro"))
    yield e
    e.close()


def responses_during(env: Env, act: Callable[[], Any]) -> tuple[Any, list[dict[str, Any]]]:
    """What ``act`` returned (or the AppError it raised), and the response entries (not
    the per-source decisions) it appended."""
    before = len(audit_rows(env))
    try:
        result: Any = act()
    except AppError as exc:
        result = exc
    skip = ("policy.decide", "policy.change")
    return result, [e for e in audit_rows(env)[before:] if e["action"] not in skip]


def oneil(env: Env) -> str:
    result = reads.search(env, reader(), name="william oneil", dob="1984")
    return result.hits[0].identity_id


def test_search_finds_and_is_audited_once(env: Env) -> None:
    result, entries = responses_during(
        env, lambda: reads.search(env, reader(), name="oneil william", dob="1984"))
    assert isinstance(result, SearchResult) and result.hits
    assert [(e["action"], e["outcome"]) for e in entries] == [("search", "ok")]
    assert entries[0]["identity_ids"] == [h.identity_id for h in result.hits]


# (caller, rules expected among the refusal's)
DENIED = [
    (reader("pi"), "base.purpose_org_type"),
    (reader(purpose="marketing"), "base.purpose_known"),
]


@pytest.mark.parametrize(("who", "rule"), DENIED, ids=["private-org", "unknown-purpose"])
@pytest.mark.parametrize("read", ["search", "profile", "associates"])
def test_a_denied_read_raises_denied_with_rules_and_is_audited(
        env: Env, who: Any, rule: str, read: str) -> None:
    iid = oneil(env)
    call: dict[str, Callable[[], Any]] = {
        "search": lambda: reads.search(env, who, name="william oneil"),
        "profile": lambda: reads.profile(env, who, iid),
        "associates": lambda: reads.associates(env, who, iid),
    }
    result, entries = responses_during(env, call[read])
    assert isinstance(result, Denied), result
    assert rule in result.rules and str(result).startswith("denied by ")
    assert {e["source"] for e in result.errors} == {"court", "tx_dmv"}
    assert all(e["permitted"] is False and e["rules"] for e in result.errors)
    (entry,) = entries
    assert entry["outcome"] == "deny" and entry["principal"] == who.actor


def test_a_read_without_a_purpose_is_invalid_and_reads_nothing(env: Env) -> None:
    result, entries = responses_during(
        env, lambda: reads.search(env, caller("gov"), name="william oneil"))
    assert isinstance(result, Invalid) and result.field == "purpose"
    assert entries == []


@pytest.mark.parametrize(("kw", "field"), [
    ({"name": "william oneil", "dob": "not a date"}, "dob"),
    ({"name": "william oneil", "phone": "x"}, "phone"),
])
def test_a_bad_criterion_is_invalid_naming_it_and_audited(
        env: Env, kw: dict[str, str], field: str) -> None:
    result, entries = responses_during(env, lambda: reads.search(env, reader(), **kw))
    assert isinstance(result, Invalid) and result.field == field, result
    assert [(e["action"], e["outcome"]) for e in entries] == [("search", "refused")]


def test_a_protected_criterion_beside_a_bad_date_is_denied_and_audited(env: Env) -> None:
    result, entries = responses_during(env, lambda: reads.search(
        env, reader(), name="william oneil", dob="13/45/1984", where={"race": "x"}))
    assert isinstance(result, Denied) and result.rules
    assert [(e["action"], e["outcome"]) for e in entries] == [("search", "deny")]


def test_a_limit_out_of_range_is_invalid(env: Env) -> None:
    result, entries = responses_during(
        env, lambda: reads.search(env, reader(), name="x", limit=0))
    assert isinstance(result, Invalid) and result.field == "limit" and entries == []


def test_profile_and_associates_are_audited_once(env: Env) -> None:
    iid = oneil(env)
    prof, entries = responses_during(env, lambda: reads.profile(env, reader(), iid))
    assert prof.identity_id == iid and set(prof.records) == {"court", "tx_dmv"}
    assert [(e["action"], e["outcome"]) for e in entries] == [("profile.read", "ok")]
    result, entries = responses_during(env, lambda: reads.associates(env, reader(), iid))
    assert result.identity_id == iid
    assert len(entries) == 1 and entries[0]["outcome"] == "ok"


def test_explain_an_unknown_record_is_not_found(env: Env) -> None:
    result, _ = responses_during(
        env, lambda: reads.explain(env, reader(), "tx_dmv/1", "tx_dmv/nope"))
    assert isinstance(result, NotFound) and "tx_dmv/nope" in str(result)


def test_explain_two_records(env: Env) -> None:
    ex, entries = responses_during(
        env, lambda: reads.explain(env, reader(), "tx_dmv/1", "court/1"))
    assert ex["record_a"] == "tx_dmv/1" and ex["features"]
    assert len(entries) == 1 and entries[0]["outcome"] == "ok"


def test_explain_entries_name_the_shell_too(env: Env) -> None:
    _, entries = responses_during(
        env, lambda: reads.explain(env, reader(via="api"), "tx_dmv/1", "court/1"))
    assert [e["detail"].get("via") for e in entries] == ["api"]


MAPPING = """input: {format: csv}
record_id: id
fields:
  first_name: first
  last_name: last
  dob: dob
"""


def test_match_a_list_under_a_case(env: Env, tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text("id,first,last,dob\n1,WILLIAM,ONEIL,1984-03-07\n"
                                       "2,NOBODY,ATALL,1901-01-01\n")
    (tmp_path / "map.yaml").write_text(MAPPING)
    rows: list[int] = []
    result, entries = responses_during(env, lambda: reads.match(
        env, reader(), tmp_path / "list.csv", tmp_path / "map.yaml", on_rows=rows.append))
    assert not isinstance(result, AppError), result
    assert len(result.rows) == 2 and sum(rows) == 2
    assert [(e["action"], e["outcome"]) for e in entries] == [("match", "ok")]


def test_match_without_a_case_is_invalid(env: Env, tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text("id,first,last,dob\n1,WILLIAM,ONEIL,1984-03-07\n")
    (tmp_path / "map.yaml").write_text(MAPPING)
    result, _ = responses_during(env, lambda: reads.match(
        env, reader(case_id=None), tmp_path / "list.csv", tmp_path / "map.yaml"))
    assert isinstance(result, Invalid)


def test_a_mapping_of_a_protected_attribute_is_denied_and_audited(
        env: Env, tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text("id,first,last,race\n1,WILLIAM,ONEIL,x\n")
    (tmp_path / "map.yaml").write_text(MAPPING.replace("dob: dob", "race: race"))
    result, entries = responses_during(env, lambda: reads.match(
        env, reader(), tmp_path / "list.csv", tmp_path / "map.yaml"))
    assert isinstance(result, Denied) and result.rules
    assert [(e["action"], e["outcome"]) for e in entries] == [("match", "deny")]


def test_no_identity_graph_yet_is_a_conflict(tmp_path: Path) -> None:
    e = new_env(tmp_path)
    try:
        assert data.ingest(e, caller("ro"), [write_sources(tmp_path / "src")]).ok
        result, entries = responses_during(
            e, lambda: reads.search(e, reader(), name="william oneil", dob="1984"))
        assert isinstance(result, Conflict), result
        assert [(x["action"], x["outcome"]) for x in entries] == [("search", "error")]
    finally:
        e.close()


def test_example_person_is_none_without_a_ny_dmv(env: Env) -> None:
    assert reads.example_person(env) is None
    assert CASE == "C1"


def test_a_search_after_an_ingest_sees_the_new_records(env: Env, tmp_path: Path) -> None:
    """The engine a process reuses across searches is made anew once the store changed."""
    assert not reads.search(env, reader(), name="katherine johnson", dob="1995").hits
    (tmp_path / "k.yaml").write_text(manifest("tx_dmv", "k.csv"))
    (tmp_path / "k.csv").write_text("id,first,last,dob,street,city,state,zip,phone\n"
                                    "9,KATHERINE,JOHNSON,1995-07-12,40 ELM ST,AUSTIN,TX,73301,\n")
    assert data.ingest(env, caller("ro"), [tmp_path], live=True).ok
    hits = reads.search(env, reader(), name="katherine johnson", dob="1995").hits
    assert hits and "tx_dmv/9" in (hits[0].record_ids or (hits[0].record_id,))


@pytest.mark.parametrize("via", ["cli", "api", "web"])
def test_read_entries_name_the_shell_the_read_came_through(env: Env, via: str) -> None:
    _, entries = responses_during(
        env, lambda: reads.search(env, reader(via=via), name="william oneil", dob="1984"))
    assert [e["detail"].get("via") for e in entries] == [via]
    decided = [e for e in audit_rows(env)[-3:] if e["action"] == "policy.decide"]
    assert decided and all(e["detail"]["via"] == via for e in decided)


def _matched(env: Env, tmp_path: Path) -> Any:
    (tmp_path / "list.csv").write_text("id,first,last,dob\n=HYPERLINK(1),WILLIAM,ONEIL,1984-03-07\n"
                                       "@x,NOBODY,ATALL,1901-01-01\n")
    (tmp_path / "map.yaml").write_text(MAPPING)
    return reads.match(env, reader(), tmp_path / "list.csv", tmp_path / "map.yaml")


def test_a_download_of_match_results_is_audited_and_its_formula_cells_inert(
        env: Env, tmp_path: Path) -> None:
    result = _matched(env, tmp_path)
    rows, entries = responses_during(
        env, lambda: list(reads.match_download(env, reader(token_id="tok1"), result)))
    assert [r["row_id"] for r in rows] == ["'=HYPERLINK(1)", "'@x"]
    (entry,) = entries
    assert entry["action"] == "match.download" and entry["outcome"] == "ok"
    assert entry["identity_ids"] == [r["identity_id"] for r in rows if r["identity_id"]]
    assert entry["detail"]["via"] == "api" and entry["detail"]["token_id"] == "tok1"
    assert entry["case_id"] == CASE


def test_only_who_ran_a_match_may_download_it(env: Env, tmp_path: Path) -> None:
    result = _matched(env, tmp_path)
    denied, entries = responses_during(
        env, lambda: reads.match_download(env, reader("ro"), result))
    assert isinstance(denied, Denied) and denied.rules == (reads.OWNER_RULE,)
    (entry,) = entries
    assert entry["outcome"] == "deny" and entry["identity_ids"] == []


def test_read_entries_name_the_api_token(env: Env) -> None:
    _, entries = responses_during(env, lambda: reads.profile(env, reader(token_id="t9"),
                                                             oneil(env)))
    assert [e["detail"]["token_id"] for e in entries if e["action"] == "profile.read"] == ["t9"]


@pytest.mark.parametrize(("change", "undo", "rule"), [
    ("UPDATE cases SET status = 'closed' WHERE case_id = 'C1'",
     "UPDATE cases SET status = 'open' WHERE case_id = 'C1'", reads.CASE_RULE),
    ("UPDATE users SET disabled = true WHERE name = 'gov'",
     "UPDATE users SET disabled = false WHERE name = 'gov'", reads.ACTIVE_RULE),
], ids=["case-closed", "user-disabled"])
def test_match_results_are_withheld_once_the_case_closes_or_the_user_is_disabled(
        env: Env, tmp_path: Path, change: str, undo: str, rule: str) -> None:
    result = _matched(env, tmp_path)
    env.store.execute(change)
    try:
        denied, entries = responses_during(
            env, lambda: reads.match_download(env, reader(), result, job="j1"))
    finally:
        env.store.execute(undo)
    assert isinstance(denied, Denied) and denied.rules == (rule,)
    (entry,) = entries
    assert entry["outcome"] == "deny" and entry["detail"]["job"] == "j1"
