"""Name order is evidence, not a promise: a full name written against the manifest's
declared order, without a comma, still meets its other records (end to end: ingest,
resolve)."""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.link.resolve import resolve
from idgraph.link.train import TrainedModel
from idgraph.settings import Settings
from idgraph.sources import ingest_paths
from idgraph.store import Store

MANIFEST = """id: {sid}
title: {sid} (synthetic)
kind: utility
jurisdiction: US
regimes: []
collected_for: test
retention_days: 30
input:
  path: {sid}.csv
  format: csv
record_id: ID
fields:
  full_name:
    column: NAME
    order: first_last
  dob: DOB
  street: STREET
  city: CITY
  state: STATE
  zip: ZIP
  phone: PHONE
"""
HEADER = "ID,NAME,DOB,STREET,CITY,STATE,ZIP,PHONE\n"


def _source(root: Path, sid: str, rows: list[str]) -> None:
    (root / f"{sid}.yaml").write_text(MANIFEST.format(sid=sid), encoding="utf-8")
    (root / f"{sid}.csv").write_text(HEADER + "".join(f"{r}\n" for r in rows),
                                     encoding="utf-8")


def _identity(store: Store, record_id: str) -> str:
    rows = store.fetchall("SELECT identity_id FROM identity_members WHERE record_id = ?",
                          [record_id])
    return str(rows[0][0])


# (case, row of source a, row of source b): both manifests declare first_last
CASES = [
    ("swapped, same phone and birth date",
     "1,RAMON NAVARRETE,1971-05-02,12 OAK ST,FRESNO,CA,93701,5595550142",
     "1,NAVARRETE RAMON,1971-05-02,12 OAK ST,FRESNO,CA,93701,5595550142"),
    ("swapped, same phone, no birth date on one side",
     "1,GUADALUPE ZAVALA,1968-11-20,40 ELM AVE,FRESNO,CA,93702,5595550177",
     "1,ZAVALA GUADALUPE,,40 ELM AVE,FRESNO,CA,93702,5595550177"),
    ("swapped, same birth date and address, no phone",
     "1,RAMON NAVARRETE,1971-05-02,12 OAK ST,FRESNO,CA,93701,",
     "1,NAVARRETE RAMON,1971-05-02,12 OAK ST,FRESNO,CA,93701,"),
]


@pytest.mark.parametrize(("case", "row_a", "row_b"), CASES, ids=[c[0] for c in CASES])
def test_name_written_in_the_other_order_links(
    store: Store, model: TrainedModel, tmp_path: Path, case: str, row_a: str, row_b: str,
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _source(src, "src_a", [row_a])
    _source(src, "src_b", [row_b])
    settings = Settings(data_dir=tmp_path / "data", ingest_workers=0, match_threshold=0.9)
    ingest_paths(store, [src], settings)
    names = store.fetchall("SELECT first_name, last_name FROM records ORDER BY record_id")
    assert len(names) == 2 and names[0] == names[1]  # one reading for both
    resolve(store, settings)
    ids = [str(r[0]) for r in store.fetchall("SELECT record_id FROM records ORDER BY 1")]
    assert _identity(store, ids[0]) == _identity(store, ids[1]), case


def test_a_name_no_table_can_order_still_links_when_read_the_other_way(
    store: Store, model: TrainedModel, tmp_path: Path,
) -> None:
    """THOMAS JAMES / JAMES THOMAS: both words are common given names and surnames, so
    each record keeps its declared order; the model's swap level proposes the pair and
    the given-name rule is not asked of a name read the other way round."""
    src = tmp_path / "src"
    src.mkdir()
    _source(src, "src_a", ["1,THOMAS JAMES,1971-05-02,12 OAK ST,FRESNO,CA,93701,5595550142"])
    _source(src, "src_b", ["1,JAMES THOMAS,1971-05-02,12 OAK ST,FRESNO,CA,93701,5595550142"])
    settings = Settings(data_dir=tmp_path / "data", ingest_workers=0, match_threshold=0.9)
    ingest_paths(store, [src], settings)
    names = store.fetchall("SELECT first_name, last_name FROM records ORDER BY record_id")
    assert names == [("THOMAS", "JAMES"), ("JAMES", "THOMAS")]  # neither reading forced
    resolve(store, settings)
    ids = [str(r[0]) for r in store.fetchall("SELECT record_id FROM records ORDER BY 1")]
    assert _identity(store, ids[0]) == _identity(store, ids[1])
