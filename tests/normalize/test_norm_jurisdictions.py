"""normalize.jurisdictions: origin values as sources write them -> ISO 3166-2 (pycountry)."""

from __future__ import annotations

import pytest

from idgraph.normalize.base import InvalidValue
from idgraph.normalize.jurisdictions import canonical_code, clean, state_clash

CLEAN = [
    # text, context country, expected
    ("CA", "US", "US-CA"),
    ("ca", "US", "US-CA"),
    (" Ca ", "US", "US-CA"),
    ("US-CA", "US", "US-CA"),
    ("us-ca", "US", "US-CA"),
    ("US CA", "US", "US-CA"),
    ("California", "US", "US-CA"),
    ("CALIFORNIA", "US", "US-CA"),
    ("new  york", "US", "US-NY"),
    ("IL", "US", "US-IL"),  # within a US source, IL is Illinois
    ("Illinois", "US", "US-IL"),
    ("District of Columbia", "US", "US-DC"),
    ("PR", "US", "US-PR"),
    ("Virgin Islands, U.S.", "US", "US-VI"),
    ("US", "US", "US"),
    ("usa", "US", "US"),
    ("United States", "US", "US"),
    ("MX-BCN", "US", "MX-BCN"),  # a full ISO 3166-2 code of another country
    ("ON", "CA", "CA-ON"),  # context: a Canadian source
    ("Ontario", "CA", "CA-ON"),
    (None, "US", None),
    ("", "US", None),
    ("   ", "US", None),
]

UNKNOWN = [
    ("XX", "US"),
    ("Calif.", "US"),
    ("US-ZZ", "US"),
    ("ZZ-99", "US"),
    ("MX", "US"),  # a country other than the source's: not a state code
    ("Canada", "US"),
    ("Narnia", "US"),
    ("12", "US"),
]


@pytest.mark.parametrize(("text", "country", "expected"), CLEAN)
def test_clean(text: str | None, country: str, expected: str | None) -> None:
    assert clean(text, country) == expected


@pytest.mark.parametrize(("text", "country", "expected"), CLEAN)
def test_clean_is_idempotent(text: str | None, country: str, expected: str | None) -> None:
    assert clean(clean(text, country), country) == expected


@pytest.mark.parametrize(("text", "country"), UNKNOWN)
def test_unknown_values_are_invalid(text: str, country: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        clean(text, country)
    assert exc.value.reason


CODES = [
    ("US", "US"),
    ("us", "US"),
    ("US-NY", "US-NY"),
    ("us-il", "US-IL"),
    ("IL", "IL"),  # valid ISO: Israel (manifests add the state-clash check)
    ("GB", "GB"),
]
BAD_CODES = [
    ("NY", "US-NY"),  # not a country; the hint names the subdivision
    ("TX", "US-TX"),
    ("US-ZZ", "subdivision"),
    ("New York", "ISO 3166"),
    ("USA", "ISO 3166"),
    ("XX", "country"),
]


@pytest.mark.parametrize(("text", "expected"), CODES)
def test_canonical_code(text: str, expected: str) -> None:
    assert canonical_code(text) == expected


@pytest.mark.parametrize(("text", "hint"), BAD_CODES)
def test_canonical_code_refuses(text: str, hint: str) -> None:
    with pytest.raises(InvalidValue, match=hint):
        canonical_code(text)


@pytest.mark.parametrize(
    ("code", "state"),
    [("IL", "Illinois"), ("CA", "California"), ("GA", "Georgia"), ("IN", "Indiana"),
     ("DE", "Delaware"), ("US", None), ("GB", None), ("MX", None)],
)
def test_state_clash(code: str, state: str | None) -> None:
    assert state_clash(code) == state
