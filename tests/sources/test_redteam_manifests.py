"""Red team (issue 11 item 7): manifests written by hand by outsiders, in odd spellings.

Each case is the attack: a spelling that must either be read as its canonical value or
refused with an error naming the file and the key (never a traceback, never a silent
drop of a rule). Two held only after this change:

* ``regimes: DPPA`` (a string, not a list) was refused with pydantic's bare "Input should
  be a valid tuple"; now the error says to write a list.
* ``jurisdiction: IL`` + ``country_level: true`` (Israel) with US regimes (``DPPA``,
  Illinois' vehicle code) was accepted: a source under US law is not under Israel's.
  Every declared regime must be a law of the source's own country.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from idgraph.sources.manifest import ManifestError, parse_manifest

PATH = "/tmp/redteam/src.yaml"
BASE: dict[str, Any] = {
    "id": "rt_src", "title": "t", "kind": "dmv", "jurisdiction": "US", "regimes": ["DPPA"],
    "collected_for": "t", "retention_days": 10, "input": {"path": "a.csv", "format": "csv"},
    "record_id": "ID", "fields": {"last_name": "LAST"},
}

ACCEPTED = [  # key, value as written, canonical value read
    ("jurisdiction", "us-ny", "US-NY"),
    ("jurisdiction", " US-NY ", "US-NY"),
    ("jurisdiction", "us_ny", "US-NY"),
    ("regimes", ["dppa "], ("DPPA",)),
    ("regimes", ["Dppa", "DPPA"], ("DPPA",)),
    ("kind", "DMV", "dmv"),
    ("kind", "Dmv", "dmv"),
    ("kind", " dmv ", "dmv"),
    ("kind", "ID_CARD", "id_card"),
]

REFUSED = [  # overrides, key named, words the message must hold
    ({"jurisdiction": "New York"}, "jurisdiction", "US-NY"),
    ({"jurisdiction": "USA"}, "jurisdiction", "ISO 3166"),
    ({"jurisdiction": "IL"}, "jurisdiction", "Israel"),
    ({"jurisdiction": "NY"}, "jurisdiction", "US-NY"),
    ({"regimes": ["DPPA,GLBA"]}, "regimes", "unknown regime"),
    ({"regimes": "DPPA"}, "regimes", "list"),
    ({"regimes": "DPPA,GLBA"}, "regimes", "list"),
    ({"regimes": "dppa"}, "regimes", "list"),
    ({"regimes": [None]}, "regimes.0", "string"),
    ({"kind": "drivers_license"}, "kind", "id_card"),
    ({"kind": "id card"}, "kind", "id_card"),
    # Israel, claimed to escape Illinois, while declaring US law
    ({"jurisdiction": "IL", "country_level": True}, "regimes", "US"),
    ({"jurisdiction": "IL", "country_level": True, "regimes": ["IL-625-ILCS-5/2-123"]},
     "regimes", "US-IL"),
    ({"jurisdiction": "CA", "country_level": True, "regimes": ["CA-VC-1808"]},
     "regimes", "US-CA"),
    ({"jurisdiction": "GB", "regimes": ["DPPA"]}, "regimes", "US"),
]


@pytest.mark.parametrize(("key", "value", "want"), ACCEPTED)
def test_odd_spellings_are_read_canonically(key: str, value: Any, want: Any) -> None:
    m = parse_manifest({**BASE, key: value}, PATH)
    got = getattr(m, key)
    assert (got.value if key == "kind" else got) == want


@pytest.mark.parametrize(("over", "key", "words"), REFUSED)
def test_bad_declarations_name_file_and_key(over: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ManifestError) as exc:
        parse_manifest({**BASE, **over}, PATH)
    assert exc.value.path == PATH and exc.value.key == key
    assert words in str(exc.value)


def test_regimes_of_the_sources_country_or_its_subdivisions_are_accepted(tmp_path: Path) -> None:
    m = parse_manifest({**BASE, "jurisdiction": "US-IL",
                        "regimes": ["dppa", "il-15-ilcs-335"]}, PATH)
    assert m.regimes == ("DPPA", "IL-15-ILCS-335")
    # a national compilation may hold records under a state's law
    m = parse_manifest({**BASE, "jurisdiction": "US", "regimes": ["DPPA", "CA-VC-1808"]}, PATH)
    assert m.regimes == ("DPPA", "CA-VC-1808")
    # a genuine country-level source with no US law
    m = parse_manifest({**BASE, "jurisdiction": "IL", "country_level": True, "regimes": []},
                       PATH)
    assert m.jurisdiction == "IL"
