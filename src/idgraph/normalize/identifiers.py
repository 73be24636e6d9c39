"""Identifiers: SSN, driver licence, plate, e-mail, sex.

Junk, unverified or valid (see idgraph.normalize.base; docs/sources.md, "Unverified
values"), decided per type:

* SSN: nothing is unverified; the stricter reading stays. Junk (InvalidValue): not
  nine digits; a placeholder -- a part that is all zeros (area 000, group 00, serial
  0000: SSA never issues them, and they are how clerks pad an unknown part), nine equal
  digits (111-11-1111), a run (123-45-6789, 987-65-4321) or a number printed in
  advertising: unrelated people share these, so keeping them would be false agreement.
  Area 900-999 is the IRS's ITIN range: another identifier, not the person's SSN, and
  kept in ``ssn`` it reads as a conflict with the SSN the same person has elsewhere
  (on the pseudopeople population, 206 such values on 1040 returns were each on one
  record, and 158 of those people carry a different, valid SSN on other records;
  keeping them cost B3 precision 0.002 and recall 0.004). Area 666 is never issued.
* Driver licence: junk when it has no letters or digits, a "*" outside Washington, or
  (state without a checked format) a length outside 4-20. A number that fails its
  state's checked format is kept unverified: it may be an older format, another state's
  licence under a wrong ``dl_state``, or a typo, and equal numbers are still evidence.
* Plate: 2-8 letters and digits, else junk (nothing to verify against).
* E-mail: a syntax check only; what fails it cannot be compared reliably and is junk.
  Nothing is unverified (deliverability is not checked).
* Sex: a code outside the table is junk; U/UNKNOWN/0/9 are "not given" (None).

Driver-licence formats follow the per-state table of the National Transportation
Safety Institute (NTSI) "U.S. Driver's License Numbering" reference, which reproduces
AAMVA's published formats; only the states below are checked, any other state gets a
sanity check (4 to 20 letters and digits):

====  =============================================================================
NY    9 digits; 8 digits; 16 digits; 1 letter + 7 digits; 1 letter + 18 digits;
      8 letters
IL    1 letter + 11 or 12 digits
CA    1 letter + 7 digits
WA    "WDL" + 9 letters/digits (2018 format); legacy 12 characters: 1-7 letters then
      letters, digits and "*" (the name-derived WDL, e.g. "SMITH**JA123Q")
TX    7 or 8 digits
FL    1 letter + 12 digits
NJ    1 letter + 14 digits
PA    8 digits
====  =============================================================================
"""

from __future__ import annotations

import re
from typing import Final

from idgraph.normalize.addresses import clean_state
from idgraph.normalize.base import InvalidValue, Unverified, blank, fold

__all__ = ["DL_FORMATS", "clean_dl", "clean_email", "clean_plate", "clean_sex", "clean_ssn"]

# SSA: these were printed in advertising (Woolworth wallet insert, SSA's 1940 pamphlet),
# and 123-45-6789 is the universal placeholder; none identifies a person.
_ADVERTISING_SSNS: Final[frozenset[str]] = frozenset({"078051120", "219099999", "123456789"})

_PLACEHOLDER_SSNS: Final[frozenset[str]] = frozenset(
    {d * 9 for d in "0123456789"} | {"987654321", "012345678"}
)

DL_FORMATS: Final[dict[str, re.Pattern[str]]] = {
    "NY": re.compile(r"\d{9}|\d{8}|\d{16}|[A-Z]\d{7}|[A-Z]\d{18}|[A-Z]{8}"),
    "IL": re.compile(r"[A-Z]\d{11,12}"),
    "CA": re.compile(r"[A-Z]\d{7}"),
    "WA": re.compile(r"WDL[A-Z0-9]{9}|(?=[A-Z*0-9]{12}$)[A-Z]{1,7}[A-Z0-9*]{0,11}"),
    "TX": re.compile(r"\d{7,8}"),
    "FL": re.compile(r"[A-Z]\d{12}"),
    "NJ": re.compile(r"[A-Z]\d{14}"),
    "PA": re.compile(r"\d{8}"),
}
_SEX: Final[dict[str, str | None]] = {
    "M": "M", "MALE": "M", "MAN": "M", "1": "M",
    "F": "F", "FEMALE": "F", "WOMAN": "F", "2": "F",
    "X": "X", "NONBINARY": "X", "NON-BINARY": "X", "NB": "X",
    "U": None, "UNK": None, "UNKNOWN": None, "0": None, "9": None, "N/A": None, "NA": None,
}
_EMAIL_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_EMAIL_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def clean_ssn(text: str | None) -> str | None:
    """Nine-digit SSN, checked against SSA's never-issued ranges.

    Placeholders, area 666 and the ITIN range 9xx raise InvalidValue.
    """
    if blank(text):
        return None
    assert text is not None
    digits = re.sub(r"[\s.-]", "", text)
    if not re.fullmatch(r"\d{9}", digits):
        raise InvalidValue("SSN is not 9 digits")
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area == "000":
        raise InvalidValue(f"SSN area {area} is never issued (a placeholder)")
    if group == "00":
        raise InvalidValue("SSN group 00 is never issued (a placeholder)")
    if serial == "0000":
        raise InvalidValue("SSN serial 0000 is never issued (a placeholder)")
    if digits in _ADVERTISING_SSNS or digits in _PLACEHOLDER_SSNS:
        raise InvalidValue("SSN is a published advertising/placeholder number")
    if area == "666":
        raise InvalidValue("SSN area 666 is never issued")
    if area.startswith("9"):
        raise InvalidValue(f"SSN area {area} is never issued (an ITIN, not an SSN)")
    return digits


def clean_dl(number: str | None, state: str | None = None) -> str | None:
    """Driver-licence number, upper-case letters and digits, checked for ``state``.

    A number that fails the state's format raises Unverified (value: the number).
    """
    if blank(number):
        return None
    assert number is not None
    code = clean_state(state)
    value = re.sub(r"[^A-Z0-9*]", "", fold(number))
    if not value:
        return None
    if "*" in value and code != "WA":
        raise InvalidValue("driver licence number contains '*'")
    pattern = DL_FORMATS.get(code or "")
    if pattern is None:
        if not 4 <= len(value) <= 20:
            raise InvalidValue(f"driver licence number of {len(value)} characters")
        return value
    if not pattern.fullmatch(value):
        if not 4 <= len(value) <= 20:
            raise InvalidValue(f"driver licence number of {len(value)} characters")
        raise Unverified(value, f"not a {code} driver licence number format")
    return value


def clean_plate(text: str | None) -> str | None:
    """Licence plate: upper-case letters and digits, 2 to 8 of them."""
    if blank(text):
        return None
    assert text is not None
    value = re.sub(r"[^A-Z0-9]", "", fold(text))
    if not 2 <= len(value) <= 8:
        raise InvalidValue(f"plate of {len(value)} characters (2-8 expected)")
    return value


def clean_email(text: str | None) -> str | None:
    """Lower-cased e-mail address after a basic RFC 5321 syntax check."""
    if blank(text):
        return None
    assert text is not None
    value = text.strip().lower().removeprefix("mailto:")
    if len(value) > 254 or value.count("@") != 1:
        raise InvalidValue("e-mail address needs exactly one @")
    local, domain = value.split("@")
    if not 1 <= len(local) <= 64 or not _EMAIL_LOCAL.fullmatch(local):
        raise InvalidValue("e-mail local part is not valid")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_EMAIL_LABEL.fullmatch(label) for label in labels):
        raise InvalidValue("e-mail domain is not valid")
    if not re.fullmatch(r"[a-z]{2,63}|xn--[a-z0-9-]+", labels[-1]):
        raise InvalidValue("e-mail top-level domain is not valid")
    return value


def clean_sex(text: str | None) -> str | None:
    """M, F or X; unknown markers (U, UNKNOWN, 0, 9) give None."""
    if blank(text):
        return None
    assert text is not None
    key = fold(text).replace(".", "").replace(" ", "")
    if key not in _SEX:
        raise InvalidValue(f"not a recognised sex: {key[:12]}")
    return _SEX[key]
