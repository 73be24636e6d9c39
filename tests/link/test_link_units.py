"""Table-driven unit tests: date compatibility, facts, clustering, id assignment."""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.link.cluster import ClusterInput, NodeKeys, WeakEdges, cluster
from idgraph.link.config import RuleId
from idgraph.link.constraints import (
    VIA_CONTACT,
    VIA_ID,
    Constraints,
    Dob,
    Facts,
    GivenName,
    dobs_compatible,
    record_facts,
)
from idgraph.link.ids import assign_ids, new_id

DOB_CASES: list[tuple[Dob, Dob, bool]] = [
    (("19800304", "198003", 1980), ("19800304", "198003", 1980), True),
    (("19800304", "198003", 1980), ("19800403", "198004", 1980), True),  # swap
    (("19800304", "198003", 1980), ("19800305", "198003", 1980), True),  # one digit
    (("19800304", "198003", 1980), ("19800312", "198003", 1980), False),
    (("19550304", "195503", 1955), ("19850304", "198503", 1985), False),  # generation
    ((None, None, 1980), ("19800304", "198003", 1980), True),  # year only
    ((None, None, 1980), ("19810304", "198103", 1981), True),
    ((None, None, 1980), ("19830304", "198303", 1983), True),  # last-digit slip
    ((None, None, 1980), ("19920304", "199203", 1992), False),
    ((None, "198003", 1980), ("19800304", "198003", 1980), True),  # month precision
    ((None, "198003", 1980), ("19801104", "198011", 1980), False),
    ((None, None, None), ("19800304", "198003", 1980), True),  # unknown
]


@pytest.mark.parametrize(("a", "b", "expected"), DOB_CASES)
def test_dobs_compatible(a: Dob, b: Dob, expected: bool) -> None:
    assert dobs_compatible(Dob(*a), Dob(*b)) is expected
    assert dobs_compatible(Dob(*b), Dob(*a)) is expected


NO_DOB: Dob = (None, None, None)
FACT_CASES = [
    (("111111111", None, None), ("222222222", None, None), "ssn"),
    (("111111111", None, None), ("111111112", None, None), None),  # one-digit typo
    (("111111111", None, None), ("111111111", None, None), None),
    ((None, "IL:A1", None), (None, "IL:A2", None), "dl"),
    ((None, "IL:A1", None), (None, "WI:A2", None), None),  # other issuer
    ((None, None, "JR"), (None, None, "SR"), "suffix"),
    ((None, None, "JR"), (None, None, None), "generation"),  # undated, no suffix
    ((None, None, "MD"), (None, None, "JR"), "generation"),  # MD is not generational
]


@pytest.mark.parametrize(("a", "b", "expected"), FACT_CASES)
def test_fact_conflicts(
    a: tuple[str | None, str | None, str | None],
    b: tuple[str | None, str | None, str | None],
    expected: str | None,
) -> None:
    rules = Constraints()
    fa, fb = record_facts(*a, NO_DOB, rules), record_facts(*b, NO_DOB, rules)
    assert fa.conflict(fb) == expected


Y1960: Dob = ("19600902", "196009", 1960)
# (suffix, dob, other suffix, other dob, via, expected): the generation rule
GENERATION_CASES: list[tuple[str | None, Dob, str | None, Dob, int, str | None]] = [
    ("SR", Y1960, None, NO_DOB, 0, "generation"),  # name+address alone cannot tell
    ("SR", Y1960, None, NO_DOB, VIA_CONTACT, None),  # same phone or email: fine
    ("SR", Y1960, None, NO_DOB, VIA_ID, None),
    ("SR", Y1960, None, (None, None, 1961), 0, None),  # a birth year places it
    ("SR", Y1960, None, (None, None, 1988), 0, "dob"),
    (None, Y1960, None, NO_DOB, 0, None),  # no suffix anywhere: nothing to tell apart
    ("JR", NO_DOB, None, Y1960, 0, "generation"),  # undated Jr, dated no-suffix: who?
    ("JR", NO_DOB, None, Y1960, VIA_CONTACT, None),
    ("JR", ("19880101", "198801", 1988), None, (None, None, 1988), 0, None),  # dates agree
]


@pytest.mark.parametrize(("sa", "da", "sb", "db", "via", "expected"), GENERATION_CASES)
def test_generation_rule(
    sa: str | None, da: Dob, sb: str | None, db: Dob, via: int, expected: str | None
) -> None:
    rules = Constraints()
    fa, fb = record_facts(None, None, sa, da, rules), record_facts(None, None, sb, db, rules)
    assert fa.conflict(fb, via) == expected
    assert fb.conflict(fa, via) == expected


# (given name of a, of b, via, expected): the given-name rule (twins)
NAME_CASES: list[tuple[GivenName, GivenName, int, str | None]] = [
    (("MICHAEL", "MICHAEL", "MXL", None), ("ROBERT", "ROBERT", "RBRT", "JAMES"), 0,
     "given_name"),
    (("MICHAEL", "MICHAEL", "MXL", None), ("ROBERT", "ROBERT", "RBRT", None), VIA_ID, None),
    (("MIKE", "MICHAEL", "MK", None), ("MICHAEL", "MICHAEL", "MXL", None), 0, None),
    (("MICHEAL", None, None, None), ("MICHAEL", None, None, None), 0, None),  # typo
    (("JAMES", None, None, "ROBERT"), ("ROBERT", None, None, None), 0, None),  # swapped
    (("JAAES", None, None, None), ("JAMES", None, None, None), 0, None),  # not a name: typo
    (("CHRIS", None, None, None), ("CHRISTINE", None, None, None), 0, None),  # short form
    # two real names close in letters: twins MARGARET and MARIA are two people
    (("MARGARET", None, None, None), ("MARIA", None, None, None), 0, "given_name"),
    (("MARGARET", None, None, None), ("MARIA", None, None, None), VIA_ID, None),
    # called by the middle name: JOHN W(ILLIAM) is WILLIAM JOHN, crossed both ways
    (("WILLIAM", None, None, "JOHN"), ("JOHN", None, None, "W"), 0, None),
    (("WILLIAM", None, None, "JOHN"), ("JOHN", None, None, "WILLIAM"), 0, None),
    # ... but JOHN TUAN is not: crossed half-way (twins named after each other)
    (("WILLIAM", None, None, "JOHN"), ("JOHN", None, None, "TUAN"), 0, "given_name"),
    (("JOHN", None, None, "TUAN"), ("WILLIAM", None, None, "JOHN"), 0, "given_name"),
    (("WILLIAM", None, None, "JOHN"), ("JOHN", None, None, "TUAN"), VIA_ID, None),
    (("WILLIAM", None, None, "J"), ("JOHN", None, None, "T"), 0, "given_name"),
    # a man's name and a woman's: spouses or twins, even when they sound alike
    (("PATRICK", "PATRICK", "PTRK", None), ("PATRICIA", "PATRICIA", "PTRX", None), 0,
     "given_name"),
    (("MICHAEL", "MICHAEL", "MXL", None), ("MICHELLE", "MICHELLE", "MXL", None), 0,
     "given_name"),
    (("JOSE", "JOSE", "JS", None), ("JOSEPHINE", "JOSEPHINE", "JSFN", None), 0, "given_name"),
    # ... unless one is a nickname of the other, or the name is too rare to be sure
    (("SAM", "SAMUEL", "SM", None), ("SAMANTHA", "SAMANTHA", "SMN0", None), 0, None),
    (("WILLIA", "WILLIA", "WL", None), ("WILLIAM", "WILLIAM", "WLM", None), 0, None),
]

# clusters' given names: one name of each side fits, no full names crossed half-way
JAMES, BARBARA = ("JAMES", "JAMES", "JMS", None), ("BARBARA", "BARBARA", "BRBR", None)
CLUSTER_NAME_CASES: list[tuple[set[GivenName], set[GivenName], str | None]] = [
    # a middle initial that matches a misspelt first name crosses nothing
    ({JAMES, ("JAMXS", None, None, "JOHN")}, {("JIMMY", "JAMES", "JM", "J")}, None),
    # a misspelt first name beside the same middle name
    ({BARBARA, ("BRABARA", None, None, "PATRICIA")},
     {("BARB", "BARBARA", "BRB", "PATRICIA")}, None),
    ({("JOHN", None, None, None), ("JOHN", None, None, "TUAN")},
     {("WILLIAM", None, None, "JOHN")}, "given_name"),
    ({("JOHN", None, None, None), ("JOHN", None, None, "W")},
     {("WILLIAM", None, None, "JOHN")}, None),
    # a misspelt MICHELLE sounds like MICHAEL: her cluster is still a woman's
    ({("MICHELLE", "MICHELLE", "MXL", None), ("MICHELEL", None, "MXL", "LINDA")},
     {("MICHAEL", "MICHAEL", "MXL", None)}, "given_name"),
    # CHRIS is a man's or a woman's name: CHRISTOPHER's and CHRISTINE's clusters part
    ({("CHRIS", "CHRISTOPHER", "KRS", None), ("CHRISTOPHER", "CHRISTOPHER", "KRST", None)},
     {("CHRIS", "CHRISTOPHER", "KRS", None), ("CHRISTINE", "CHRISTINE", "KRST", None)},
     "given_name"),
    # ... unless a name of one is a nickname of a name of the other
    ({("SAM", "SAMUEL", "SM", None)}, {("SAMANTHA", "SAMANTHA", "SMN0", None)}, None),
]


@pytest.mark.parametrize(("na", "nb", "expected"), CLUSTER_NAME_CASES)
def test_given_name_rule_between_clusters(
    na: set[GivenName], nb: set[GivenName], expected: str | None
) -> None:
    fa, fb = (record_facts(None, None, None, Y1960, Constraints()) for _ in (na, nb))
    fa.names, fb.names = {GivenName(*n) for n in na}, {GivenName(*n) for n in nb}
    assert fa.conflict(fb) == expected
    assert fb.conflict(fa) == expected


@pytest.mark.parametrize(("na", "nb", "via", "expected"), NAME_CASES)
def test_given_name_rule(na: GivenName, nb: GivenName, via: int, expected: str | None) -> None:
    rules = Constraints()
    fa = record_facts(None, None, None, Y1960, rules, na)
    fb = record_facts(None, None, None, Y1960, rules, nb)
    assert fa.conflict(fb, via) == expected
    off = Constraints(given_names=False)
    ga, gb = (record_facts(None, None, None, Y1960, off, n) for n in (na, nb))
    assert ga.conflict(gb) is None


def test_half_crossed_names_part_clusters_joined_by_a_bare_first_name() -> None:
    # JOHN (no middle) fits both WILLIAM JOHN and JOHN TUAN; once with one, the other
    # may not join: the two full names are crossed only half-way
    rules = Constraints()
    william, john_tuan, john = (
        record_facts(None, None, None, Y1960, rules, n)
        for n in (("WILLIAM", None, None, "JOHN"), ("JOHN", None, None, "TUAN"),
                  ("JOHN", None, None, None)))
    both = john.copy()
    both.absorb(john_tuan)
    assert both.conflict(william) == "given_name"
    assert william.conflict(both) == "given_name"
    assert john.conflict(william) is None
    labels = cluster(ClusterInput([william, john_tuan, john], [(1, 2), (0, 2)])).labels
    assert labels[1] == labels[2] != labels[0]


def test_ambiguous_record_between_jr_and_sr_is_left_alone() -> None:
    # 0: Sr (1960), 1: Jr (1988, JR); 2: undated phone record fitting both by name+address
    rules = Constraints()
    facts = [record_facts(None, None, None, Y1960, rules),
             record_facts(None, None, "JR", ("19880101", "198801", 1988), rules),
             record_facts(None, None, None, NO_DOB, rules)]
    result = cluster(ClusterInput(facts, [(0, 2), (1, 2)], [6.0, 6.0], [0, 0]))
    assert len(set(result.labels)) == 3
    assert result.refused.get("ambiguous") == 1


J88: Dob = ("19880101", "198801", 1988)
HOME = 7  # one given name + surname + address key


def _household(*others: Dob) -> list[Facts]:
    """0: a Sr born 1960 and 1: his son born 1988, then records with ``others``' dates."""
    rules = Constraints()
    return [record_facts(None, None, None, d, rules) for d in (Y1960, J88, *others)]


def test_household_homonym_bare_record_stays_alone() -> None:
    # 0: Sr (1960) and 1: son (1988, no suffix) at one address under one name; 2: a bare
    # phone record there (no birth date, suffix or identifier) fits both by name+address
    facts = _household(NO_DOB)
    plain = cluster(ClusterInput(facts, [(0, 2)], [9.0], [0]))
    assert plain.labels[0] == plain.labels[2]
    held = cluster(ClusterInput(facts, [(0, 2)], [9.0], [0], keys=NodeKeys([HOME, HOME, HOME])))
    assert len(set(held.labels)) == 3
    assert held.refused.get("homonym") == 1
    shared_phone = cluster(ClusterInput(facts, [(0, 2)], [9.0], [VIA_CONTACT],
                                        keys=NodeKeys([HOME, HOME, HOME])))
    assert shared_phone.labels[0] == shared_phone.labels[2]
    other_home = cluster(ClusterInput(facts, [(0, 2)], [9.0], [0], keys=NodeKeys([HOME, HOME, 8])))
    assert other_home.labels[0] == other_home.labels[2]


def test_held_record_does_not_join_through_a_misspelt_sibling_record() -> None:
    # 0: Sr (1960) and 1: son (1988) under one home key; 2: the son's phone record there
    # (bare: held); 3: his utility bill, given name misspelt (another key), sharing the
    # phone's number (a contact edge 2-3) and linked to the father by name and address
    facts = _household(NO_DOB, NO_DOB)
    edges, weights = [(2, 3), (0, 3)], [20.0, 9.0]
    held = cluster(ClusterInput(facts, edges, weights, [VIA_CONTACT, 0],
                                keys=NodeKeys([HOME, HOME, HOME, 8])))
    assert held.labels[0] != held.labels[2] and held.labels[0] != held.labels[3]
    assert held.labels[2] == held.labels[3]  # the son's two bare records stay together
    # the phone record under the household key, the bill tied to it by the phone
    assert held.refused.get("homonym") == 1 and held.refused.get("contacts") == 1
    # a record with a birth date is not bare: it is not held for its phone
    dated = [*facts[:3], _household(Y1960)[2]]
    kept = cluster(ClusterInput(dated, edges, weights, [VIA_CONTACT, 0],
                                keys=NodeKeys([HOME, HOME, HOME, 8])))
    assert kept.labels[0] == kept.labels[3]


# (strong edges, weak edges with weights, attached?): the attach pass
ATTACH_CASES: list[tuple[list[float], list[float], bool]] = [
    ([], [2.0, 2.0], True),  # two weak edges into one cluster add up to the threshold
    ([], [2.0], False),  # one is not enough
    ([], [2.0, -1.5], False),  # evidence against counts too
]


@pytest.mark.parametrize(("strong", "weak", "attached"), ATTACH_CASES)
def test_attach_pass(strong: list[float], weak: list[float], attached: bool) -> None:
    rules = Constraints()
    facts = [record_facts(None, None, None, Y1960, rules) for _ in range(4)]
    # 0-1-2 one cluster (strong edges); 3 links weakly to 1 and 2
    edges = [(0, 1), (1, 2)]
    weak_edges = [(3, 1), (3, 2)][: len(weak)]
    result = cluster(ClusterInput(
        facts, edges, [10.0, 10.0], [0, 0],
        weak=WeakEdges(weak_edges, weak, [0] * len(weak), min_weight=3.17)))
    assert (result.labels[3] == result.labels[0]) is attached
    assert result.attached == int(attached)


def test_attach_pass_respects_rules() -> None:
    rules = Constraints()
    facts = [record_facts("111111111", None, None, Y1960, rules),
             record_facts(None, None, None, Y1960, rules),
             record_facts("999999999", None, None, Y1960, rules)]
    result = cluster(ClusterInput(
        facts, [(0, 1)], [10.0], [0],
        weak=WeakEdges([(2, 0), (2, 1)], [3.0, 3.0], [0, 0], min_weight=3.17)))
    assert result.labels[2] != result.labels[0]


def test_rules_can_be_switched_off() -> None:
    rules = Constraints(strong_identifiers=False)
    assert record_facts("111111111", None, None, NO_DOB, rules).conflict(
        record_facts("222222222", None, None, NO_DOB, rules)) is None


def test_cluster_refuses_transitive_overmerge() -> None:
    # 0 and 2 have different SSNs; 1 looks like both and is taken by the stronger edge.
    facts = [Facts(ssns={"111111111"}), Facts(), Facts(ssns={"222222222"})]
    result = cluster(ClusterInput(facts, [(1, 2), (0, 1)]))
    assert result.labels[1] == result.labels[2] != result.labels[0]
    assert result.accepted == [True, False]
    assert result.refused == {"ssn": 1}


def test_must_link_beats_rules_not_judgements() -> None:
    judged = (RuleId.JUDGEMENT, "0")
    facts = [Facts(ssns={"111111111"}), Facts(ssns={"222222222"}), Facts({judged: "l"}),
             Facts({judged: "r"})]
    result = cluster(ClusterInput(facts, [], must_links=[(0, 1), (2, 3)]))
    assert result.labels[0] == result.labels[1]
    assert result.labels[2] != result.labels[3]
    assert result.forced == 1 and result.refused == {"judgement": 1}


ID_CASES = [
    # (old record->id, new clusters, expected ids by cluster index (None: fresh), events)
    ({"a": "P-1", "b": "P-1"}, [["a", "b"]], ["P-1"], set()),
    ({"a": "P-1"}, [["a", "b"]], ["P-1"], {("P-1", "kept")}),
    ({"a": "P-1", "b": "P-2"}, [["a", "b"]], ["P-1"], {("P-1", "merged"), ("P-2", "retired")}),
    ({"a": "P-1", "b": "P-1", "c": "P-1"}, [["a", "b"], ["c"]], ["P-1", None],
     {("P-1", "kept"), ("?", "split")}),
    ({}, [["x"]], [None], {("?", "new")}),
    # bigger overlap wins the old id
    ({"a": "P-1", "b": "P-1", "c": "P-1"}, [["a"], ["b", "c"]], [None, "P-1"],
     {("P-1", "kept"), ("?", "split")}),
]


@pytest.mark.parametrize(("old", "clusters", "expected", "events"), ID_CASES)
def test_assign_ids(
    old: dict[str, str], clusters: list[list[str]], expected: list[str | None],
    events: set[tuple[str, str]],
) -> None:
    ids, lineage = assign_ids(clusters, old)
    assert len(set(ids)) == len(ids)
    for got, want in zip(ids, expected, strict=True):
        if want is None:
            assert got.startswith("P-") and got not in old.values() and len(got) == 12
        else:
            assert got == want
    fresh = set(ids) - set(old.values())
    assert {(("?" if e.identity_id in fresh else e.identity_id), e.event)
            for e in lineage} == events


def test_new_id_is_deterministic_and_avoids_taken() -> None:
    first = new_id("dmv/1", set())
    assert new_id("dmv/1", set()) == first
    assert new_id("dmv/1", {first}) != first


def test_kin_household_holds_a_namesake_record_at_an_address_only_one_lived_at() -> None:
    # 0: Sr (1960) and 1: son (1988) share home key HOME; 2: Sr at an old address; 3: a
    # bare record with their name at that old address, linked only to 2 (the son may
    # have lived there as a child): held only when the household reaches it (kin keys)
    facts = _household(Y1960, NO_DOB)
    edges, weights = [(0, 2), (2, 3)], [12.0, 9.0]
    homes = [HOME, HOME, -1, -1]
    names, addresses = [5, 5, 5, 5], [1, 1, 2, 2]
    plain = cluster(ClusterInput(facts, edges, weights, [0, 0], keys=NodeKeys(homes)))
    assert plain.labels[3] == plain.labels[0]
    kin = cluster(ClusterInput(facts, edges, weights, [0, 0],
                               keys=NodeKeys(homes, name=names, address=addresses)))
    assert kin.labels[3] != kin.labels[0] and 3 in kin.held
    # a record with another name at that address is not the household's business
    other = cluster(ClusterInput(facts, edges, weights, [0, 0],
                                 keys=NodeKeys(homes, name=[5, 5, 5, 6], address=addresses)))
    assert other.labels[3] == other.labels[0]


def test_record_named_like_a_twin_joins_neither_twin_by_middle_name() -> None:
    # twins STEPHANIE MARY (0) and MARY R (1); MARY with no middle name (2: dated,
    # 3: her phone line) fits STEPHANIE as her middle name and her sister by first name
    rules = Constraints()
    day: Dob = ("19890103", "198901", 1989)
    names: list[GivenName] = [("STEPHANIE", "STEPHANIE", "STFN", "MARY"),
                              ("MARY", "MARY", "MR", "R"), ("MARY", "MARY", "MR", None),
                              ("MARY", "MARY", "MR", None)]
    facts = [record_facts(None, None, None, d, rules, n)
             for d, n in zip([day, day, day, NO_DOB], names, strict=True)]
    edges, weights, via = [(0, 2), (2, 3), (1, 2)], [14.0, 13.0, 4.0], [0, VIA_CONTACT, 0]
    plain = cluster(ClusterInput(facts, edges, weights, via))
    assert plain.labels[0] == plain.labels[2]  # without birth keys: the twins merged
    born = [7, 7, 7, -1]  # surname and birth date
    result = cluster(ClusterInput(facts, edges, weights, via, keys=NodeKeys(born=born)))
    assert len(set(result.labels)) == 4
    assert result.refused["middle_name"] == 2
    # without the rival twin, STEPHANIE may go by MARY
    alone = cluster(ClusterInput(facts[:1] + facts[2:], [(0, 1), (1, 2)], [14.0, 13.0],
                                 [0, VIA_CONTACT], keys=NodeKeys(born=[7, 7, -1])))
    assert len(set(alone.labels)) == 1


def test_store_secret_is_kept_beside_the_database_and_differs_per_deployment(
        tmp_path: Path) -> None:
    from idgraph.store import open_store
    a = open_store(tmp_path / "a" / "idgraph.duckdb")
    b = open_store(tmp_path / "b" / "idgraph.duckdb")
    try:
        key = a.secret("identity-ids")
        assert len(key) == 32 and a.secret("identity-ids") == key
        assert b.secret("identity-ids") != key
        kept = tmp_path / "a" / "identity-ids.key"
        assert kept.stat().st_mode & 0o077 == 0  # its owner's only
        assert a.secret("search-digest") != key  # one key per use
        with pytest.raises(ValueError):
            a.secret("../escape")
    finally:
        a.close()
        b.close()
    memory = open_store(None)
    try:
        assert memory.secret("identity-ids") == memory.secret("identity-ids")
    finally:
        memory.close()
