"""People, households and their histories: the ground truth the sources are drawn from.

Households move over time; couples marry (a wife may take her husband's surname, so her
earlier records carry her maiden name); some families have identical twins or a son
named after his father (Jr/Sr); some people share a very common name with strangers.
Twins get two names, never a name and its nickname (ELIZABETH and BETTY), and
everyone their own email address: the linker could not, and should not, part those.
Every hard case is registered so linkage evaluation can count wrongful merges.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from typing import Final, Generic, NamedTuple, TypeVar

from idgraph.synth import tables
from idgraph.synth.identifiers import IdFactory

_T = TypeVar("_T")
REF_DATE: Final[date] = date(2025, 1, 1)  # "today" for the synthetic world
HISTORY_START: Final[date] = date(2005, 1, 1)


class Address(NamedTuple):
    house: str
    predir: str
    street: str  # street name without type
    stype: int  # index into tables.STREET_TYPES
    unit: str  # "" or number/letter
    unit_type: str
    city: str
    state: str
    zip5: str
    zip4: str

    def street_line(self, long_type: bool = False) -> str:
        """"12 N OAK ST" (or "... STREET")."""
        st = tables.STREET_TYPES[self.stype][1 if long_type else 0]
        if self.predir:
            return f"{self.house} {self.predir} {self.street} {st}"
        return f"{self.house} {self.street} {st}"

    def unit_text(self) -> str:
        if not self.unit:
            return ""
        return f"#{self.unit}" if self.unit_type == "#" else f"{self.unit_type} {self.unit}"


@dataclass(slots=True)
class Residence:
    address: Address
    start: date
    end: date | None  # None: still lives there


@dataclass(slots=True)
class Person:
    idx: int
    pid: str
    first: str
    middle: str
    last: str  # current surname
    sex: str
    dob: date
    ssn: str
    suffix: str = ""
    maiden: str = ""  # surname before marriage, if it changed
    married_on: date | None = None
    compound: bool = False  # two-part Hispanic surname
    residences: list[Residence] = field(default_factory=list)
    phones: list[tuple[str, date, date | None]] = field(default_factory=list)
    vehicle: bool = False
    adult: date = field(init=False)

    def __post_init__(self) -> None:
        self.adult = add_years(self.dob, 18)

    def last_at(self, when: date) -> str:
        """Surname as it stood on ``when``."""
        if self.maiden and self.married_on is not None and when < self.married_on:
            return self.maiden
        return self.last

    def adult_from(self) -> date:
        return self.adult

    def residence_at(self, when: date) -> Residence:
        for r in reversed(self.residences):
            if r.start <= when:
                return r
        return self.residences[0]


@dataclass(slots=True)
class HardCases:
    twins: list[tuple[str, str]] = field(default_factory=list)
    jr_sr: list[tuple[str, str]] = field(default_factory=list)  # (junior, senior)
    married_name: list[tuple[str, str]] = field(default_factory=list)  # (wife, husband)
    namesakes: list[tuple[str, str]] = field(default_factory=list)
    compound_surnames: list[str] = field(default_factory=list)


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def rand_date(rng: random.Random, lo: date, hi: date) -> date:
    """A uniformly random day in ``[lo, hi]`` (``lo`` when the range is empty)."""
    a = lo.toordinal()
    span = hi.toordinal() - a
    if span <= 0:
        return lo
    return date.fromordinal(a + int(rng.random() * (span + 1)))


def rint(rng: random.Random, lo: int, hi: int) -> int:
    """Uniform integer in ``[lo, hi]`` (faster than ``randint``)."""
    return lo + int(rng.random() * (hi - lo + 1))


class _Weighted(Generic[_T]):
    """Fast repeated weighted choice over a fixed table."""

    def __init__(self, items: Sequence[_T], weights: Sequence[int]) -> None:
        self.items = items
        self.cum: list[int] = list(accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> _T:
        return self.items[bisect_right(self.cum, rng.random() * self.total)]


_MALE = _Weighted([n for n, _ in tables.MALE_FIRST], [w for _, w in tables.MALE_FIRST])
_FEMALE = _Weighted([n for n, _ in tables.FEMALE_FIRST], [w for _, w in tables.FEMALE_FIRST])
_SURNAME = _Weighted(
    [(name, grp) for name, _, grp in tables.SURNAMES], [w for _, w, _ in tables.SURNAMES]
)
_CITY = _Weighted(tables.CITIES, [c[4] for c in tables.CITIES])


_City = tuple[str, str, str, int, int, tuple[str, ...]]
_STATES = sorted({c[1] for c in tables.CITIES})
_BY_STATE: dict[str, tuple[_City, ...]] = {
    st: tuple(c for c in tables.CITIES if c[1] == st) for st in _STATES
}
_BY_CITY: dict[tuple[str, str], _City] = {(c[0], c[1]): c for c in tables.CITIES}


def _pick(r: Callable[[], float], seq: Sequence[_T]) -> _T:
    return seq[int(r() * len(seq))]


def first_name(rng: random.Random, sex: str) -> str:
    return (_MALE if sex == "M" else _FEMALE).pick(rng)


def surname(rng: random.Random) -> tuple[str, str]:
    return _SURNAME.pick(rng)


def new_address(rng: random.Random, near: Address | None = None) -> Address:
    """A fresh address; with ``near``, usually in the same state and often the same city."""
    r = rng.random
    city = _CITY.pick(rng)
    if near is not None and r() < 0.9:
        same_state = _BY_STATE[near.state]
        city = _BY_CITY[(near.city, near.state)] if r() < 0.5 else _pick(r, same_state)
    name, state, prefix, nzips, _, _ = city
    unit = ""
    if r() < 0.35:
        unit = str(1 + int(r() * 40)) if r() < 0.7 else _pick(r, "ABCDEF")
        if r() < 0.3:
            unit = f"{1 + int(r() * 9)}{_pick(r, 'ABCD')}"
    return Address(
        house=str(1 + int(r() * 9899)),
        predir=_pick(r, tables.DIRECTIONS) if r() < 0.15 else "",
        street=_pick(r, tables.STREET_NAMES),
        stype=int(r() * len(tables.STREET_TYPES)),
        unit=unit,
        unit_type=_pick(r, tables.UNIT_TYPES),
        city=name,
        state=state,
        zip5=f"{prefix}{1 + int(r() * nzips):02d}",
        zip4=f"{1 + int(r() * 9999):04d}",
    )


_MOVES: Final[tuple[int, ...]] = (0, 0, 1, 1, 2, 3)


def address_history(
    rng: random.Random, start: date, first: Address | None = None, end: date | None = None
) -> list[Residence]:
    """1-4 residences from ``start`` until ``end`` (None: still living at the last one)."""
    n_moves = _MOVES[int(rng.random() * len(_MOVES))]
    stop = end or REF_DATE
    moves = sorted(rand_date(rng, start, stop) for _ in range(n_moves))
    addr = first or new_address(rng)
    out = [Residence(addr, start, end)]
    for when in moves:
        if when <= out[-1].start or when >= stop:
            continue
        out[-1].end = when
        addr = new_address(rng, near=addr)
        out.append(Residence(addr, when, end))
    return out


def middle_name(rng: random.Random, sex: str) -> str:
    r = rng.random()
    if r < 0.55:
        return first_name(rng, sex)
    if r < 0.8:
        return rng.choice(tables.MIDDLE_LETTERS)
    return ""


def assign_phones(rng: random.Random, ids: IdFactory, p: Person) -> None:
    """1-3 phone numbers over time; the last is current."""
    n = rng.choice((1, 1, 1, 2, 2, 3))
    start = max(p.adult_from(), HISTORY_START)
    if start >= REF_DATE:
        start = REF_DATE - timedelta(days=30)
    cuts = sorted(rand_date(rng, start, REF_DATE) for _ in range(n - 1))
    bounds = [start, *cuts, None]
    for slot in range(n):
        lo, hi = bounds[slot], bounds[slot + 1]
        assert lo is not None
        p.phones.append((ids.phone_for(p.idx, slot), lo, hi))
