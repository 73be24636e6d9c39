"""Shared pieces of the normalisers: the invalid-value errors and ASCII folding.

Three outcomes of a check (docs/sources.md, "Unverified values"):

* :class:`InvalidValue` -- junk: nothing usable (unparseable text, a placeholder such
  as SSN 000-00-0000). Ingest stores null and quarantines the field.
* :class:`Unverified` -- well-formed but failing a validity check (a phone number with
  an unassigned area code): still evidence. Ingest stores ``value``, names the field in
  the record's ``unverified`` column and quarantines nothing.
* :class:`Partial` -- part of the value is junk (a birth date with month 13): ingest
  stores ``value``, what survives (the year), and quarantines the reason.

Both are subclasses of InvalidValue, so a caller that wants only verified values can
keep catching InvalidValue and treat them as invalid.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["InvalidValue", "Partial", "Unverified", "blank", "fold"]

_SPACE = re.compile(r"\s+")
# Letters that NFKD does not decompose into an ASCII base letter.
_EXTRA_FOLDS = str.maketrans(
    {
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Ø": "O",
        "ø": "o",
        "Œ": "OE",
        "œ": "oe",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Þ": "TH",
        "þ": "th",
        "ı": "i",
        "’": "'",
        "‘": "'",
        "‐": "-",
        "‑": "-",
        "–": "-",
        "—": "-",
    }
)


class InvalidValue(ValueError):
    """A value that cannot be normalised; ``reason`` is a short human explanation.

    Ingest turns it into a quarantine note and stores the field as null.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unverified(InvalidValue):
    """A well-formed value that fails a validity check; ``value`` is its normal form."""

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(reason)
        self.value = value


class Partial(InvalidValue):
    """A value of which only a part is usable; ``value`` is that part, normalised."""

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(reason)
        self.value = value


def fold(text: str) -> str:
    """ASCII-fold, uppercase and collapse whitespace.

    NFKD decomposition drops accents ("José" -> "JOSE"); a few letters without a
    decomposition are spelled out ("ß" -> "SS"); anything still non-ASCII is dropped.
    """
    if text.isascii():  # the common case, without the Unicode machinery
        return " ".join(text.split()).upper()
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
    return _SPACE.sub(" ", ascii_only).strip().upper()


def blank(text: object) -> bool:
    """True for None and for strings that are empty or only whitespace."""
    return text is None or (isinstance(text, str) and not text.strip())
