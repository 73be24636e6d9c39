"""Build one chunk of the population, household by household."""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import pairwise

from idgraph.normalize.names import canonical_given
from idgraph.synth import tables
from idgraph.synth.identifiers import IdFactory
from idgraph.synth.population import (
    HISTORY_START,
    REF_DATE,
    HardCases,
    Person,
    Residence,
    add_years,
    address_history,
    assign_phones,
    first_name,
    middle_name,
    rand_date,
    surname,
)

COMMON_NAME_RATE = 0.06  # share of single adults given a deliberately common name
_HISPANIC = tuple(s for s, _, g in tables.SURNAMES if g == "es" and " " not in s)


def _clip(history: list[Residence], start: date) -> list[Residence]:
    """Copies of the residences still current on or after ``start``, first one clipped."""
    out = []
    for r in history:
        if r.end is not None and r.end <= start:
            continue
        out.append(Residence(r.address, max(r.start, start), r.end))
    return out


def _until(history: list[Residence], end: date) -> list[Residence]:
    """The residences before ``end``, the last one closed at ``end``."""
    out = [Residence(r.address, r.start, r.end) for r in history if r.start < end]
    if out:
        out[-1].end = end
    return out


class ChunkBuilder:
    """People ``start .. start+count-1`` of the population, made deterministically."""

    def __init__(self, seed: int, chunk_no: int, start: int, count: int, ids: IdFactory):
        self.rng = random.Random(f"idgraph-synth:{seed}:people:{chunk_no}")
        self.ids = ids
        self.next_idx = start
        self.end = start + count
        self.people: list[Person] = []
        self.hard = HardCases()
        self._common: dict[tuple[str, str], list[str]] = {}

    def build(self) -> tuple[list[Person], HardCases]:
        rng = self.rng
        while self.next_idx < self.end:
            r = rng.random()
            if r < 0.34:
                self._single()
            elif r < 0.64:
                self._couple(kids=0)
            else:
                self._couple(kids=rng.choice((1, 1, 2, 2, 3)))
        for ids in self._common.values():
            self.hard.namesakes.extend(pairwise(ids))
        return self.people, self.hard

    # -- people --------------------------------------------------------------
    def _person(self, first: str, middle: str, last: str, sex: str, dob: date) -> Person | None:
        if self.next_idx >= self.end:
            return None
        idx = self.next_idx
        self.next_idx += 1
        p = Person(idx, f"P{idx + 1:07d}", first, middle, last, sex, dob, self.ids.ssn_for(idx))
        p.vehicle = self.rng.random() < 0.65
        self.people.append(p)
        return p

    def _finish(self, p: Person) -> None:
        assign_phones(self.rng, self.ids, p)

    def _single(self) -> None:
        rng = self.rng
        sex = rng.choice("MF")
        first, (last, _) = first_name(rng, sex), surname(rng)
        common = rng.random() < COMMON_NAME_RATE
        if common:
            first, last, sex = rng.choice(tables.COMMON_NAMES)
        dob = rand_date(rng, add_years(REF_DATE, -85), add_years(REF_DATE, -18))
        p = self._person(first, middle_name(rng, sex), last, sex, dob)
        if p is None:
            return
        if common:
            self._common.setdefault((first, last), []).append(p.pid)
        p.residences = address_history(rng, max(HISTORY_START, p.adult_from()))
        self._finish(p)

    def _couple(self, kids: int) -> None:
        rng = self.rng
        h_last, group = surname(rng)
        h_dob = rand_date(rng, add_years(REF_DATE, -80), add_years(REF_DATE, -22))
        husband = self._person(first_name(rng, "M"), middle_name(rng, "M"), h_last, "M", h_dob)
        if husband is None:
            return
        w_last, w_group = surname(rng)
        if group == "es" and rng.random() < 0.7:
            w_last, w_group = _HISPANIC[int(rng.random() * len(_HISPANIC))], "es"
        gap = timedelta(days=int(rng.random() * 3601) - 1800)
        w_dob = min(h_dob + gap, add_years(REF_DATE, -20))
        wife = self._person(first_name(rng, "F"), middle_name(rng, "F"), w_last, "F", w_dob)
        if wife is None:
            husband.residences = address_history(rng, max(HISTORY_START, husband.adult_from()))
            self._finish(husband)
            return
        married_on = self._marry(husband, wife, w_group, before_kids=kids > 0)
        joint_start = max(married_on, HISTORY_START)
        if joint_start > HISTORY_START:
            h_hist = address_history(rng, HISTORY_START, end=joint_start)
            w_hist = address_history(rng, HISTORY_START, end=joint_start)
            joint = address_history(rng, joint_start, first=h_hist[-1].address)
            husband.residences = _merge(h_hist, joint)
            wife.residences = [*w_hist, *_clip(joint, joint_start)]
        else:
            joint = address_history(rng, HISTORY_START)
            husband.residences = _clip(joint, HISTORY_START)
            wife.residences = _clip(joint, HISTORY_START)
        self._finish(husband)
        self._finish(wife)
        if kids:
            self._children(husband, wife, joint, kids, group)

    def _marry(self, husband: Person, wife: Person, w_group: str, before_kids: bool) -> date:
        """Pick the wedding date and apply any surname change; return the date."""
        rng = self.rng
        lo = max(add_years(husband.dob, 20), add_years(wife.dob, 20))
        hi = REF_DATE - timedelta(days=60)
        if before_kids:  # parents of adult children married before the children were born
            hi = min(hi, add_years(lo, 6))
        married_on = rand_date(rng, lo, hi)
        keeps = w_group == "es" and rng.random() < 0.6
        if not keeps and wife.last != husband.last and rng.random() < 0.8:
            wife.maiden = wife.last
            wife.last = husband.last
            if rng.random() < 0.06 and " " not in wife.maiden:
                wife.last = f"{wife.maiden}-{husband.last}"
            wife.married_on = married_on
            self.hard.married_name.append((wife.pid, husband.pid))
        return married_on

    def _children(
        self, father: Person, mother: Person, home: list[Residence], kids: int, group: str
    ) -> None:
        """Adult children living (or having lived) at home; maybe twins or a junior."""
        rng = self.rng
        latest = add_years(REF_DATE, -18)
        junior = rng.random() < 0.18
        twin = [i > 0 and rng.random() < 0.12 for i in range(kids)] + [False]
        last = father.last if junior else self._child_surname(father, mother, group)
        born: list[Person] = []
        for i in range(kids):
            jr = junior and i == 0
            sex = "M" if jr else rng.choice("MF")
            base = father.dob if jr else mother.dob
            dob = add_years(base, rng.randint(20, 35)) + timedelta(days=rng.randint(0, 300))
            if twin[i] and born:
                sex, dob = born[-1].sex, born[-1].dob
            if dob > latest:
                return
            first, middle = first_name(rng, sex), middle_name(rng, sex)
            # twins, triplets...: the siblings born that day
            multiples = [b for b in born if b.dob == dob] if twin[i] else []
            # parents don't name two of them one name or its forms (ELIZABETH and BETTY)
            while any(same_given_name(first, b.first) for b in multiples):
                first = first_name(rng, sex)
            if jr:
                father.middle = father.middle or first_name(rng, "M")
                first, middle = father.first, father.middle
            kid = self._person(first, middle, last, sex, dob)
            if kid is None:
                return
            self._register_child(kid, father, multiples, jr)
            kid.residences = _clip(home, max(HISTORY_START, kid.adult_from()))
            if not kid.residences:
                kid.residences = _clip(home[-1:], home[-1].start)
            if not (jr or twin[i] or twin[i + 1]) and rng.random() < 0.3:
                self._move_out(kid)
            self._finish(kid)
            born.append(kid)

    def _register_child(self, kid: Person, father: Person, twin_of: list[Person],
                        junior: bool) -> None:
        if kid.last != father.last:
            kid.compound = True
            self.hard.compound_surnames.append(kid.pid)
        if junior:
            kid.suffix = "JR"
            father.suffix = "SR" if self.rng.random() < 0.5 else ""
            self.hard.jr_sr.append((kid.pid, father.pid))
        self.hard.twins.extend((other.pid, kid.pid) for other in twin_of)

    def _child_surname(self, father: Person, mother: Person, group: str) -> str:
        own = mother.maiden or mother.last
        simple = all(" " not in x and "-" not in x for x in (own, father.last))
        if group == "es" and simple and own != father.last and self.rng.random() < 0.7:
            return f"{father.last} {own}"
        return father.last

    def _move_out(self, kid: Person) -> None:
        start = kid.residences[0].start
        when = rand_date(self.rng, start, REF_DATE)
        if when <= start:
            return
        kept = _until(kid.residences, when)
        kid.residences = [*kept, *address_history(self.rng, when)]


def _merge(before: list[Residence], joint: list[Residence]) -> list[Residence]:
    """Pre-marriage history then the joint one; the shared first address is not repeated."""
    if before and joint and before[-1].address == joint[0].address:
        last = before[-1]
        return [*before[:-1], Residence(last.address, last.start, joint[0].end), *joint[1:]]
    return [*before, *joint]


def same_given_name(a: str, b: str) -> bool:
    """Are two given names one name (equal, or a name and its nickname)?"""
    return a == b or canonical_given(a) == canonical_given(b)
