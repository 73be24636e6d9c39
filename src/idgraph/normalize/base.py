"""Shared pieces of the normalisers: the invalid-value error and ASCII folding."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["InvalidValue", "blank", "fold"]

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
