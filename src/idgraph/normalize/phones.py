"""Telephone numbers to E.164 with phonenumbers (Google libphonenumber metadata).

Three outcomes (see idgraph.normalize.base):

* junk, raises InvalidValue: text phonenumbers cannot parse at all ("not a phone
  number"); a number of impossible length for its country, such as a bare seven-digit
  local "555-0100" or "911" ("not a possible phone number"); a placeholder: ten equal
  digits ("000-000-0000", "999-999-9999"), a run "123-456-7890" / "987-654-3210", or
  area code 555 ("(555) 225-5669": the film and form convention for a fake number; our
  own generator gives one such number to unrelated people).
* unverified, raises Unverified with the E.164 form as its value: a number of possible
  length whose area code or exchange is not assigned (area codes or exchanges starting
  0 or 1, "(217) 155-1234", unassigned area codes). It is still evidence: simulators and
  careless forms produce such numbers, and two records of one person then carry the
  same digits. Ingest keeps it and flags the field in ``unverified``; equal unverified
  numbers agree like any other.
* valid: the E.164 string.

The fictional NANP range NXX-555-0100..0199 with a real area code is *valid* per the
metadata and is accepted: it is what the synthetic generator should use where it wants
numbers that can never ring anyone. Extensions are dropped (E.164 has none). Numbers
written with a leading + or 011 keep their own country; others are read in ``region``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from idgraph.normalize.base import InvalidValue, Unverified, blank

__all__ = ["clean"]


_PLACEHOLDERS = frozenset(
    {d * 10 for d in "0123456789"} | {"1234567890", "0123456789", "9876543210"}
)


def _placeholder(digits: str) -> bool:
    """A ten-digit NANP number that stands for "no number" (module docstring)."""
    return digits in _PLACEHOLDERS or digits.startswith("555")


_POSSIBLE = phonenumbers.ValidationResult.IS_POSSIBLE
_NANP_PLAIN = re.compile(r"(?:\+?1[\s.\-]*)?\(?(\d{3})\)?[\s.\-]*(\d{3})[\s.\-]*(\d{4})")


def clean(text: str | None, region: str = "US") -> str | None:
    """Phone number in E.164 ("+12175550100"), or None for blank input.

    Plain North American numbers ("(212) 555-0134", "212.555.0134", "+1 212 555 0134")
    take a fast path: phonenumbers' verdict is cached per NPA-NXX (its US validity
    patterns never look past the sixth digit: a test compares both paths on random
    numbers). Everything else goes through phonenumbers in full. Raises Unverified
    (value: the E.164 form) for a well-formed number that is not assigned.
    """
    if blank(text):
        return None
    assert text is not None
    if region == "US":
        m = _NANP_PLAIN.fullmatch(text.strip())
        if m is not None:
            digits = "".join(m.groups())
            if _placeholder(digits):
                raise InvalidValue("placeholder phone number")
            verdict = _nanp_verdict(digits[:6])
            if verdict is not None:
                raise Unverified(f"+1{digits}", verdict)
            return f"+1{digits}"
    return _clean_full(text, region)


@lru_cache(maxsize=262_144)
def _nanp_verdict(prefix6: str) -> str | None:
    """None if US numbers starting with this NPA-NXX are valid, else the reason."""
    try:
        _clean_full(prefix6 + "0001", "US")  # "0001": never a placeholder
    except Unverified as exc:
        return exc.reason
    return None


def _clean_full(text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue("not a phone number") from exc
    # a local-only number ("555-0100": no area code) is not possible as a whole number
    if phonenumbers.is_possible_number_with_reason(number) != _POSSIBLE:
        raise InvalidValue(f"not a possible {region} phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.country_code == 1 and _placeholder(e164[-10:]):
        raise InvalidValue("placeholder phone number")
    if not phonenumbers.is_valid_number(number):
        raise Unverified(e164, "not a valid phone number: area code or exchange not assigned")
    return e164
