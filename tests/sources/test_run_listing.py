"""sources/run.py (the balance rule, one run over many manifests) and sources/listing.py
(what ``idgraph sources`` and ``idgraph quarantine`` print), without the CLI."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from idgraph.settings import Settings
from idgraph.sources.ingest import IngestSummary
from idgraph.sources.listing import (
    QUARANTINE_KEYS,
    SOURCE_KEYS,
    QuarantineLookupError,
    current_record_count,
    list_quarantine,
    list_sources,
)
from idgraph.sources.run import run_ingest, run_ok
from idgraph.store import open_store

BALANCED = IngestSummary("s", "f", "b", rows=3, records_added=2, rows_quarantined=1,
                         lines=4, lines_in_rows=3, lines_blank=1)
ROWS_LOST = IngestSummary("s", "f", "b", rows=3, records_added=1, lines=3, lines_in_rows=3)
LINES_LOST = IngestSummary("s", "f", "b", rows=1, records_added=1, lines=5, lines_in_rows=1)

# (summaries, errors, the rule holds)
RULE = [
    ([], [], True),
    ([BALANCED], [], True),
    ([BALANCED], ["rejected x.csv"], False),
    ([BALANCED, ROWS_LOST], [], False),
    ([LINES_LOST], [], False),
]


@pytest.mark.parametrize(("summaries", "errors", "holds"), RULE)
def test_the_balance_rule(summaries: list[IngestSummary], errors: list[str],
                          holds: bool) -> None:
    assert run_ok(summaries, errors) is holds


MANIFEST = ("id: {sid}\ntitle: t\nkind: dmv\njurisdiction: US\nregimes: [DPPA]\n"
            "collected_for: testing\nretention_days: 100\n"
            "input: {{path: {path}, format: csv}}\nrecord_id: ID\n"
            "fields: {{last_name: LAST, dob: {{column: DOB, format: '%Y-%m-%d'}}}}\n")


def test_a_run_names_what_it_could_not_read_and_lists_what_it_stored(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MANIFEST.format(sid="src_a", path="a.csv"))
    (tmp_path / "a.csv").write_text("ID,LAST,DOB\n1,ONE,1980-01-02\n,TWO,1980-01-02\n"
                                    "3,THREE,not a date\n")
    (tmp_path / "b.yaml").write_text(MANIFEST.format(sid="src_b", path="missing.csv"))
    seen: list[tuple[str, int, int | None]] = []
    with open_store(None) as store:
        summaries, errors = run_ingest(store, [tmp_path], Settings(ingest_workers=0),
                                       lambda *a: seen.append(a))
        assert [s.source_id for s in summaries] == ["src_a"] and summaries[0].balanced
        assert len(errors) == 1 and "missing.csv" in errors[0]
        assert ("ingesting src_a", 3, 3) in seen and ("ingesting src_b", 0, 0) in seen
        assert current_record_count(store) == 2

        (row,) = list_sources(store)
        d = row.as_dict()
        assert tuple(d) == SOURCE_KEYS and d["source"] == "src_a"
        assert d["rows"] == d["rows_recorded"] + d["quarantined_rows"] == 3

        listing = list_quarantine(store, limit=1)
        assert listing.total == 2 and listing.whole_rows == 1 and listing.cut
        assert tuple(listing.rows[0].as_dict()) == QUARANTINE_KEYS
        assert list_quarantine(store, limit=0).total == len(list_quarantine(store, limit=0).rows)
        for kw in ({"source": "nope"}, {"batch": "nope"}):
            with pytest.raises(QuarantineLookupError, match=r"no (source|batch) 'nope'"):
                list_quarantine(store, **kw)


def test_no_sources_yet() -> None:
    with open_store(None) as store:
        assert list_sources(store) == []
        with pytest.raises(QuarantineLookupError, match="no sources yet"):
            list_quarantine(store)


# (manifest file, source id, data file, its text or None for a file that is not there)
RUN = [
    ("a.yaml", "src_a", "a.csv", "ID,LAST,DOB\n1,ONE,1980-01-02\n2,TWO,1981-02-03\n"),
    ("b.yaml", "src_b", "missing.csv", None),  # cannot be opened: told at its turn
    ("c.yaml", "src_c", "c.csv",  # read whole, then rejected (every date bad)
     "ID,LAST,DOB\n" + "".join(f"{i},X{i},not a date\n" for i in range(30))),
    ("d.yaml", "src_d", "d.csv", "".join(["ID,LAST,DOB\n"] + [f"{i},D{i},1990-01-0{1 + i % 9}\n"
                                                           for i in range(40)])),
]


@pytest.mark.parametrize("workers", [0, 2])
def test_files_opened_ahead_give_what_one_at_a_time_gives(tmp_path: Path, workers: int) -> None:
    # with workers, each file is opened (and its first chunks normalised) while the one
    # before it is merged; what cannot be opened or is rejected is told at its turn, and
    # the outcome is the run one file at a time gives
    for name, sid, data, text in RUN:
        (tmp_path / name).write_text(MANIFEST.format(sid=sid, path=data))
        if text is not None:
            (tmp_path / data).write_text(text)
    settings = Settings(ingest_workers=workers, ingest_chunk_rows=7)
    with open_store(None) as store:
        summaries, errors = run_ingest(store, [tmp_path], settings)
        assert [s.source_id for s in summaries] == ["src_a", "src_d"]
        assert all(s.balanced for s in summaries)
        assert [e.split(":")[0] for e in errors] == [
            f"rejected {tmp_path / 'missing.csv'}", f"rejected {tmp_path / 'c.csv'}"]
        assert "file not found" in errors[0] and "'dob'" in errors[1]
        assert store.fetchall("SELECT source_id, count(*) FROM records GROUP BY 1 "
                              "ORDER BY 1") == [("src_a", 2), ("src_d", 40)]
    assert not [t for t in threading.enumerate() if t.name == "idgraph-ingest-reader"]
