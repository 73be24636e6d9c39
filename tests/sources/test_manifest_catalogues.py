"""Issue 11 item 7: manifests are checked against catalogues of kinds, regimes and
ISO 3166 jurisdictions, so a rule cannot be switched off by how a manifest is spelled.

Attacks: ``regimes: [dppa]`` (lower case) used to be stored as written and silently
turned off every DPPA rule; ``jurisdiction: IL`` meant for Illinois was accepted
(it is Israel, and no Illinois rule fired); an Illinois ID-card file had no kind to
declare; a regime nobody catalogued (``STATE-PUC``) was accepted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from idgraph.normalize.jurisdictions import is_country, is_subdivision
from idgraph.schema import SourceKind
from idgraph.sources.manifest import ManifestError, parse_manifest
from idgraph.sources.regimes import REGIMES
from idgraph.synth import SOURCES as SYNTH_SOURCES

POLICIES = Path(__file__).resolve().parents[2] / "src" / "idgraph" / "policy" / "policies"


def manifest(**changes: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "id": "src", "title": "a source", "kind": "dmv", "jurisdiction": "US-NY",
        "regimes": ["DPPA"], "collected_for": "testing", "retention_days": 365,
        "input": {"path": "x.csv", "format": "csv"}, "record_id": "ID",
        "fields": {"last_name": "LAST"},
    }
    m.update(changes)
    return m


# -- kinds --------------------------------------------------------------------------

KINDS = [
    ("dmv", "dmv"),
    ("id_card", "id_card"),  # new: state ID cards (15 ILCS 335)
    ("ID_CARD", "id_card"),
    (" Credit_Header ", "credit_header"),
    *[(k.value, k.value) for k in SourceKind],
]


@pytest.mark.parametrize(("given", "kind"), KINDS)
def test_kinds_are_catalogued(given: str, kind: str) -> None:
    assert parse_manifest(manifest(kind=given)).kind.value == kind


@pytest.mark.parametrize("given", ["driver_licence", "spyware", "", "dmv "])
def test_unknown_kind_names_file_and_key(given: str) -> None:
    if given == "dmv ":  # whitespace is forgiven, a typo is not
        assert parse_manifest(manifest(kind=given)).kind == SourceKind.DMV
        return
    with pytest.raises(ManifestError) as info:
        parse_manifest(manifest(kind=given), "/m/src.yaml")
    assert (info.value.path, info.value.key) == ("/m/src.yaml", "kind")


# -- regimes ------------------------------------------------------------------------

REGIME_CASES = [
    (["dppa"], ("DPPA",)),  # the attack: lower case used to switch DPPA rules off
    (["Dppa", "ny-vtl-201"], ("DPPA", "NY-VTL-201")),
    ([" glba ", "fcra"], ("GLBA", "FCRA")),
    (["DPPA", "dppa"], ("DPPA",)),  # repeats collapse
    (["il-15-ilcs-335"], ("IL-15-ILCS-335",)),
    ([], ()),
]


@pytest.mark.parametrize(("given", "stored"), REGIME_CASES)
def test_regimes_are_normalised_to_the_catalogue(given: list[str], stored: tuple[str, ...]) -> None:
    assert parse_manifest(manifest(regimes=given)).regimes == stored


@pytest.mark.parametrize(
    "given", [["STATE-PUC"], ["PUBLIC-RECORD"], ["DPPA", "DPPA-2"], ["GDPR"], [""]]
)
def test_unknown_regime_names_file_and_key(given: list[str]) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(manifest(regimes=given), "/m/src.yaml")
    assert (info.value.path, info.value.key) == ("/m/src.yaml", "regimes")
    assert "unknown regime" in str(info.value)


def _regimes_read_by_rules() -> set[str]:
    """Every string a shipped rule compares ``resource.regimes`` with."""
    found: set[str] = set()
    for f in POLICIES.glob("*.cedar"):
        text = f.read_text(encoding="utf-8")
        for m in re.finditer(r"resource\.regimes\.contains(Any|All)?\(([^)]*)\)", text):
            found |= set(re.findall(r'"([^"]+)"', m.group(2)))
    return found


def test_every_regime_a_shipped_rule_reads_is_catalogued() -> None:
    read = _regimes_read_by_rules()
    assert {"DPPA", "GLBA", "FCRA", "NY-VTL-201"} <= read
    assert read <= set(REGIMES)


@pytest.mark.parametrize("code", sorted(REGIMES))
def test_catalogue_entries_cite_their_law(code: str) -> None:
    r = REGIMES[code]
    assert r.code == code and r.code == r.code.upper()
    assert r.title and re.search(r"U\.S\.C\.|ILCS|Code|Law", r.citation), r.citation
    assert is_country(r.jurisdiction) or is_subdivision(r.jurisdiction)


# -- jurisdictions (ISO 3166) -------------------------------------------------------

JURISDICTIONS = [
    # given, country_level, stored
    ("US", False, "US"),
    ("us", False, "US"),
    ("US-NY", False, "US-NY"),
    ("us-il", False, "US-IL"),
    ("US-DC", False, "US-DC"),
    ("GB", False, "GB"),  # a country that is no US state abbreviation
    ("IL", True, "IL"),  # Israel, said so explicitly
    ("ca", True, "CA"),  # Canada, said so explicitly
]


@pytest.mark.parametrize(("given", "country_level", "stored"), JURISDICTIONS)
def test_jurisdiction_is_iso_3166(given: str, country_level: bool, stored: str) -> None:
    # DPPA (the helper's default) is US law: a non-US source declares none (redteam R8)
    regimes = ["DPPA"] if stored.startswith("US") else []
    m = parse_manifest(manifest(jurisdiction=given, country_level=country_level,
                                regimes=regimes))
    assert m.jurisdiction == stored


BAD_JURISDICTIONS = [
    # given, extra keys, words the message must contain
    ("IL", {}, ["Israel", "Illinois", "US-IL", "country_level"]),  # the attack
    ("CA", {}, ["Canada", "California", "US-CA"]),
    ("GA", {}, ["Gabon", "Georgia", "US-GA"]),
    ("IN", {}, ["India", "Indiana", "US-IN"]),
    ("NY", {}, ["not an ISO 3166-1 country", "US-NY"]),
    ("TX", {}, ["US-TX"]),
    ("US-ZZ", {}, ["not an ISO 3166-2"]),
    ("XX", {}, ["not an ISO 3166-1"]),
    ("New York", {}, ["ISO 3166"]),
    ("USA", {}, ["ISO 3166"]),
    ("US-NY", {"country_level": True}, ["country_level"]),
]


@pytest.mark.parametrize(("given", "extra", "words"), BAD_JURISDICTIONS)
def test_bad_jurisdiction_names_file_and_key(
    given: str, extra: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(manifest(jurisdiction=given, **extra), "/m/src.yaml")
    assert (info.value.path, info.value.key) == ("/m/src.yaml", "jurisdiction")
    for w in words:
        assert w in str(info.value)


# -- the project's own synthetic manifests ------------------------------------------

@pytest.mark.parametrize("spec", SYNTH_SOURCES, ids=[s.id for s in SYNTH_SOURCES])
def test_synth_manifests_declare_only_catalogued_regimes(spec: Any) -> None:
    doc = spec.manifest_doc()
    declared = doc["regimes"]
    assert all(r in REGIMES for r in declared), declared  # canonical spelling, catalogued
    m = parse_manifest({**doc, "id": spec.id})
    assert m.regimes == tuple(declared)
    if m.kind in (SourceKind.DMV, SourceKind.ID_CARD):
        assert "DPPA" in m.regimes  # motor-vehicle records are under the DPPA
    if m.kind == SourceKind.CREDIT_HEADER:
        assert {"GLBA", "FCRA"} & set(m.regimes)
