"""The people of a foreign-conventions population, in households.

Households are single adults, couples and families. In a Spanish-named family each
person carries two surnames (father's first, mother's first) and a wife keeps hers or,
less often, takes her husband's first surname; in other families a wife usually takes
her husband's surname. Some families name a son after his father (JR and SR), some
have twins (same birth date, same surnames, same address).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta

from idgraph.synth.foreign.names import MIDDLE, OTHER, SPANISH, given_pool

CITIES: tuple[tuple[str, str, tuple[int, int], tuple[str, ...]], ...] = (
    # city, state, range of ZIP codes drawn from, area codes
    ("HOUSTON", "TX", (77002, 77099), ("713", "832", "281")),
    ("DALLAS", "TX", (75201, 75254), ("214", "469", "972")),
    ("SAN ANTONIO", "TX", (78201, 78266), ("210", "726")),
    ("EL PASO", "TX", (79901, 79938), ("915",)),
    ("AUSTIN", "TX", (78701, 78759), ("512", "737")),
)
STREETS: tuple[str, ...] = (
    "MAIN ST", "ALAMEDA AVE", "SAN JACINTO ST", "BROADWAY", "ELM ST", "OAK DR",
    "GUADALUPE ST", "MONTANA AVE", "MESA ST", "CONGRESS AVE", "LAMAR BLVD", "MAPLE AVE",
    "CEDAR LN", "PECAN ST", "RIO GRANDE ST", "SAN PEDRO AVE", "ZARZAMORA ST",
    "W COMMERCE ST", "N FLORES ST", "S PRESA ST", "CALLE DEL SOL", "AVENIDA DEL RIO",
    "E CESAR CHAVEZ ST", "FM 1960 RD", "LOOP 410", "PALO ALTO DR", "MOCKINGBIRD LN",
)


@dataclass(frozen=True)
class Address:
    house: str
    street: str
    unit: str | None
    city: str
    state: str
    zip: str

    @property
    def line(self) -> str:
        return f"{self.house} {self.street}" + (f" APT {self.unit}" if self.unit else "")


@dataclass(frozen=True)
class Person:
    pid: str
    given: str
    middle: str | None
    surnames: tuple[str, ...]  # at birth: paternal[, maternal]
    married: str | None  # surname taken at marriage, used by some sources
    suffix: str | None  # JR, SR
    sex: str
    dob: date
    ssn: str | None
    phone: str
    household: int
    address: Address
    old_address: Address | None


@dataclass
class Population:
    people: list[Person]
    hard_cases: list[tuple[str, str, str]]  # (kind, person_a, person_b)


class _Maker:
    """Draws the values of one population from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0
        self.ssns: set[str] = set()

    def address(self) -> Address:
        r = self.rng
        city, state, zips, _ = r.choice(CITIES)
        unit = str(r.randint(1, 40)) + r.choice("ABC") if r.random() < 0.25 else None
        return Address(str(r.randint(100, 9899)), r.choice(STREETS), unit, city, state,
                       str(r.randint(*zips)))

    def phone(self, address: Address) -> str:
        r = self.rng
        areas = next(c[3] for c in CITIES if c[0] == address.city)
        exchange = r.randint(201, 989)
        while exchange % 100 == 11 or exchange == 555:
            exchange = r.randint(201, 989)
        return f"{r.choice(areas)}{exchange}{r.randint(0, 9999):04d}"

    def ssn(self) -> str | None:
        r = self.rng
        if r.random() < 0.08:  # no SSN on file (e.g. not issued one)
            return None
        while True:
            s = f"{r.randint(1, 665):03d}{r.randint(1, 99):02d}{r.randint(1, 9999):04d}"
            if s not in self.ssns:
                self.ssns.add(s)
                return s

    def surnames(self, spanish: bool) -> tuple[str, ...]:
        r = self.rng
        if spanish:
            return (r.choice(SPANISH), r.choice(SPANISH))
        return (r.choice(OTHER),)

    def person(self, sex: str, dob: date, surnames: tuple[str, ...], household: int,
               address: Address, given: str | None = None) -> Person:
        r = self.rng
        self.n += 1
        old = self.address() if r.random() < 0.3 else None
        return Person(
            f"F{self.n:07d}", given or r.choice(given_pool(sex)),
            r.choice(MIDDLE) if r.random() < 0.45 else None, surnames, None, None, sex,
            dob, self.ssn(), self.phone(address), household, address, old)

    def dob(self, first: int, last: int) -> date:
        start = date(first, 1, 1)
        return start + timedelta(days=self.rng.randrange((date(last, 12, 31) - start).days))


def _couple(m: _Maker, hh: int, addr: Address, spanish: bool) -> list[Person]:
    r = m.rng
    husband = m.person("M", m.dob(1945, 1975), m.surnames(spanish), hh, addr)
    wife = m.person("F", m.dob(1945, 1975), m.surnames(spanish), hh, addr)
    if r.random() < (0.25 if spanish else 0.7):
        wife = replace(wife, married=husband.surnames[0])
    return [husband, wife]


def _children(m: _Maker, hh: int, addr: Address, father: Person, mother: Person,
              spanish: bool, cases: list[tuple[str, str, str]]) -> list[Person]:
    r = m.rng
    surnames = ((father.surnames[0], mother.surnames[0]) if spanish
                else (father.surnames[0],))
    base = max(father.dob.year, mother.dob.year)
    kids: list[Person] = []
    for _ in range(r.randint(1, 3)):
        sex = r.choice("MF")
        kids.append(m.person(sex, m.dob(base + 20, min(base + 35, 2005)), surnames, hh, addr))
    if r.random() < 0.12:  # twins: same birth date, surnames and address
        first = kids[0]
        twin = m.person(r.choice("MF"), first.dob, surnames, hh, addr)
        while twin.given == first.given:
            twin = replace(twin, given=r.choice(given_pool(twin.sex)))
        kids.append(twin)
        cases.append(("twins", first.pid, twin.pid))
    sons = [k for k in kids if k.sex == "M"]
    if sons and r.random() < 0.3:  # named after his father
        son = sons[0]
        i = kids.index(son)
        kids[i] = replace(son, given=father.given, suffix="JR")
        cases.append(("jr_sr", father.pid, son.pid))
    return kids


def make_population(people: int, rng: random.Random) -> Population:
    """At least ``people`` people (a household is never cut), in households."""
    m = _Maker(rng)
    out: list[Person] = []
    cases: list[tuple[str, str, str]] = []
    hh = 0
    while len(out) < people:
        hh += 1
        addr = m.address()
        spanish = rng.random() < 0.55
        kind = rng.random()
        if kind < 0.3:
            sex = rng.choice("MF")
            out.append(m.person(sex, m.dob(1945, 2000), m.surnames(spanish), hh, addr))
            continue
        couple = _couple(m, hh, addr, spanish)
        kids: list[Person] = []
        if kind >= 0.55:
            kids = _children(m, hh, addr, couple[0], couple[1], spanish, cases)
            if any(k.suffix == "JR" for k in kids):
                couple[0] = replace(couple[0], suffix="SR")
        out.extend(couple + kids)
    return Population(out, cases)
