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

import phonenumbers

from idgraph.normalize.base import InvalidValue, blank

__all__ = ["clean"]


def clean(text: str | None, region: str = "US") -> str | None:
    """Phone number in E.164 ("+12175550100"), or None for blank input."""
    if blank(text):
        return None
    assert text is not None
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue("not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidValue(f"not a possible {region} phone number")
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue("not a valid phone number: area code or exchange not assigned")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
