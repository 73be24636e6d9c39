"""Shared generated data sets for the synth tests (generated once per session)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from idgraph.synth import SynthSummary, generate

PEOPLE = 4000
SEED = 11


@pytest.fixture(scope="session")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    """4,000 people in 4 chunks, so chunk boundaries are exercised too."""
    out = tmp_path_factory.mktemp("synth")
    return generate(out, people=PEOPLE, seed=SEED, chunk_people=1000)


def _read(path: Path, fmt: str, delimiter: str) -> list[dict[str, str | None]]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return [
            {k: (None if v is None else str(v)) for k, v in row.items()}
            for row in pq.read_table(path).to_pylist()
        ]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        if fmt == "jsonl":
            return [
                {k: (v if v is None or isinstance(v, str) else json.dumps(v))
                 for k, v in obj.items()}
                for obj in map(json.loads, fh)
            ]
        rows = csv.DictReader(fh, delimiter=delimiter)
        return [{k: (v or None) for k, v in r.items()} for r in rows]


@pytest.fixture(scope="session")
def manifests(synth_run: SynthSummary) -> dict[str, dict[str, Any]]:
    """Source id -> parsed manifest YAML."""
    out = {}
    for path in synth_run.manifests:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[doc["id"]] = doc
    return out


@pytest.fixture(scope="session")
def source_rows(
    synth_run: SynthSummary, manifests: dict[str, dict[str, Any]]
) -> dict[str, list[dict[str, str | None]]]:
    """Source id -> every row of its data file, values as text (None when missing)."""
    return {
        sid: _read(
            synth_run.out_dir / m["input"]["path"], m["input"]["format"],
            m["input"].get("delimiter", ","),
        )
        for sid, m in manifests.items()
    }


@pytest.fixture(scope="session")
def truth(synth_run: SynthSummary) -> list[dict[str, str]]:
    with synth_run.truth_path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))
