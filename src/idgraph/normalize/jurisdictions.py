"""Jurisdictions: ISO 3166-1 countries and ISO 3166-2 subdivisions, from ``pycountry``.

Two entry points:

* :func:`clean` normalises a record's origin jurisdiction as a source writes it
  (``CA``, ``ca``, ``US-CA``, ``California``) to its ISO 3166-2 code (``US-CA``),
  reading bare two-letter codes and names as subdivisions of ``country`` (the
  country of the source's own jurisdiction). Pure and idempotent; an unknown value
  raises :class:`InvalidValue` (ingest quarantines it).
* :func:`canonical_code` checks a code a manifest *declares* (``US``, ``us-ny``):
  only ISO codes, no names, no guessing. :func:`state_clash` says whether a bare
  country code is also a US state or territory abbreviation (``IL`` is Israel, not
  Illinois), which manifests must then confirm with ``country_level: true``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pycountry

from idgraph.normalize.base import InvalidValue, fold

__all__ = [
    "canonical_code",
    "clean",
    "country_name",
    "is_country",
    "is_subdivision",
    "state_clash",
    "subdivision_name",
]

_SUBDIVISION_RE = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class _Tables:
    countries: dict[str, str]  # alpha-2 -> name
    alpha3: dict[str, str]  # alpha-3 -> alpha-2
    country_names: dict[str, str]  # folded name / official / common name -> alpha-2
    subdivisions: dict[str, str]  # ISO 3166-2 code -> name
    subdivision_names: dict[tuple[str, str], str]  # (country, folded name) -> code


def _name_key(text: str) -> str:
    """Fold a name for lookup: ASCII, upper case, punctuation as spaces."""
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", fold(text)).split())


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    countries: dict[str, str] = {}
    alpha3: dict[str, str] = {}
    names: dict[str, str] = {}
    for c in pycountry.countries:
        countries[c.alpha_2] = c.name
        alpha3[c.alpha_3] = c.alpha_2
        for attr in ("name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                names.setdefault(_name_key(value), c.alpha_2)
    subs: dict[str, str] = {}
    sub_names: dict[tuple[str, str], str] = {}
    for s in pycountry.subdivisions:
        subs[s.code] = s.name
        sub_names.setdefault((s.country_code, _name_key(s.name)), s.code)
    return _Tables(countries, alpha3, names, subs, sub_names)


def is_country(code: str) -> bool:
    """``code`` is an ISO 3166-1 alpha-2 country code (upper case)."""
    return code in _tables().countries


def is_subdivision(code: str) -> bool:
    """``code`` is an ISO 3166-2 subdivision code (``US-NY``)."""
    return code in _tables().subdivisions


def country_name(code: str) -> str | None:
    return _tables().countries.get(code)


def subdivision_name(code: str) -> str | None:
    return _tables().subdivisions.get(code)


def state_clash(code: str) -> str | None:
    """The US state or territory whose postal abbreviation is the country code ``code``.

    ``state_clash("IL") == "Illinois"`` (IL is Israel); ``state_clash("US")`` is None.
    """
    return _tables().subdivisions.get(f"US-{code}") if is_country(code) else None


def canonical_code(text: str) -> str:
    """A declared jurisdiction as its canonical ISO code, or InvalidValue saying why.

    Accepts an ISO 3166-1 alpha-2 country (``US``) or an ISO 3166-2 subdivision
    (``US-NY``), in any case. Names and bare state abbreviations are refused.
    """
    code = text.strip().upper().replace("_", "-")
    if _SUBDIVISION_RE.match(code):
        if is_subdivision(code):
            return code
        raise InvalidValue(f"{code} is not an ISO 3166-2 subdivision code")
    if _COUNTRY_RE.match(code):
        if is_country(code):
            return code
        state = subdivision_name(f"US-{code}")
        if state:
            raise InvalidValue(
                f"{code} is not an ISO 3166-1 country code; for {state} write US-{code}"
            )
        raise InvalidValue(f"{code} is not an ISO 3166-1 country code")
    raise InvalidValue(
        f"{text!r} is not an ISO 3166 code: write a country (US) or a subdivision (US-NY)"
    )


def clean(text: str | None, country: str = "US") -> str | None:
    """A record's origin jurisdiction as an ISO code; ``country`` reads bare codes and names.

    ``clean("ca") == clean("California") == clean("US-CA") == "US-CA"``;
    ``clean("US") == clean("USA") == "US"``; blank gives None.
    """
    if text is None:
        return None
    key = _name_key(text)
    if not key:
        return None
    t = _tables()
    code = key.replace(" ", "-")
    if _SUBDIVISION_RE.match(code):
        if code in t.subdivisions:
            return code
        raise InvalidValue(f"unknown ISO 3166-2 subdivision {code}")
    if _COUNTRY_RE.match(key):
        if key == country:
            return country
        if f"{country}-{key}" in t.subdivisions:
            return f"{country}-{key}"
        raise InvalidValue(f"{key} is not a subdivision code of {country}")
    if t.alpha3.get(key) == country or t.country_names.get(key) == country:
        return country
    hit = t.subdivision_names.get((country, key))
    if hit is not None:
        return hit
    raise InvalidValue(
        f"unknown jurisdiction (not {country}, one of its subdivisions or ISO 3166-2)"
    )
