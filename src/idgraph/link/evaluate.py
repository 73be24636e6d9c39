"""Evaluate current identities against ground truth (synthetic data only).

Pairwise counts come from group sizes (n*(n-1)/2) in DuckDB, never from enumerating
pairs. B-cubed averages, per record, the overlap of its identity and its true person.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from idgraph.store import DuckDBStore, Store


@dataclass(frozen=True)
class Evaluation:
    n_records: int
    pair_precision: float
    pair_recall: float
    pair_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    over_merged: int  # identities holding more than one true person
    split_persons: int  # true persons spread over more than one identity
    worst_merged: list[dict[str, Any]] = field(default_factory=list)
    worst_split: list[dict[str, Any]] = field(default_factory=list)
    hard_cases: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _div(a: float, b: float) -> float:
    return 1.0 if b == 0 else a / b


def read_truth(path: Path) -> dict[str, str]:
    """truth.csv (source, record_id, person_id) -> idgraph record_id -> person_id."""
    with path.open(newline="", encoding="utf-8") as fh:
        return {f"{row['source']}/{row['record_id']}": row["person_id"]
                for row in csv.DictReader(fh)}


def read_hard_cases(path: Path) -> list[tuple[str, str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [(r["kind"], r["person_a"], r["person_b"]) for r in csv.DictReader(fh)]


_GROUPS = """
CREATE OR REPLACE TEMP TABLE __idg_eval AS
SELECT m.identity_id, t.person_id, count(*) AS n
FROM identity_members m JOIN __idg_truth t USING (record_id)
GROUP BY 1, 2
"""

_METRICS = """
WITH ids AS (SELECT identity_id, sum(n) AS n FROM __idg_eval GROUP BY 1),
     ppl AS (SELECT person_id, sum(n) AS n FROM __idg_eval GROUP BY 1)
SELECT (SELECT sum(n) FROM ids),
       (SELECT sum(n * (n - 1) / 2) FROM __idg_eval),
       (SELECT sum(n * (n - 1) / 2) FROM ids),
       (SELECT sum(n * (n - 1) / 2) FROM ppl),
       (SELECT sum(e.n * e.n / i.n) FROM __idg_eval e JOIN ids i USING (identity_id)),
       (SELECT sum(e.n * e.n / p.n) FROM __idg_eval e JOIN ppl p USING (person_id)),
       (SELECT count(*) FROM (SELECT identity_id FROM __idg_eval GROUP BY 1
                              HAVING count(*) > 1)),
       (SELECT count(*) FROM (SELECT person_id FROM __idg_eval GROUP BY 1
                              HAVING count(*) > 1))
"""


def _worst(store: DuckDBStore, by: str, other: str, limit: int) -> list[dict[str, Any]]:
    rows = store.fetchall(
        f"""SELECT {by}, count(*) AS k, list({other} ORDER BY n DESC, {other})[1:5]
            FROM __idg_eval GROUP BY 1 HAVING count(*) > 1
            ORDER BY k DESC, {by} LIMIT ?""",
        [limit],
    )
    return [{by: r[0], "count": int(r[1]), other: list(r[2])} for r in rows]


def _hard_cases(store: DuckDBStore, cases: list[tuple[str, str, str]]) -> dict[str, dict[str, int]]:
    table = pa.table({"kind": [c[0] for c in cases], "a": [c[1] for c in cases],
                      "b": [c[2] for c in cases]})
    store.con.register("__idg_hard", table)
    try:
        rows = store.fetchall(
            """SELECT h.kind, count(*) AS pairs,
                      count(*) FILTER (WHERE EXISTS (
                          SELECT 1 FROM __idg_eval x JOIN __idg_eval y USING (identity_id)
                          WHERE x.person_id = h.a AND y.person_id = h.b)) AS merged
               FROM __idg_hard h GROUP BY 1 ORDER BY 1"""
        )
    finally:
        store.con.unregister("__idg_hard")
    return {str(k): {"pairs": int(p), "wrongly_merged": int(m)} for k, p, m in rows}


def evaluate(
    store: Store,
    truth: dict[str, str],
    hard_cases: list[tuple[str, str, str]] | None = None,
    *,
    worst: int = 5,
) -> Evaluation:
    """Compare ``identity_members`` with ``truth`` (record_id -> person_id), in the
    store's DuckDB workspace."""
    with store.workspace({"identity_members": None}, {}) as ws:
        return _evaluate(ws, truth, hard_cases, worst)


def _evaluate(store: DuckDBStore, truth: dict[str, str],
              hard_cases: list[tuple[str, str, str]] | None, worst: int) -> Evaluation:
    store.con.register("__idg_truth", pa.table({"record_id": list(truth),
                                                "person_id": list(truth.values())}))
    try:
        store.execute(_GROUPS)
    finally:
        store.con.unregister("__idg_truth")
    row = store.fetchall(_METRICS)[0]
    n, tp, pred, true, bp, br, merged, split = (float(v or 0) for v in row)
    p, r = _div(tp, pred), _div(tp, true)
    bcp, bcr = _div(bp, n), _div(br, n)
    return Evaluation(
        int(n), p, r, _f1(p, r), bcp, bcr, _f1(bcp, bcr), int(merged), int(split),
        _worst(store, "identity_id", "person_id", worst),
        _worst(store, "person_id", "identity_id", worst),
        _hard_cases(store, hard_cases) if hard_cases else {},
    )


def evaluate_files(store: Store, truth_csv: Path) -> Evaluation:
    """Evaluate against truth.csv, and hard_cases.csv when it sits beside it."""
    hard = truth_csv.with_name("hard_cases.csv")
    return evaluate(store, read_truth(truth_csv),
                    read_hard_cases(hard) if hard.exists() else None)
