"""A population idgraph did not generate: pseudopeople's bundled sample data.

    python benchmarks/populations/pseudopeople_pop.py --out DIR [--seed 0]

pseudopeople (PyPI, ``pip install -e .[bench]``) simulates a small fictional US
population ("Anytown, WA") and renders it as the records of several government
datasets with its default noise (typos, swapped and blanked fields, nicknames, copied
household members' values, ...). This writes four of them as CSV files, each with a
hand-written idgraph manifest, plus ``truth.csv`` (source, record_id, person_id) where
``person_id`` is pseudopeople's ``simulant_id``:

| source | pseudopeople dataset | record id |
|---|---|---|
| ``census`` | decennial census (2020) | ``row_id``, made here: ``C`` + row number |
| ``ssa`` | Social Security (SSA Numident events) | ``row_id``, made here: ``S`` + row number |
| ``w2_1099`` | W-2 and 1099 forms | ``row_id``, made here: ``W`` + row number |
| ``taxes_1040`` | 1040 forms (primary filer only) | ``row_id``, made here: ``F`` + row number |

None of the datasets has a record id of its own, so ``row_id`` is the row number in
pseudopeople's output for the seed (unique within each file). Spouse and dependant
columns of the 1040 are kept in the file but not mapped: they are other people, and
pseudopeople gives no simulant id for them, so they have no truth.

Kinds, jurisdictions and regimes are declared honestly: all four are US federal
records of kind ``other``; the laws that govern them (13 U.S.C. § 9 for the census,
the Privacy Act for SSA, 26 U.S.C. § 6103 for tax returns) are not in idgraph's regime
catalogue, so ``regimes`` is empty. The files leave out ``simulant_id`` and
``household_id`` (the answer) and ``race_ethnicity`` (idgraph holds no such field).
All of this data is synthetic.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

COMMON = {
    "kind": "other",
    "jurisdiction": "US",
    "regimes": [],
    "retention_days": 3650,
}

# Not written to the files: the truth (kept for truth.csv only), and race/ethnicity,
# which idgraph deliberately does not hold (docs/sources.md).
DROPPED = frozenset({"row_id", "simulant_id", "household_id", "race_ethnicity"})

_MAILING = {
    "street": {"template": "{mailing_address_street_number} {mailing_address_street_name}"},
    "unit": "mailing_address_unit_number",
    "city": "mailing_address_city",
    "state": "mailing_address_state",
    "zip": "mailing_address_zipcode",
}


def _manifests() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """source id -> (pseudopeople generator, id prefix, manifest without input)."""
    return {
        "census": ("generate_decennial_census", "C", {
            "title": "Decennial census 2020 (pseudopeople sample, synthetic)",
            "collected_for": "the decennial census of population",
            "fields": {
                "first_name": "first_name", "middle_name": "middle_initial",
                "last_name": "last_name",
                "dob": {"column": "date_of_birth", "format": "%m/%d/%Y"},
                "sex": "sex",
                "street": {"template": "{street_number} {street_name}"},
                "unit": "unit_number", "city": "city", "state": "state", "zip": "zipcode",
            }}),
        "ssa": ("generate_social_security", "S", {
            "title": "Social Security Numident events (pseudopeople sample, synthetic)",
            "collected_for": "social security number issuance and benefits administration",
            "fields": {
                "ssn": "ssn", "first_name": "first_name", "middle_name": "middle_name",
                "last_name": "last_name",
                "dob": {"column": "date_of_birth", "format": "%Y%m%d"},
                "sex": "sex",
                "observed_at": {"column": "event_date", "format": "%Y%m%d"},
            }}),
        "w2_1099": ("generate_taxes_w2_and_1099", "W", {
            "title": "W-2 and 1099 information returns (pseudopeople sample, synthetic)",
            "collected_for": "federal tax administration (information returns)",
            "fields": {
                "ssn": "ssn", "first_name": "first_name", "middle_name": "middle_initial",
                "last_name": "last_name", **_MAILING,
            }}),
        "taxes_1040": ("generate_taxes_1040", "F", {
            "title": "1040 individual income tax returns, primary filer (pseudopeople "
                     "sample, synthetic)",
            "collected_for": "federal tax administration (individual returns)",
            "fields": {
                "ssn": "ssn", "first_name": "first_name", "middle_name": "middle_initial",
                "last_name": "last_name", **_MAILING,
            }}),
    }


def _cell(v: Any) -> str:
    if v is None:
        return ""
    try:
        if v != v:  # NaN and pandas' NA-like floats
            return ""
    except (TypeError, ValueError):
        return ""
    return str(v)


def write_population(out: Path, seed: int = 0,
                     log: Callable[[str], None] = print) -> Path:
    """Write the four datasets, their manifests and ``truth.csv`` to ``out``; return it.

    Deterministic for a seed (pseudopeople's noise is seeded).
    """
    import pseudopeople as psp  # the bench extra; imported here so --help works without

    out.mkdir(parents=True, exist_ok=True)
    truth: list[tuple[str, str, str]] = []
    for source, (gen, prefix, body) in _manifests().items():
        df = getattr(psp, gen)(seed=seed, verbose=False)
        width = len(str(len(df)))
        ids = [f"{prefix}{i:0{width}d}" for i in range(len(df))]
        columns = ["row_id", *[c for c in df.columns if c not in DROPPED]]
        path = out / f"{source}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(columns)
            data = [df[c].tolist() for c in columns[1:]]
            for i, row in enumerate(zip(*data, strict=True)):
                w.writerow([ids[i], *(_cell(v) for v in row)])
        truth.extend((source, rid, str(sid)) for rid, sid in
                     zip(ids, df["simulant_id"].tolist(), strict=True))
        manifest = {"id": source, "title": body["title"], **COMMON,
                    "collected_for": body["collected_for"],
                    "input": {"path": path.name, "format": "csv"},
                    "record_id": "row_id", "fields": body["fields"]}
        (out / f"{source}.yaml").write_text(
            yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True), "utf-8")
        log(f"{source}: {len(df):,} records from pseudopeople.{gen}(seed={seed})")
    with (out / "truth.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["source", "record_id", "person_id"])
        w.writerows(truth)
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_population(args.out, args.seed)


if __name__ == "__main__":
    main(sys.argv[1:])
