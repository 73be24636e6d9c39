"""Cannot-link rules: facts that say two records are two people, whatever the model says.

Each record contributes *keyed facts*. A key must hold one value within an identity:
``ssn``; ``dl:<state>`` (a licence number per issuing state); ``suffix`` (JR, SR,
II, ...); ``j:<n>`` (one side of a ``different`` judgement). Dates of birth are
compared by :func:`dobs_compatible`, which forgives a day/month swap and a one-digit
slip and compares year-only and month-precision dates only as far as they go.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

import jellyfish

from idgraph.normalize.names import given_name_sex, is_known_given, is_nickname_of

_T = TypeVar("_T")

GENERATIONAL_SUFFIXES: Final = frozenset({"JR", "SR", "II", "III", "IV", "V"})

# (YYYYMMDD or None, YYYYMM or None, year or None)
Dob = tuple[str | None, str | None, int | None]
# (first, canonical first, phonetic first, middle) of one record
GivenName = tuple[str, str | None, str | None, str | None]

VIA_ID: Final = 1  # the proposing pair agrees on an SSN or licence number
VIA_CONTACT: Final = 2  # ... on a phone number or email address


@dataclass(frozen=True)
class Constraints:
    """Which cannot-link rules apply (all on by default; benchmarks may relax some)."""

    strong_identifiers: bool = True
    suffixes: bool = True
    dates_of_birth: bool = True
    # SSNs one edit apart are read as a typo of one number, not two numbers
    ssn_typo_tolerance: int = 1
    given_names: bool = True
    generations: bool = True


@functools.lru_cache(maxsize=1 << 16)
def _digit_slip(a: str, b: str) -> bool:
    """Equal, or one edit apart (transposition counts as one)."""
    return a == b or jellyfish.damerau_levenshtein_distance(a, b) <= 1


def _swap(a: str, b: str) -> bool:
    return a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]


def dobs_compatible(a: Dob, b: Dob) -> bool:
    """Could two birth dates (at their precisions) belong to one person?

    Compared at the finer precision both sides have. A slip may not move the year by
    ten or more (that is a different generation, not a typo).
    """
    year_a, year_b = a[2], b[2]
    if year_a is None or year_b is None:
        return True
    if abs(year_a - year_b) >= 10:
        return False
    if a[0] is not None and b[0] is not None:
        return _swap(a[0], b[0]) or _digit_slip(a[0], b[0])
    if a[1] is not None and b[1] is not None:
        return _digit_slip(a[1], b[1])
    return abs(year_a - year_b) <= 1 or _digit_slip(str(year_a), str(year_b))


def firsts_fit(a: GivenName, b: GivenName) -> bool:
    """Could two first names be one name (ignoring middle names)?

    A man's name and a woman's (PATRICK, PATRICIA; JOSE, JOSEPHINE) never fit unless
    one is the other's nickname (SAM, SAMANTHA): they are husband and wife, or twins,
    far more often than one is a slip of the other.
    """
    if a[0] == b[0] or (a[1] is not None and a[1] == b[1]):
        return True
    sex_a, sex_b = given_name_sex(a[0]), given_name_sex(b[0])
    if sex_a is not None and sex_b is not None and sex_a != sex_b:
        # even sounding alike (MICHAEL, MICHELLE), unless one is the other's nickname
        return is_nickname_of(a[0], b[0]) or is_nickname_of(b[0], a[0])
    if a[2] is not None and a[2] == b[2]:
        return True
    short, long_ = sorted((a[0], b[0]), key=len)
    if len(short) >= 3 and long_.startswith(short):
        return True
    similarity = jellyfish.jaro_winkler_similarity(a[0], b[0])
    if similarity >= 0.9:
        return True
    return similarity >= 0.8 and not (is_known_given(a[0]) and is_known_given(b[0]))


@functools.lru_cache(maxsize=1 << 16)
def _names_fit(a: GivenName, b: GivenName) -> bool:
    """Could two records' given names (first, canonical, phonetic, middle) be one?

    Equal, nickname-equal, sounding alike, first against middle, or one a short form
    of the other (CHRIS, CHRISTINE) fit; so do spellings a slip apart (Jaro-Winkler
    >= 0.9). Between 0.8 and 0.9 a misspelling fits, but two different real names do
    not (MARIA is no typo of MARGARET: twins are named like that).
    """
    return a[0] == b[3] or a[3] == b[0] or firsts_fit(a, b)


def _initial_fits(middle: str, first: str) -> bool:
    """Is a middle name (or its initial) the given first name?"""
    return middle == first or (len(middle) == 1 and first.startswith(middle))


@functools.lru_cache(maxsize=1 << 16)
def _full_names_fit(a: GivenName, b: GivenName) -> bool:
    """Could two records that both give a first and a middle name be one person?

    Someone called by a middle name (WILLIAM JOHN known as JOHN) shows as JOHN W or
    JOHN WILLIAM, never as JOHN T. So names crossed only half-way do not fit: twins
    given each other's names as middle names (WILLIAM JOHN, JOHN TUAN) were merged
    through a record of one with no middle name (JOHN). Everything else fits here
    (a misspelt first name beside the same middle name, or a middle initial that
    happens to match, is left to the other rules).
    """
    if firsts_fit(a, b):
        return True
    assert a[3] is not None and b[3] is not None
    crossed = len(a[3]) > 1 and a[3] == b[0], len(b[3]) > 1 and b[3] == a[0]
    if crossed[0] == crossed[1]:
        return True
    if crossed[0]:  # a's middle is b's first: b's middle must be a's first or its initial
        return _initial_fits(b[3], a[0]) or _initial_fits(a[0], b[3])
    return _initial_fits(a[3], b[0]) or _initial_fits(b[0], a[3])


def _clash(mine: set[_T], theirs: set[_T], fit: Callable[[_T, _T], bool]) -> bool:
    """Does a value of one side fail to fit a value of the other?

    Each side is consistent within itself (it was built by checked merges), so only
    values that one side has and the other lacks need comparing.
    """
    if not mine or not theirs or mine == theirs:
        return False
    return any(not fit(a, b) for a in mine - theirs for b in theirs - mine)


def names_compatible(a: set[GivenName], b: set[GivenName]) -> bool:
    """Could some given name of one side be some given name of the other, with no
    full name (first and middle) of one side crossed half-way with one of the other?"""
    if not a or not b or a <= b or b <= a:
        return True  # each side is consistent within itself: nothing new to check
    full_a = {n for n in a if n[3] is not None}
    full_b = {n for n in b if n[3] is not None}
    if full_a and full_b and _clash(full_a, full_b, _full_names_fit):
        return False
    if _opposite_sexes(a, b):
        return False
    if not a.isdisjoint(b) or {n[0] for n in a} & {n[0] for n in b}:
        return True
    return any(_names_fit(x, y) for x in a for y in b)


def _opposite_sexes(a: set[GivenName], b: set[GivenName]) -> bool:
    """Does one side bear only men's given names and the other only women's (names of
    neither kind aside), no man's name of one a nickname of a woman's name of the other
    (SAM, SAMANTHA)? A misspelt MICHELLE (MICHELEL, no known name) sounds like MICHAEL:
    it must not let a MICHAEL into her cluster."""
    sexes_a = {given_name_sex(n[0]) for n in a} - {None}
    if not sexes_a:
        return False
    sexes_b = {given_name_sex(n[0]) for n in b} - {None}
    if not sexes_b or not sexes_a.isdisjoint(sexes_b):
        return False
    return not any(given_name_sex(x[0]) is not None and given_name_sex(y[0]) is not None
                   and (is_nickname_of(x[0], y[0]) or is_nickname_of(y[0], x[0]))
                   for x in a for y in b)


@dataclass(slots=True)
class Facts:
    """The constraint-relevant facts of one record or one cluster of records."""

    keys: dict[str, str] = field(default_factory=dict)
    dobs: set[Dob] = field(default_factory=set)
    ssns: set[str] = field(default_factory=set)
    ssn_tolerance: int = 0
    names: set[GivenName] = field(default_factory=set)
    generations: bool = False  # apply the generation rule

    def copy(self) -> Facts:
        return Facts(dict(self.keys), set(self.dobs), set(self.ssns), self.ssn_tolerance,
                     set(self.names), self.generations)

    def bare(self) -> bool:
        """No birth date and no suffix: nothing to tell a father from his son. (An SSN
        or licence tells them apart only through an edge that agrees on it, and such
        edges pass the household rule anyway.)"""
        return not self.dobs and "suffix" not in self.keys

    def _undated_generation(self, other: Facts) -> bool:
        """One side has a generational suffix, the other none, and birth dates cannot
        arbitrate (one side has none)."""
        if not (self.generations or other.generations):
            return False
        if ("suffix" in self.keys) == ("suffix" in other.keys):
            return False
        return not (self.dobs and other.dobs)

    def conflict(self, other: Facts, via: int = 0) -> str | None:
        """The name of the first rule the two violate together, or None."""
        if self.keys and other.keys:
            small, big = ((self, other) if len(self.keys) <= len(other.keys)
                          else (other, self))
            for key, value in small.keys.items():
                theirs = big.keys.get(key)
                if theirs is not None and theirs != value:
                    return key.split(":", 1)[0]
        # each side is consistent within itself: only values new to one side need checks
        # (the cheap tests inline the early exits of _clash and names_compatible)
        if (self.ssns and other.ssns and self.ssns != other.ssns
                and _clash(self.ssns, other.ssns, self._ssns_fit)):
            return "ssn"
        if (self.dobs and other.dobs and self.dobs != other.dobs
                and _clash(self.dobs, other.dobs, dobs_compatible)):
            return "dob"
        if (not via & VIA_ID and self.names and other.names
                and self.names != other.names
                and not names_compatible(self.names, other.names)):
            return "given_name"
        if not via and self._undated_generation(other):
            return "generation"
        return None

    def _ssns_fit(self, a: str, b: str) -> bool:
        return jellyfish.damerau_levenshtein_distance(a, b) <= self.ssn_tolerance

    def absorb(self, other: Facts) -> None:
        """Take over the other's facts (after a merge)."""
        self.keys.update(other.keys)
        self.dobs |= other.dobs
        self.ssns |= other.ssns
        self.names |= other.names
        self.generations = self.generations or other.generations


def record_facts(
    ssn: str | None,
    dl_key: str | None,
    suffix: str | None,
    dob: Dob,
    rules: Constraints,
    name: GivenName | None = None,
) -> Facts:
    """Facts of one record under the enabled rules."""
    facts = Facts(ssn_tolerance=rules.ssn_typo_tolerance, generations=rules.generations)
    if rules.given_names and name is not None and name[0]:
        facts.names.add(name)
    if rules.strong_identifiers:
        if ssn:
            facts.ssns.add(ssn)
        if dl_key:
            state, _, number = dl_key.partition(":")
            facts.keys[f"dl:{state}"] = number
    if rules.suffixes and suffix and suffix.upper() in GENERATIONAL_SUFFIXES:
        facts.keys["suffix"] = suffix.upper()
    if rules.dates_of_birth and dob[2] is not None:
        facts.dobs.add(dob)
    return facts


def column_facts(
    ssn: Sequence[str | None],
    dl_key: Sequence[str | None],
    suffix: Sequence[str | None],
    dob: tuple[Sequence[str | None], Sequence[str | None], Sequence[int | None]],
    rules: Constraints,
    name: tuple[Sequence[str | None], Sequence[str | None], Sequence[str | None],
                Sequence[str | None]],
) -> list[Facts]:
    """:func:`record_facts` of many records given column by column (one pass, no
    per-record call); a record whose first name is empty has no given name."""
    day, month, year = dob
    first, canon, phonetic, middle = name
    n = len(ssn)
    keys: list[dict[str, str]] = [{} for _ in range(n)]
    if rules.strong_identifiers:
        for i, dl in enumerate(dl_key):
            if dl:
                state, _, number = dl.partition(":")
                keys[i][f"dl:{state}"] = number
    if rules.suffixes:
        for i, sx in enumerate(suffix):
            if sx and sx.upper() in GENERATIONAL_SUFFIXES:
                keys[i]["suffix"] = sx.upper()
    dobs = ([{(d, m, y)} if y is not None else set()
             for d, m, y in zip(day, month, year, strict=True)]
            if rules.dates_of_birth else [set() for _ in range(n)])
    ssns = ([{s} if s else set() for s in ssn]
            if rules.strong_identifiers else [set() for _ in range(n)])
    names = ([{(f, c, p, m)} if f else set()
              for f, c, p, m in zip(first, canon, phonetic, middle, strict=True)]
             if rules.given_names else [set() for _ in range(n)])
    return list(map(Facts, keys, dobs, ssns, itertools.repeat(rules.ssn_typo_tolerance, n),
                    names, itertools.repeat(rules.generations, n)))
