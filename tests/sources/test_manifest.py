"""Manifest validation: every error names the file and the key at fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from idgraph.sources.manifest import ManifestError, load_manifest, parse_manifest


def valid() -> dict[str, Any]:
    return {
        "id": "ny_dmv",
        "title": "NY DMV",
        "kind": "dmv",
        "jurisdiction": "US-NY",
        "regimes": ["DPPA", "NY-VTL-201"],
        "collected_for": "licensing",
        "retention_days": 3650,
        "input": {"path": "dmv.csv", "format": "csv"},
        "record_id": "LIC",
        "fields": {
            "last_name": "LAST",
            "dob": {"column": "DOB", "format": "%m/%d/%Y"},
            "full_name": {"column": "NAME", "order": "last_first"},
            "street": {"template": "{HOUSE} {STREET}"},
            "state": {"value": "NY"},
        },
    }


def test_valid_manifest_parses() -> None:
    m = parse_manifest(valid())
    assert m.id == "ny_dmv"
    assert m.fields["last_name"].column == "LAST"
    assert m.required_columns() == ["LIC", "LAST", "DOB", "NAME", "HOUSE", "STREET"]


def _without(key: str) -> dict[str, Any]:
    d = valid()
    del d[key]
    return d


def _with(path: str, value: Any) -> dict[str, Any]:
    d = valid()
    *head, last = path.split(".")
    node = d
    for k in head:
        node = node[k]
    node[last] = value
    return d


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing id", _without("id"), "id", "required"),
    ("missing kind", _without("kind"), "kind", "required"),
    ("missing jurisdiction", _without("jurisdiction"), "jurisdiction", "required"),
    ("missing collected_for", _without("collected_for"), "collected_for", "required"),
    ("missing retention", _without("retention_days"), "retention_days", "required"),
    ("missing input", _without("input"), "input", "required"),
    ("missing record_id", _without("record_id"), "record_id", "required"),
    ("missing fields", _without("fields"), "fields", "required"),
    ("bad kind", _with("kind", "spyware"), "kind", "Input should be"),
    ("bad format", _with("input.format", "xlsx"), "input.format", "Input should be"),
    ("bad jurisdiction", _with("jurisdiction", "New York"), "jurisdiction", "ISO 3166"),
    ("bad id", _with("id", "NY DMV"), "id", "lower-case"),
    ("zero retention", _with("retention_days", 0), "retention_days", "greater than 0"),
    ("unknown field", _with("fields.race", "RACE"), "fields", "unknown canonical field"),
    ("unknown key", _with("owner", "x"), "owner", "unknown key"),
    ("two sources", _with("fields.city", {"column": "C", "value": "X"}), "fields.city",
     "exactly one"),
    ("format on non-date", _with("fields.city", {"column": "C", "format": "%Y"}), "fields",
     "only for date"),
    ("order on non-name", _with("fields.city", {"column": "C", "order": "last_first"}),
     "fields", "only for full_name"),
    ("bad order", _with("fields.full_name", {"column": "N", "order": "sideways"}),
     "fields.full_name.order", "Input should be"),
]


@pytest.mark.parametrize(("label", "data", "key", "message"), CASES, ids=[c[0] for c in CASES])
def test_invalid_manifest_names_the_key(
    label: str, data: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, "/x/m.yaml")
    assert info.value.key == key, label
    assert message in str(info.value)
    assert str(info.value).startswith("/x/m.yaml: ")


def test_unreadable_yaml_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "m.yaml"
    p.write_text("id: [unclosed\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(p)
    assert info.value.key == "<yaml>"
    assert str(p) in str(info.value)


def test_input_path_is_relative_to_manifest(tmp_path: Path) -> None:
    import yaml

    p = tmp_path / "sub" / "m.yaml"
    p.parent.mkdir()
    p.write_text(yaml.safe_dump(valid()))
    assert load_manifest(p).input_path == (tmp_path / "sub" / "dmv.csv").resolve()
