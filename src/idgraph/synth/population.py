"""People, households and their histories: the ground truth the sources are drawn from.

Households move over time; couples marry (a wife may take her husband's surname, so her
earlier records carry her maiden name); some families have identical twins or a son
named after his father (Jr/Sr); some people share a very common name with strangers.
Every hard case is registered so linkage evaluation can count wrongful merges.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

from idgraph.synth import tables
from idgraph.synth.identifiers import IdFactory

REF_DATE: Final[date] = date(2025, 1, 1)  # "today" for the synthetic world
HISTORY_START: Final[date] = date(2005, 1, 1)


@dataclass(slots=True, frozen=True)
class Address:
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
        parts = [self.house, self.predir, self.street, st]
        return " ".join(p for p in parts if p)

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

    def last_at(self, when: date) -> str:
        """Surname as it stood on ``when``."""
        if self.maiden and self.married_on is not None and when < self.married_on:
            return self.maiden
        return self.last

    def adult_from(self) -> date:
        return add_years(self.dob, 18)

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
    span = (hi - lo).days
    return lo + timedelta(days=rng.randint(0, max(span, 0)))


class _Weighted:
    """Fast repeated weighted choice over a fixed table."""

    def __init__(self, items: list[object], weights: list[int]) -> None:
        self.items = items
        self.cum: list[int] = []
        total = 0
        for w in weights:
            total += w
            self.cum.append(total)

    def pick(self, rng: random.Random) -> object:
        return rng.choices(self.items, cum_weights=self.cum, k=1)[0]


_MALE = _Weighted([n for n, _ in tables.MALE_FIRST], [w for _, w in tables.MALE_FIRST])
_FEMALE = _Weighted([n for n, _ in tables.FEMALE_FIRST], [w for _, w in tables.FEMALE_FIRST])
_SURNAME = _Weighted(
    [(s, g) for s, _, g in tables.SURNAMES], [w for _, w, _ in tables.SURNAMES]
)
_CITY = _Weighted(list(range(len(tables.CITIES))), [c[4] for c in tables.CITIES])


def first_name(rng: random.Random, sex: str) -> str:
    return str((_MALE if sex == "M" else _FEMALE).pick(rng))


def surname(rng: random.Random) -> tuple[str, str]:
    s, g = _SURNAME.pick(rng)  # type: ignore[misc]
    return str(s), str(g)


def new_address(rng: random.Random, near: Address | None = None) -> Address:
    """A fresh address; with ``near``, usually in the same state and often the same city."""
    city = tables.CITIES[int(str(_CITY.pick(rng)))]
    if near is not None and rng.random() < 0.9:
        same_state = [c for c in tables.CITIES if c[1] == near.state]
        same_city = [c for c in same_state if c[0] == near.city]
        city = same_city[0] if same_city and rng.random() < 0.5 else rng.choice(same_state)
    name, state, prefix, nzips, _, _ = city
    unit = ""
    if rng.random() < 0.35:
        unit = str(rng.randint(1, 40)) if rng.random() < 0.7 else rng.choice("ABCDEF")
        if rng.random() < 0.3:
            unit = f"{rng.randint(1, 9)}{rng.choice('ABCD')}"
    return Address(
        house=str(rng.randint(1, 9899)),
        predir=rng.choice(tables.DIRECTIONS) if rng.random() < 0.15 else "",
        street=rng.choice(tables.STREET_NAMES),
        stype=rng.randrange(len(tables.STREET_TYPES)),
        unit=unit,
        unit_type=rng.choice(tables.UNIT_TYPES),
        city=name,
        state=state,
        zip5=f"{prefix}{rng.randint(1, nzips):02d}",
        zip4=f"{rng.randint(1, 9999):04d}",
    )


def address_history(rng: random.Random, start: date, first: Address | None = None) -> list[Residence]:
    """1-4 residences from ``start`` to the reference date."""
    moves = sorted(rand_date(rng, start, REF_DATE) for _ in range(rng.choice((0, 0, 1, 1, 2, 3))))
    addr = first or new_address(rng)
    out = [Residence(addr, start, None)]
    for when in moves:
        if when <= out[-1].start:
            continue
        out[-1].end = when
        addr = new_address(rng, near=addr)
        out.append(Residence(addr, when, None))
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
