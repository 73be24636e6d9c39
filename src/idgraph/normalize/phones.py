"""Telephone numbers to E.164 with phonenumbers (Google libphonenumber metadata).

What counts as invalid (raises InvalidValue):

* text phonenumbers cannot parse at all ("not a phone number");
* a number of impossible length for its country, such as a bare seven-digit local
  "555-0100" or "911" ("not a possible phone number");
* a number of possible length whose area code or exchange is not assigned: area codes
  starting 0 or 1, exchanges starting 0 or 1 ("(217) 155-1234"), unassigned area
  codes ("not a valid phone number").

The fictional NANP range NXX-555-0100..0199 with a real area code is *valid* per the
metadata and is accepted: it is what the synthetic generator should use where it wants
numbers that can never ring anyone. Extensions are dropped (E.164 has none). Numbers
written with a leading + or 011 keep their own country; others are read in ``region``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from idgraph.normalize.base import InvalidValue, blank

__all__ = ["clean"]


_NANP_PLAIN = re.compile(r"(?:\+?1[\s.\-]*)?\(?(\d{3})\)?[\s.\-]*(\d{3})[\s.\-]*(\d{4})")


def clean(text: str | None, region: str = "US") -> str | None:
    """Phone number in E.164 ("+12175550100"), or None for blank input.

    Plain North American numbers ("(212) 555-0134", "212.555.0134", "+1 212 555 0134")
    take a fast path: phonenumbers' verdict is cached per NPA-NXX (its US validity
    patterns never look past the sixth digit: a test compares both paths on random
    numbers). Everything else goes through phonenumbers in full.
    """
    if blank(text):
        return None
    assert text is not None
    if region == "US":
        m = _NANP_PLAIN.fullmatch(text.strip())
        if m is not None:
            digits = "".join(m.groups())
            verdict = _nanp_verdict(digits[:6])
            if verdict is not None:
                raise InvalidValue(verdict)
            return f"+1{digits}"
    return _clean_full(text, region)


@lru_cache(maxsize=262_144)
def _nanp_verdict(prefix6: str) -> str | None:
    """None if US numbers starting with this NPA-NXX are valid, else the reason."""
    try:
        _clean_full(prefix6 + "0000", "US")
    except InvalidValue as exc:
        return exc.reason
    return None


def _clean_full(text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue("not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidValue(f"not a possible {region} phone number")
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue("not a valid phone number: area code or exchange not assigned")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
