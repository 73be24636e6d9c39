"""The tamper properties of test_tamper.py on PostgreSQL: any single mutation of the
stored log (a flipped byte, a changed leaf, a deleted, swapped, inserted or back-dated
row) is found by verify, naming the first bad entry; an edited checkpoint row is found
by its signature. One database for the module; each example starts from an empty log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tamper import CHECKPOINT_CASES, KEY, MUTATIONS, Row, _entry, rewrite, rows_of

from idgraph.audit import AuditLog
from idgraph.audit.log import GENESIS_CHAIN
from idgraph.store import Store, open_store
from pgdb import fresh_database


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with fresh_database() as url, open_store(
            url, data_dir=Path(tmp_path_factory.mktemp("pg-tamper"))) as store:
        yield store


def build(store: Store, n: int, first_cp: int) -> AuditLog:
    """An empty log again, then ``n`` entries with checkpoints at ``first_cp`` and ``n``."""
    for table in ("audit_log", "audit_checkpoints", "audit_cosignatures", "audit_keys"):
        store.execute(f"DELETE FROM {table}")
    store.execute("UPDATE audit_head SET size = 0, chain = ?, last_time = NULL, cp_size = 0",
                  [GENESIS_CHAIN.hex()])
    log = AuditLog(store, key=KEY)
    log.append_many([_entry(i) for i in range(first_cp)])
    log.checkpoint()
    log.append_many([_entry(i) for i in range(first_cp, n)])
    log.checkpoint()
    assert log.verify().ok
    return log


@settings(max_examples=30, deadline=None)
@given(mutation=st.sampled_from(MUTATIONS), n=st.integers(3, 12), data=st.data())
def test_entry_mutation_detected_on_postgres(
    pg: Store, mutation: Callable[[list[Row], int, int, int], int], n: int,
    data: st.DataObject,
) -> None:
    log = build(pg, n, data.draw(st.integers(1, n - 1)))
    i = data.draw(st.integers(0, n - 1))
    j = data.draw(st.integers(0, n - 1).filter(lambda x: x != i))
    rows = rows_of(pg)
    expected = mutation(rows, i, j, data.draw(st.integers(0, 100)))
    rewrite(pg, rows)
    result = log.verify()
    assert not result.ok
    assert result.first_bad_index == expected, result.problems


@pytest.mark.parametrize(("what", "assignment", "value"), CHECKPOINT_CASES)
def test_checkpoint_mutation_detected_on_postgres(
    pg: Store, what: str, assignment: str, value: Callable[..., object]
) -> None:
    log = build(pg, 7, 3)
    cp = log.checkpoints()[1]
    pg.execute(f"UPDATE audit_checkpoints SET {assignment} WHERE id = ?", [value(cp), cp.id])
    result = log.verify()
    assert not result.ok and result.first_bad_checkpoint == 1
    assert result.problems[0].kind == "checkpoint.signature"
