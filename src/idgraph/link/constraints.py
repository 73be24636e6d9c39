"""Cannot-link rules: facts that say two records are two people, whatever the model says.

Each record contributes *keyed facts*. A key (the rule it falls under, and a
qualifier) must hold one value within an identity: ``(dl, <state>)`` (a licence number
per issuing state); ``(suffix, "")`` (JR, SR, II, ...); ``(judgement, <n>)`` (one side
of a ``different`` judgement). Dates of birth are compared by :func:`dobs_compatible`,
which forgives a day/month swap and a one-digit slip and compares year-only and
month-precision dates only as far as they go. Refusals are :class:`RuleId` values;
the rules a :class:`~idgraph.link.config.LinkConfig` switches off never refuse.

Absence is never a conflict: a record without a suffix, birth date or middle name
may join a cluster that has one. The one rule about a missing value,
``generation`` (a suffixed and an unsuffixed cluster, one without any birth date),
only defers the merge in the greedy pass; the attach pass
(:func:`idgraph.link.cluster.attach_best`) sets it aside and joins the record unless a
rival cluster fits it as well.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple, TypeVar

import jellyfish

from idgraph.link.config import RuleId
from idgraph.normalize.names import (
    given_name_sex,
    is_known_given,
    is_listed_given,
    is_nickname_of,
)

_T = TypeVar("_T")

GENERATIONAL_SUFFIXES: Final = frozenset({"JR", "SR", "II", "III", "IV", "V"})



class Dob(NamedTuple):
    """A birth date at the precisions known (any may be None)."""

    day: str | None  # YYYYMMDD
    month: str | None  # YYYYMM
    year: int | None


class GivenName(NamedTuple):
    """The given names of one record."""

    first: str
    canon: str | None  # canonical first name (JOE -> JOSEPH)
    phonetic: str | None
    middle: str | None


# a keyed fact: the rule it falls under and a qualifier (a licence's issuing state)
FactKey = tuple[RuleId, str]
SUFFIX_KEY: Final[FactKey] = (RuleId.SUFFIX, "")

VIA_ID: Final = 1  # the proposing pair agrees on an SSN or licence number
VIA_CONTACT: Final = 2  # ... on a phone number or email address
# ... on the name read the other way round (given name of one = surname of the other and
# back): a name whose order the source got wrong, not evidence that tells people apart
VIA_NAME_SWAP: Final = 4
VIA_EVIDENCE: Final = VIA_ID | VIA_CONTACT  # bits that are evidence of one person


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
    year_a, year_b = a.year, b.year
    if year_a is None or year_b is None:
        return True
    if abs(year_a - year_b) >= 10:
        return False
    if a.day is not None and b.day is not None:
        return _swap(a.day, b.day) or _digit_slip(a.day, b.day)
    if a.month is not None and b.month is not None:
        return _digit_slip(a.month, b.month)
    return abs(year_a - year_b) <= 1 or _digit_slip(str(year_a), str(year_b))


def firsts_fit(a: GivenName, b: GivenName) -> bool:
    """Could two first names be one name (ignoring middle names)?

    A man's name and a woman's (PATRICK, PATRICIA; JOSE, JOSEPHINE) never fit unless
    one is the other's nickname (SAM, SAMANTHA): they are husband and wife, or twins,
    far more often than one is a slip of the other.
    """
    if a.first == b.first or (a.canon is not None and a.canon == b.canon):
        return True
    sex_a, sex_b = given_name_sex(a.first), given_name_sex(b.first)
    if sex_a is not None and sex_b is not None and sex_a != sex_b:
        # even sounding alike (MICHAEL, MICHELLE), unless one is the other's nickname
        return is_nickname_of(a.first, b.first) or is_nickname_of(b.first, a.first)
    if a.phonetic is not None and a.phonetic == b.phonetic:
        return True
    short, long_ = sorted((a.first, b.first), key=len)
    if len(short) >= 3 and long_.startswith(short):
        return True
    similarity = jellyfish.jaro_winkler_similarity(a.first, b.first)
    if similarity >= 0.9:
        return True
    return similarity >= 0.8 and not (is_known_given(a.first) and is_known_given(b.first))


@functools.lru_cache(maxsize=1 << 16)
def _names_fit(a: GivenName, b: GivenName) -> bool:
    """Could two records' given names (first, canonical, phonetic, middle) be one?

    Equal, nickname-equal, sounding alike, first against middle, or one a short form
    of the other (CHRIS, CHRISTINE) fit; so do spellings a slip apart (Jaro-Winkler
    >= 0.9). Between 0.8 and 0.9 a misspelling fits, but two different real names do
    not (MARIA is no typo of MARGARET: twins are named like that).
    """
    return a.first == b.middle or a.middle == b.first or firsts_fit(a, b)


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
    assert a.middle is not None and b.middle is not None
    crossed = len(a.middle) > 1 and a.middle == b.first, len(b.middle) > 1 and b.middle == a.first
    if crossed[0] == crossed[1]:
        return True
    if crossed[0]:  # a's middle is b's first: b's middle must be a's first or its initial
        return _initial_fits(b.middle, a.first) or _initial_fits(a.first, b.middle)
    return _initial_fits(a.middle, b.first) or _initial_fits(b.first, a.middle)


def _clash(mine: set[_T], theirs: set[_T], fit: Callable[[_T, _T], bool]) -> bool:
    """Does a value of one side fail to fit a value of the other?

    Each side is consistent within itself (it was built by checked merges), so only
    values that one side has and the other lacks need comparing.
    """
    if not mine or not theirs or mine == theirs:
        return False
    return any(not fit(a, b) for a in mine - theirs for b in theirs - mine)


def names_compatible(a: set[GivenName], b: set[GivenName]) -> bool:
    """Could some given name of one side be some given name of the other (or a
    diminutive the tables lack of it, :func:`_hypocorism`), with no full name (first
    and middle) of one side crossed half-way with one of the other?"""
    if not a or not b or a <= b or b <= a:
        return True  # each side is consistent within itself: nothing new to check
    full_a = {n for n in a if n.middle is not None}
    full_b = {n for n in b if n.middle is not None}
    if full_a and full_b and _clash(full_a, full_b, _full_names_fit):
        return False
    if _opposite_sexes(a, b):
        return False
    if not a.isdisjoint(b) or {n.first for n in a} & {n.first for n in b}:
        return True
    return (any(_names_fit(x, y) for x in a for y in b)
            or _hypocorism(a, b) or _hypocorism(b, a))


# letters of an unlisted name's start that the other name must contain (QUINO: QUI)
HYPOCORISM_STEM: Final = 3


def _hypocorism(short: set[GivenName], full: set[GivenName]) -> bool:
    """Could one side's names be a diminutive the name tables lack of the other's?

    Only when no table lists any of the one side's first names (an initial counts as
    listed: M is not JOHN), and one of them starts with letters another first name
    contains: a cut of the full name, as Spanish and Portuguese diminutives are
    (QUINO of JOAQUIN, MONCHO of RAMON, NANDO of FERNANDO). A name from elsewhere that
    the US tables lack (QUANG, JIRI, MALGORZATA) is a real name, not a slip, and stays
    a different name: household members and twins are named like that."""
    if not all(len(n.first) > HYPOCORISM_STEM and not is_listed_given(n.first)
               for n in short):
        return False
    return any(x.first[:HYPOCORISM_STEM] in y.first for x in short for y in full)


def _opposite_sexes(a: set[GivenName], b: set[GivenName]) -> bool:
    """Does one side bear only men's given names and the other only women's (names of
    neither kind aside), no man's name of one a nickname of a woman's name of the other
    (SAM, SAMANTHA)? A misspelt MICHELLE (MICHELEL, no known name) sounds like MICHAEL:
    it must not let a MICHAEL into her cluster."""
    sexes_a = {given_name_sex(n.first) for n in a} - {None}
    if not sexes_a:
        return False
    sexes_b = {given_name_sex(n.first) for n in b} - {None}
    if not sexes_b or not sexes_a.isdisjoint(sexes_b):
        return False
    return not any(given_name_sex(x.first) is not None and given_name_sex(y.first) is not None
                   and (is_nickname_of(x.first, y.first) or is_nickname_of(y.first, x.first))
                   for x in a for y in b)


@dataclass(slots=True)
class Facts:
    """The constraint-relevant facts of one record or one cluster of records."""

    keys: dict[FactKey, str] = field(default_factory=dict)
    dobs: set[Dob] = field(default_factory=set)
    ssns: set[str] = field(default_factory=set)
    ssn_tolerance: int = 0
    names: set[GivenName] = field(default_factory=set)
    off: frozenset[RuleId] = frozenset()  # rules switched off (shared, never mutated)

    def copy(self) -> Facts:
        return Facts(dict(self.keys), set(self.dobs), set(self.ssns), self.ssn_tolerance,
                     set(self.names), self.off)

    def empty(self) -> Facts:
        """No facts, under the same rules."""
        return Facts(ssn_tolerance=self.ssn_tolerance, off=self.off)

    def bare(self) -> bool:
        """No birth date and no suffix: nothing to tell a father from his son. (An SSN
        or licence tells them apart only through an edge that agrees on it, and such
        edges pass the household rule anyway.)"""
        return not self.dobs and SUFFIX_KEY not in self.keys

    def _undated_generation(self, other: Facts) -> bool:
        """One side has a generational suffix, the other none, and birth dates cannot
        arbitrate (one side has none)."""
        if (SUFFIX_KEY in self.keys) == (SUFFIX_KEY in other.keys):
            return False
        return not (self.dobs and other.dobs)

    def conflict(self, other: Facts, via: int = 0, *, generation: bool = True) -> RuleId | None:
        """The first rule the two violate together, or None.

        ``via`` (VIA_* bits the linking evidence agrees on) sets the generation rule
        aside (any agreeing identifier or contact), and the given-name rule with an
        agreeing identifier (unless the names are a man's and a woman's) or a name read
        the other way round (VIA_NAME_SWAP). ``generation=False`` sets the generation
        rule aside too: it only says that a missing suffix or birth date leaves the merge
        undecided.
        """
        off = self.off
        if self.keys and other.keys:
            small, big = ((self, other) if len(self.keys) <= len(other.keys)
                          else (other, self))
            for key, value in small.keys.items():
                theirs = big.keys.get(key)
                if theirs is not None and theirs != value and key[0] not in off:
                    return key[0]
        # each side is consistent within itself: only values new to one side need checks
        # (the cheap tests inline the early exits of _clash and names_compatible)
        if (self.ssns and other.ssns and self.ssns != other.ssns
                and RuleId.SSN not in off
                and _clash(self.ssns, other.ssns, self._ssns_fit)):
            return RuleId.SSN
        if (self.dobs and other.dobs and self.dobs != other.dobs
                and RuleId.DOB not in off
                and _clash(self.dobs, other.dobs, dobs_compatible)):
            return RuleId.DOB
        if (not via & VIA_NAME_SWAP and self.names and other.names
                and self.names != other.names and RuleId.GIVEN_NAME not in off
                and (_opposite_sexes(self.names, other.names) if via & VIA_ID
                     else not names_compatible(self.names, other.names))):
            # an agreeing SSN or licence waives the rule, except for a man's and a
            # woman's name: household members share (or borrow) numbers
            return RuleId.GIVEN_NAME
        if (generation and not via & VIA_EVIDENCE and RuleId.GENERATION not in off
                and self._undated_generation(other)):
            return RuleId.GENERATION
        return None

    def _ssns_fit(self, a: str, b: str) -> bool:
        return jellyfish.damerau_levenshtein_distance(a, b) <= self.ssn_tolerance

    def absorb(self, other: Facts) -> None:
        """Take over the other's facts (after a merge)."""
        self.keys.update(other.keys)
        self.dobs |= other.dobs
        self.ssns |= other.ssns
        self.names |= other.names


def _off(rules: Constraints, off: frozenset[RuleId]) -> frozenset[RuleId]:
    """The rules switched off by ``off`` or by the Constraints."""
    return off | ({RuleId.GENERATION} if not rules.generations else set())


def record_facts(
    ssn: str | None,
    dl_key: str | None,
    suffix: str | None,
    dob: Dob | tuple[str | None, str | None, int | None],
    rules: Constraints,
    name: GivenName | tuple[str, str | None, str | None, str | None] | None = None,
    off: frozenset[RuleId] = frozenset(),
) -> Facts:
    """Facts of one record under the enabled rules."""
    facts = Facts(ssn_tolerance=rules.ssn_typo_tolerance, off=_off(rules, off))
    if rules.given_names and name is not None and name[0]:
        facts.names.add(GivenName(*name))
    if rules.strong_identifiers:
        if ssn:
            facts.ssns.add(ssn)
        if dl_key:
            state, _, number = dl_key.partition(":")
            facts.keys[(RuleId.DL, state)] = number
    if rules.suffixes and suffix and suffix.upper() in GENERATIONAL_SUFFIXES:
        facts.keys[SUFFIX_KEY] = suffix.upper()
    if rules.dates_of_birth and dob[2] is not None:
        facts.dobs.add(Dob(*dob))
    return facts


def column_facts(
    ssn: Sequence[str | None],
    dl_key: Sequence[str | None],
    suffix: Sequence[str | None],
    dob: tuple[Sequence[str | None], Sequence[str | None], Sequence[int | None]],
    rules: Constraints,
    name: tuple[Sequence[str | None], Sequence[str | None], Sequence[str | None],
                Sequence[str | None]],
    off: frozenset[RuleId] = frozenset(),
) -> list[Facts]:
    """:func:`record_facts` of many records given column by column (one pass, no
    per-record call); a record whose first name is empty has no given name."""
    day, month, year = dob
    first, canon, phonetic, middle = name
    n = len(ssn)
    keys: list[dict[FactKey, str]] = [{} for _ in range(n)]
    if rules.strong_identifiers:
        for i, dl in enumerate(dl_key):
            if dl:
                state, _, number = dl.partition(":")
                keys[i][(RuleId.DL, state)] = number
    if rules.suffixes:
        for i, sx in enumerate(suffix):
            if sx and sx.upper() in GENERATIONAL_SUFFIXES:
                keys[i][SUFFIX_KEY] = sx.upper()
    dobs = ([{Dob(d, m, y)} if y is not None else set()
             for d, m, y in zip(day, month, year, strict=True)]
            if rules.dates_of_birth else [set() for _ in range(n)])
    ssns = ([{s} if s else set() for s in ssn]
            if rules.strong_identifiers else [set() for _ in range(n)])
    names = ([{GivenName(f, c, p, m)} if f else set()
              for f, c, p, m in zip(first, canon, phonetic, middle, strict=True)]
             if rules.given_names else [set() for _ in range(n)])
    return list(map(Facts, keys, dobs, ssns, itertools.repeat(rules.ssn_typo_tolerance, n),
                    names, itertools.repeat(_off(rules, off), n)))
