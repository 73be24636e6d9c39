"""How sources get people wrong: typos, nicknames, swapped dates, missing parts.

Every function takes the caller's ``random.Random`` so output depends only on the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Final

from idgraph.synth.tables import NICKNAMES

_ALPHA: Final[str] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Profile:
    """Error rates of one source (each a probability per row)."""

    typo: float = 0.01  # one-character edit in a name
    nickname: float = 0.0  # nickname instead of the given name
    dob_swap: float = 0.0  # day and month swapped
    middle_full: float = 0.5  # full middle name (else initial)
    middle_drop: float = 0.2
    suffix_drop: float = 0.2  # JR/SR omitted
    compound_hyphen: float = 0.2  # GARCIA LOPEZ -> GARCIA-LOPEZ
    compound_first: float = 0.2  # GARCIA LOPEZ -> GARCIA
    missing: float = 0.03  # optional field blank


def typo(s: str, rng: random.Random) -> str:
    """One edit (substitute, delete, insert or transpose) at a letter of ``s``."""
    spots = [i for i, c in enumerate(s) if c.isalpha()]
    if len(spots) < 3:
        return s
    i = rng.choice(spots[1:])  # first letters are rarely mistyped
    kind = rng.randrange(4)
    if kind == 0:
        return s[:i] + rng.choice(_ALPHA) + s[i + 1 :]
    if kind == 1:
        return s[:i] + s[i + 1 :]
    if kind == 2:
        return s[:i] + rng.choice(_ALPHA) + s[i:]
    j = i - 1
    return s[:j] + s[i] + s[j] + s[i + 1 :]


def given(first: str, rng: random.Random, prof: Profile) -> str:
    """The given name as a source prints it."""
    r = rng.random()
    if r < prof.nickname:
        nicks = NICKNAMES.get(first)
        return rng.choice(nicks) if nicks else first
    if r < prof.nickname + prof.typo:
        return typo(first, rng)
    return first


def family(last: str, compound: bool, rng: random.Random, prof: Profile) -> str:
    """The surname as a source prints it (compound surnames vary, typos happen)."""
    if compound:
        r = rng.random()
        if r < prof.compound_hyphen:
            last = last.replace(" ", "-")
        elif r < prof.compound_hyphen + prof.compound_first:
            last = last.split(" ")[0]
    if rng.random() < prof.typo:
        last = typo(last, rng)
    return last


def middle(m: str, rng: random.Random, prof: Profile) -> str:
    if not m:
        return ""
    r = rng.random()
    if r < prof.middle_drop:
        return ""
    if r < prof.middle_drop + prof.middle_full:
        return m
    return m[0]


def suffix(sfx: str, rng: random.Random, prof: Profile) -> str:
    return "" if sfx and rng.random() < prof.suffix_drop else sfx


def dob(d: date, rng: random.Random, prof: Profile) -> date:
    """The birth date as recorded: sometimes with day and month swapped."""
    if d.day <= 12 and d.day != d.month and rng.random() < prof.dob_swap:
        return d.replace(day=d.month, month=d.day)
    return d


def street_typo(line: str, rng: random.Random, prof: Profile) -> str:
    """A one-character slip in the street name part of an address, at half the name rate."""
    if rng.random() >= prof.typo / 2:
        return line
    words = line.split(" ")
    spots = [i for i, w in enumerate(words) if len(w) > 3 and w.isalpha()]
    if not spots:
        return line
    i = spots[0]  # the first long word is the street name
    words[i] = typo(words[i], rng)
    return " ".join(words)


def blank(value: str, rng: random.Random, prof: Profile) -> str:
    return "" if rng.random() < prof.missing else value


def phone_text(digits: str, rng: random.Random) -> str:
    """A 10-digit number in one of the formats people and systems write."""
    a, b, c = digits[:3], digits[3:6], digits[6:]
    style = rng.randrange(6)
    if style == 0:
        return f"({a}) {b}-{c}"
    if style == 1:
        return f"{a}.{b}.{c}"
    if style == 2:
        return f"+1 {a} {b} {c}"
    if style == 3:
        return f"{a}-{b}-{c}"
    if style == 4:
        return f"1{digits}"
    return digits


# Genuinely unusable values, by type: what quarantine must catch.
BAD_PHONES: Final[tuple[str, ...]] = ("555-CALL-NOW", "12", "000", "N/A PHONE", "99999999999999")
BAD_ZIPS: Final[tuple[str, ...]] = ("ABCDE", "12", "1234567", "9999X")
BAD_DATES: Final[tuple[tuple[int, int, int], ...]] = (
    (1980, 2, 30), (1975, 13, 1), (1990, 4, 31), (1968, 0, 12), (2091, 6, 31),
)


def bad_date(fmt: str, rng: random.Random) -> str:
    """An impossible date written in ``fmt``'s layout (only %Y %m %d are substituted)."""
    y, m, d = rng.choice(BAD_DATES)
    return fmt.replace("%Y", f"{y:04d}").replace("%m", f"{m:02d}").replace("%d", f"{d:02d}")
