"""Acts of several workers sharing one PostgreSQL database at once (each its own store,
as ``idgraph serve --workers N`` runs them): a check-then-write act is decided once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from idgraph.cases import CaseError, close_case, get_case, open_case
from idgraph.policy.users import UserError, add_user, list_users
from idgraph.store import Store, open_store
from pgdb import fresh_database

WORKERS = 4


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    with fresh_database() as url:
        opened = [open_store(url, threads=1, memory_limit="1GB", pool_size=1)
                  for _ in range(WORKERS)]
        try:
            add_user(opened[0], "root", "admin", "ops", org_type="government")
            add_user(opened[0], "gov", "investigator", "ice", org_type="government",
                     actor="root")
            yield opened
        finally:
            for s in opened:
                s.close()


def _at_once(work: Callable[[int], object]) -> tuple[list[object], list[BaseException]]:
    done: list[object] = []
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def run(k: int) -> None:
        start.wait()
        try:
            done.append(work(k))
        except BaseException as exc:  # the test looks at them
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done, errors


def test_one_case_opened_once(stores: list[Store]) -> None:
    done, errors = _at_once(lambda k: open_case(stores[k], "C1", title=f"t{k}",
                                                kind="criminal", actor="gov"))
    assert len(done) == 1
    assert len(errors) == WORKERS - 1 and all(isinstance(e, CaseError) for e in errors)
    case = get_case(stores[0], "C1")
    assert case is not None and case.members == ("gov",)


def test_one_case_closed_once(stores: list[Store]) -> None:
    open_case(stores[0], "C1", title="t", kind="criminal", actor="gov")
    done, errors = _at_once(lambda k: close_case(stores[k], "C1", actor="gov"))
    assert len(done) == 1
    assert len(errors) == WORKERS - 1 and all(isinstance(e, CaseError) for e in errors)
    closes = stores[0].scalar(
        "SELECT count(*) FROM audit_log WHERE entry LIKE '%\"cases.close\"%'")
    assert closes == 1


def test_an_organisation_stays_of_one_type(stores: list[Store]) -> None:
    types = ("government", "private")
    done, errors = _at_once(lambda k: add_user(
        stores[k], f"u{k}", "investigator", "newco", org_type=types[k % 2], actor="root"))
    assert done and all(isinstance(e, UserError) for e in errors)
    assert len({u.org_type for u in list_users(stores[0]) if u.org == "newco"}) == 1


def test_a_document_verified_once(stores: list[Store]) -> None:
    from datetime import date

    from idgraph.policy.legal import LegalError, add_legal, verify_legal

    for name in ("law1", "law2", "law3", "law4"):
        add_user(stores[0], name, "counsel", "ice", org_type="government", actor="root")
    open_case(stores[0], "C1", title="t", kind="criminal", actor="gov")
    doc = add_legal(stores[0], type="judicial_warrant", number="W-1", issued=date(2026, 1, 1),
                    court="Albany County Court", judge="J. Doe", judge_appointment="state",
                    level="state", case_id="C1", actor="gov")
    done, errors = _at_once(lambda k: verify_legal(stores[k], doc.legal_id, sha256="ab" * 32,
                                                   actor=f"law{k + 1}"))
    assert len(done) == 1 and len(errors) == WORKERS - 1
    assert all(isinstance(e, LegalError) for e in errors)
    verifies = stores[0].scalar(
        "SELECT count(*) FROM audit_log WHERE entry LIKE '%\"legal.verify\"%' "
        "AND entry LIKE '%\"outcome\":\"ok\"%'")
    assert verifies == 1


def test_a_subject_named_once(stores: list[Store]) -> None:
    from idgraph.cases.material import add_subject, subjects

    open_case(stores[0], "C1", title="t", kind="criminal", actor="gov")
    done, errors = _at_once(lambda k: add_subject(stores[k], "C1", "I-1", actor="gov"))
    assert len(done) == 1
    assert len(errors) == WORKERS - 1 and all(isinstance(e, CaseError) for e in errors)
    assert [s.identity_id for s in subjects(stores[0], "C1")] == ["I-1"]
