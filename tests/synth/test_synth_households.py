"""The population's hard cases are what they claim, and sources show them."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import Counter
from collections.abc import Callable

import pytest

from idgraph.normalize.names import canonical_given
from idgraph.synth.households import ChunkBuilder, same_given_name
from idgraph.synth.identifiers import IdFactory, ssn_is_valid
from idgraph.synth.population import HISTORY_START, REF_DATE, HardCases, Person, add_years
from idgraph.synth.sources_commercial import CREDIT_HEADER, PHONE_SUBSCRIBER, UTILITY
from idgraph.synth.sources_public import VOTER
from idgraph.synth.spec import SourceSpec


@pytest.fixture(scope="module")
def world() -> tuple[dict[str, Person], HardCases]:
    people, hard = ChunkBuilder(seed=21, chunk_no=0, start=0, count=6000, ids=IdFactory(21)).build()
    return {p.pid: p for p in people}, hard


def _twins(a: Person, b: Person) -> bool:
    # two names, not a name and its nickname (ELIZABETH and BETTY would be one name)
    return (a.last == b.last and a.dob == b.dob and a.sex == b.sex
            and canonical_given(a.first) != canonical_given(b.first)
            and a.ssn != b.ssn and a.residences[-1].address == b.residences[-1].address)


def _jr_sr(jr: Person, sr: Person) -> bool:
    gap = (jr.dob - sr.dob).days / 365.25
    return ((jr.first, jr.middle, jr.last) == (sr.first, sr.middle, sr.last) and jr.middle != ""
            and jr.suffix == "JR" and sr.suffix in ("", "SR") and 20 <= gap <= 36
            and jr.residences[-1].address == sr.residences[-1].address and jr.ssn != sr.ssn)


def _married(wife: Person, husband: Person) -> bool:
    assert wife.married_on is not None
    before = wife.married_on.replace(day=1) if wife.married_on.day > 1 else wife.married_on
    return (wife.maiden != "" and wife.maiden != wife.last and husband.last in wife.last
            and wife.last_at(REF_DATE) == wife.last
            and (before == wife.married_on or wife.last_at(before) == wife.maiden)
            and wife.residences[-1].address == husband.residences[-1].address)


def _namesakes(a: Person, b: Person) -> bool:
    return (a.first, a.last) == (b.first, b.last) and a.ssn != b.ssn


CASES: list[tuple[str, Callable[[Person, Person], bool], int]] = [
    # (hard-case list, invariant, minimum count in 6,000 people)
    ("twins", _twins, 20),
    ("jr_sr", _jr_sr, 40),
    ("married_name", _married, 300),
    ("namesakes", _namesakes, 20),
]


@pytest.mark.parametrize(("kind", "holds", "minimum"), CASES)
def test_hard_case_invariants(
    world: tuple[dict[str, Person], HardCases], kind: str,
    holds: Callable[[Person, Person], bool], minimum: int,
) -> None:
    people, hard = world
    pairs = getattr(hard, kind)
    assert len(pairs) >= minimum
    broken = [(a, b) for a, b in pairs if not holds(people[a], people[b])]
    assert broken == []


def test_every_two_of_triplets_are_twins() -> None:
    """Multiples born one day are twins pairwise (a third JOHN once joined the first)."""
    _, hard = ChunkBuilder(seed=5, chunk_no=0, start=0, count=30000, ids=IdFactory(5)).build()
    groups: dict[str, set[str]] = {}
    for a, b in hard.twins:
        group = groups.get(a, {a}) | groups.get(b, {b})
        for pid in group:
            groups[pid] = group
    sizes = Counter(len(g) for g in {id(g): g for g in groups.values()}.values())
    assert sizes[3] > 0  # the seed has triplets
    pairs = set(map(frozenset, hard.twins))
    for group in groups.values():
        assert all(frozenset((a, b)) in pairs for a in group for b in group if a != b)


def test_namesakes_are_strangers(world: tuple[dict[str, Person], HardCases]) -> None:
    people, hard = world
    diff_dob = [people[a].dob != people[b].dob for a, b in hard.namesakes]
    assert sum(diff_dob) >= 0.95 * len(diff_dob)


def test_compound_surnames_have_two_parts(world: tuple[dict[str, Person], HardCases]) -> None:
    people, hard = world
    assert len(hard.compound_surnames) >= 50
    assert all(len(people[p].last.split(" ")) == 2 and people[p].compound
               for p in hard.compound_surnames)


def test_every_person_is_a_consistent_adult(world: tuple[dict[str, Person], HardCases]) -> None:
    people, _ = world
    assert list(people) == [f"P{i + 1:07d}" for i in range(len(people))]
    assert len({p.ssn for p in people.values()}) == len(people)
    for p in people.values():
        assert ssn_is_valid(p.ssn)
        assert add_years(p.dob, 18) <= REF_DATE
        res = p.residences
        assert res and res[-1].end is None and res[0].start >= HISTORY_START
        for prev, nxt in itertools.pairwise(res):
            assert prev.end == nxt.start and prev.start < nxt.start
        assert p.phones and p.phones[-1][2] is None


def _rows(spec: SourceSpec, person: Person, seed: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    rng = random.Random(f"{seed}:{person.pid}")
    for _ in range(8):  # several draws: coverage is random per call
        rows.extend(spec.emit(person, rng, IdFactory(21)))
    return rows


def test_married_women_appear_under_both_surnames(
    world: tuple[dict[str, Person], HardCases],
) -> None:
    people, hard = world
    visible = [
        w for w in (people[pid] for pid, _ in hard.married_name)
        if w.married_on is not None and w.married_on > max(HISTORY_START, w.adult_from())
    ]
    both = 0
    for wife in visible[:150]:
        names = {str(r["name"]).split(",")[0] for r in _rows(CREDIT_HEADER, wife, 1)}
        both += wife.maiden in names and wife.last in names
    assert both >= 0.3 * min(len(visible), 150)


SUFFIX_CASES = [(VOTER, "SUFFIX")]


@pytest.mark.parametrize(("spec", "column"), SUFFIX_CASES)
def test_junior_suffix_sometimes_missing(
    world: tuple[dict[str, Person], HardCases], spec: SourceSpec, column: str
) -> None:
    people, hard = world
    values = [r[column] for jr, _ in hard.jr_sr for r in _rows(spec, people[jr], 2)]
    assert "JR" in values and "" in values


@pytest.mark.parametrize(("spec", "column"), [(UTILITY, "ACCOUNT_HOLDER"),
                                              (PHONE_SUBSCRIBER, "subscriber_last")])
def test_compound_surname_written_differently(
    world: tuple[dict[str, Person], HardCases], spec: SourceSpec, column: str
) -> None:
    people, hard = world
    seen: set[str] = set()
    for pid in hard.compound_surnames[:60]:
        p = people[pid]
        head, tail = p.last.split(" ")
        for r in _rows(spec, p, 3):
            text = str(r[column])
            if f"{head}-{tail}" in text:
                seen.add("hyphen")
            elif f"{head} {tail}" in text:
                seen.add("space")
            elif text.endswith(head) or f" {head} " in f" {text} ":
                seen.add("first only")
    assert {"space", "first only"} <= seen


@pytest.mark.parametrize(("a", "b", "same"), [
    ("ELIZABETH", "BETTY", True),   # a name and its nickname: never given to twins
    ("JOSE", "PEPE", True),
    ("MARY", "MARY", True),
    ("ELIZABETH", "MARY", False),
    ("MARIA", "MARTA", False),
])
def test_twins_never_get_one_name_twice(a: str, b: str, same: bool) -> None:
    assert same_given_name(a, b) is same


def test_an_email_address_belongs_to_one_person(
    world: tuple[dict[str, Person], HardCases],
) -> None:
    """Namesakes get their own mailboxes (one shared address merged two of them)."""
    people, _ = world
    one = people["P0000100"]
    # the same name, and an index the old scheme (index modulo 97 and 3) could not tell
    twin = dataclasses.replace(one, idx=one.idx + 291, pid="P0009999")
    emails = [{str(r["email"]) for r in _rows(PHONE_SUBSCRIBER, p, 3) if r["email"]}
              for p in (one, twin)]
    assert emails[0] and emails[1]
    assert emails[0].isdisjoint(emails[1])
